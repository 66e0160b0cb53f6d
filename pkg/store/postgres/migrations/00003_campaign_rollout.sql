-- +goose Up
ALTER TABLE campaigns
    -- The rollout policy as the API validated it (waves, gates, abort, retry, window).
    ADD COLUMN policy jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN target_kind text NOT NULL DEFAULT 'devices' CHECK (target_kind IN ('devices', 'group', 'selector')),
    ADD COLUMN target_group_id uuid,
    ADD COLUMN target_selector text NOT NULL DEFAULT '',
    ADD COLUMN continuous boolean NOT NULL DEFAULT false;

ALTER TABLE campaign_devices
    ADD COLUMN wave integer NOT NULL DEFAULT 0,
    ADD COLUMN attempts integer NOT NULL DEFAULT 1;
CREATE INDEX campaign_devices_wave_state ON campaign_devices (campaign_id, wave, state);

-- +goose Down
DROP INDEX campaign_devices_wave_state;
ALTER TABLE campaign_devices DROP COLUMN attempts, DROP COLUMN wave;
ALTER TABLE campaigns DROP COLUMN continuous, DROP COLUMN target_selector, DROP COLUMN target_group_id,
    DROP COLUMN target_kind, DROP COLUMN policy;
