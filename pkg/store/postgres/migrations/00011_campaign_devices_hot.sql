-- +goose Up
-- A device's row is updated several times in a run (wave, dispatch, COMMANDED, the
-- outcome, its collection). With an index on state, every state change wrote new
-- entries into every index of the table and left a dead row version only VACUUM
-- removes: a 2,000-device benchmark campaign left 13,984 dead versions and not one
-- heap-only update, and the collection, dispatch and status queries read past them.
-- No query looks rows up by state, so without that index (and with room on each page)
-- state changes are heap-only updates, which PostgreSQL prunes as it goes, with or
-- without autovacuum.
DROP INDEX campaign_devices_state;
ALTER TABLE campaign_devices SET (fillfactor = 80);

-- +goose Down
ALTER TABLE campaign_devices RESET (fillfactor);
CREATE INDEX campaign_devices_state ON campaign_devices (campaign_id, state);
