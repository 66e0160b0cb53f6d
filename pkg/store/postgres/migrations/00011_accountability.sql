-- +goose Up
-- Roles: 1 viewer, 2 operator, 3 admin (pkg/access). Keys made before roles existed were
-- all-powerful, so they stay admin.
ALTER TABLE api_keys
    ADD COLUMN name       text NOT NULL DEFAULT 'first key',
    ADD COLUMN role       smallint NOT NULL DEFAULT 3 CHECK (role BETWEEN 1 AND 3),
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN rotated_at timestamptz,
    ADD COLUMN rotated_to uuid REFERENCES api_keys (id);
ALTER TABLE api_keys ALTER COLUMN name DROP DEFAULT, ALTER COLUMN role DROP DEFAULT;
CREATE INDEX api_keys_tenant_created ON api_keys (tenant_id, created_at, id);

ALTER TABLE tenants ADD COLUMN four_eyes boolean NOT NULL DEFAULT false;

-- The key that created a campaign, for the four-eyes rule (NULL: made before keys were
-- tracked).
ALTER TABLE campaigns ADD COLUMN created_by_key uuid;

-- Who did what. No foreign key to tenants: the log outlives what it describes.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_key_id uuid,
    actor_name   text NOT NULL,
    workflow_id  text NOT NULL DEFAULT '',
    run_id       text NOT NULL DEFAULT '',
    action       text NOT NULL,
    route        text NOT NULL DEFAULT '',
    target_ids   text[] NOT NULL DEFAULT '{}',
    summary      jsonb NOT NULL DEFAULT '{}'::jsonb,
    result       text NOT NULL,
    status       integer NOT NULL DEFAULT 0
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);
CREATE INDEX audit_log_tenant_actor ON audit_log (tenant_id, actor_key_id, id);
CREATE INDEX audit_log_tenant_action ON audit_log (tenant_id, action, id);
CREATE INDEX audit_log_targets ON audit_log USING gin (target_ids);

-- Append-only, whoever connects: rows can be added, never changed or removed.
-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
-- Where the application connects as its own role, that role cannot even try.
-- +goose StatementBegin
DO $$
BEGIN
    IF current_user <> 'postgres' THEN
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM %I', current_user);
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
ALTER TABLE campaigns DROP COLUMN created_by_key;
ALTER TABLE tenants DROP COLUMN four_eyes;
DROP INDEX api_keys_tenant_created;
ALTER TABLE api_keys DROP COLUMN rotated_to, DROP COLUMN rotated_at, DROP COLUMN expires_at,
    DROP COLUMN role, DROP COLUMN name;
