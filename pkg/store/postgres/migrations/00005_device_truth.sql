-- +goose Up
-- What heartbeats say about a device's health: its boot counter (or, for a device that
-- does not count, the uptime resets seen) and its latest uptime.
ALTER TABLE devices
    ADD COLUMN boot_count     bigint NOT NULL DEFAULT 0,
    ADD COLUMN uptime_seconds bigint NOT NULL DEFAULT 0;

-- The version the device last said it runs when its run ended ('' = unknown).
ALTER TABLE device_firmware_history ADD COLUMN running_version text NOT NULL DEFAULT '';

-- SOAKING (rank 7) comes between VERIFYING and ROLLING_BACK, which moves to 8.
UPDATE campaign_devices SET state_rank = 8 WHERE state = 'ROLLING_BACK';

-- The workers' persistent MQTT sessions. A worker keeps its row fresh while it lives;
-- a session whose owner is gone (row stale or stopped) is drained by another worker, so
-- what the broker queued for it is not stranded.
CREATE TABLE mqtt_sessions (
    client_id     text PRIMARY KEY,
    seen_at       timestamptz NOT NULL DEFAULT now(),
    stopped_at    timestamptz,
    claimed_by    text,
    claimed_until timestamptz
);

-- +goose Down
DROP TABLE mqtt_sessions;
UPDATE campaign_devices SET state_rank = 7 WHERE state = 'ROLLING_BACK';
UPDATE campaign_devices SET state = 'VERIFYING', state_rank = 6 WHERE state = 'SOAKING';
ALTER TABLE device_firmware_history DROP COLUMN running_version;
ALTER TABLE devices DROP COLUMN uptime_seconds, DROP COLUMN boot_count;
