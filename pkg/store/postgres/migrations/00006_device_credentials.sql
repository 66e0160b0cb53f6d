-- +goose Up
-- Each MQTT device's broker credentials, one row per generation. Only the SHA-256 of the
-- password is kept: the password is 192 random bits, shown to the operator once. The
-- broker's authentication plugin reads this table (rows changed since it last looked),
-- so rows are never deleted: a deleted device's rows stay, REVOKED, and its generations
-- are never reused.
CREATE TABLE device_credentials (
    tenant_id       uuid NOT NULL,
    device_id       text NOT NULL,
    generation      integer NOT NULL,
    username        text NOT NULL UNIQUE,
    password_sha256 bytea NOT NULL,
    -- ACTIVE or REVOKED. An ACTIVE generation stops working at retire_at (set when a
    -- rotation replaced it).
    state           text NOT NULL,
    retire_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    ended_at        timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, device_id, generation)
);
CREATE INDEX device_credentials_changes ON device_credentials (updated_at);

-- +goose Down
DROP TABLE device_credentials;
