-- +goose Up
-- API replicas cache the keys they authenticated and empty that cache when this channel
-- fires (store/postgres KeyListener). A NOTIFY is delivered when its transaction
-- commits, so the notification travels with the revocation, rotation or tenant change
-- itself, whoever makes it: the API, a migration or plain SQL. Statement triggers: one
-- notification per statement (and PostgreSQL folds equal ones within a transaction);
-- the payload is empty because a replica empties its whole cache either way.
-- +goose StatementBegin
CREATE FUNCTION notify_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ota_key_changes', '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER api_keys_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_key_change();
CREATE TRIGGER tenants_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION notify_key_change();

-- +goose Down
DROP TRIGGER tenants_notify_change ON tenants;
DROP TRIGGER api_keys_notify_change ON api_keys;
DROP FUNCTION notify_key_change();
