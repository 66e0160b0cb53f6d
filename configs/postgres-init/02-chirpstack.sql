-- Runs once, after 01-databases.sql, when the postgres container initialises an empty
-- data directory.
--
-- chirpstack: ChirpStack's own role and database (service "chirpstack" in
-- docker-compose.yml, configs/chirpstack/chirpstack.toml). ChirpStack requires the
-- pg_trgm extension for its search indexes; hstore is created as well, as ChirpStack's
-- own docker setup does. The superuser creates both, so the chirpstack role needs no
-- extra privileges.
--
-- The password is CHIRPSTACK_POSTGRES_PASSWORD from the postgres container's
-- environment. This script does not run again: to change the password later, use
-- ALTER ROLE chirpstack PASSWORD '...' as well.
\getenv chirpstack_password CHIRPSTACK_POSTGRES_PASSWORD
\if :{?chirpstack_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'CHIRPSTACK_POSTGRES_PASSWORD is not set'; END $$;
\endif

SELECT format('CREATE ROLE chirpstack LOGIN PASSWORD %L', :'chirpstack_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'chirpstack')\gexec

SELECT 'CREATE DATABASE chirpstack OWNER chirpstack'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'chirpstack')\gexec

\connect chirpstack
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS hstore;
