-- +goose Up
CREATE TABLE tenants (
    id             uuid PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    cadence_domain text NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    prefix     text NOT NULL,
    key_hash   bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE TABLE devices (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               text NOT NULL,
    transport        text NOT NULL DEFAULT 'mqtt',
    hardware_model   text NOT NULL,
    firmware_version text NOT NULL,
    labels           jsonb NOT NULL DEFAULT '{}'::jsonb,
    reported_version text NOT NULL DEFAULT '',
    battery_percent  integer,
    last_seen_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE firmware (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    version        text NOT NULL,
    hardware_model text NOT NULL,
    sha256         text NOT NULL,
    size_bytes     bigint NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, hardware_model, version)
);

-- Images are stored in fixed-size chunks so downloads stream and Range requests stay cheap.
CREATE TABLE firmware_chunks (
    firmware_id uuid NOT NULL REFERENCES firmware (id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    data        bytea NOT NULL,
    PRIMARY KEY (firmware_id, seq)
);

CREATE TABLE campaigns (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text NOT NULL,
    firmware_id  uuid NOT NULL REFERENCES firmware (id),
    state        text NOT NULL,
    state_reason text NOT NULL DEFAULT '',
    device_count integer NOT NULL,
    workflow_id  text NOT NULL DEFAULT '',
    run_id       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz
);
CREATE INDEX campaigns_tenant_created ON campaigns (tenant_id, created_at DESC);

CREATE TABLE campaign_devices (
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL,
    device_id   text NOT NULL,
    seq         integer NOT NULL,
    state       text NOT NULL,
    -- Writers only move a device forward: UPDATE ... WHERE state_rank < new rank.
    state_rank  integer NOT NULL,
    reason      text NOT NULL DEFAULT '',
    workflow_id text NOT NULL DEFAULT '',
    run_id      text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, device_id),
    UNIQUE (campaign_id, seq),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX campaign_devices_run ON campaign_devices (tenant_id, device_id, run_id);
CREATE INDEX campaign_devices_state ON campaign_devices (campaign_id, state);

CREATE TABLE device_firmware_history (
    id           bigserial PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    device_id    text NOT NULL,
    campaign_id  uuid,
    firmware_id  uuid,
    from_version text NOT NULL,
    to_version   text NOT NULL,
    outcome      text NOT NULL,
    reason       text NOT NULL DEFAULT '',
    workflow_id  text NOT NULL,
    run_id       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- One row per run: a retried update_device activity cannot write twice.
    UNIQUE (workflow_id, run_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX device_firmware_history_device ON device_firmware_history (tenant_id, device_id, created_at DESC);

-- +goose Down
DROP TABLE device_firmware_history;
DROP TABLE campaign_devices;
DROP TABLE campaigns;
DROP TABLE firmware_chunks;
DROP TABLE firmware;
DROP TABLE devices;
DROP TABLE api_keys;
DROP TABLE tenants;
