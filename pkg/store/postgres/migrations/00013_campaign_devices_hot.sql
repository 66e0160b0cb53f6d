-- +goose Up
-- A device's row is updated several times in a run (dispatch, COMMANDED, the outcome,
-- its collection). With indexes on state, every state change wrote new entries into
-- every index of the table and left a dead row version only VACUUM removes: a
-- 2,000-device benchmark campaign left 13,984 dead versions and not one heap-only
-- update, and the dispatch, collection and status queries read past them (the
-- benchmark machine's PostgreSQL runs without autovacuum). No query looks rows up by
-- state; the status aggregate reads a campaign's rows through the primary key either
-- way. Without those indexes, and with room on each page, state changes are heap-only
-- updates that PostgreSQL prunes as it goes, with or without autovacuum; only dispatch
-- and collection (run_id, acked_by) still write index entries.
DROP INDEX campaign_devices_state;
DROP INDEX campaign_devices_wave_state;
ALTER TABLE campaign_devices SET (fillfactor = 80);

-- +goose Down
ALTER TABLE campaign_devices RESET (fillfactor);
CREATE INDEX campaign_devices_wave_state ON campaign_devices (campaign_id, wave, state);
CREATE INDEX campaign_devices_state ON campaign_devices (campaign_id, state);
