-- Runs once, when the postgres container initialises an empty data directory
-- (files in /docker-entrypoint-initdb.d are skipped on later starts).
--
-- ota: the control plane's own database (tenants, devices, firmware, campaigns).
-- Cadence's databases are not created here: its auto-setup image creates "cadence"
-- and "cadence_visibility" and their schemas itself with cadence-sql-tool.
SELECT 'CREATE DATABASE ota'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ota')\gexec
