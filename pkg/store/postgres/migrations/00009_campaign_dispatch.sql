-- +goose Up
-- A campaign that dispatches its device runs in batches learns their outcomes from these
-- rows instead of waiting on each run. acked_by is NULL for a device not dispatched that
-- way (yet, or by a campaign of the child-workflow kind), '' once dispatched, and the id
-- of the collection that took its outcome afterwards: a repeated collection with the same
-- id returns the same devices, so an outcome is counted exactly once.
ALTER TABLE campaign_devices ADD COLUMN acked_by text;
-- Only dispatched rows are indexed: the in-flight and finished-but-uncollected devices of
-- a campaign are found without reading the ones still waiting.
CREATE INDEX campaign_devices_dispatched ON campaign_devices (campaign_id, acked_by) WHERE acked_by IS NOT NULL;

-- +goose Down
DROP INDEX campaign_devices_dispatched;
ALTER TABLE campaign_devices DROP COLUMN acked_by;
