-- +goose Up
-- One ChirpStack connection per tenant. The API token is a secret: the API never returns it.
CREATE TABLE chirpstack_settings (
    tenant_id            uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    api_address          text NOT NULL,
    api_token            text NOT NULL,
    chirpstack_tenant_id text NOT NULL,
    application_id       text NOT NULL,
    -- Integration events of this application belong to this tenant.
    event_encoding       text NOT NULL DEFAULT 'json' CHECK (event_encoding IN ('json', 'protobuf')),
    version_fport        integer NOT NULL DEFAULT 10 CHECK (version_fport BETWEEN 1 AND 199),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX chirpstack_settings_application ON chirpstack_settings (application_id);

-- The LoRaWAN side of a device of transport 'lorawan' (the devices row holds the rest).
CREATE TABLE lorawan_devices (
    tenant_id         uuid NOT NULL,
    device_id         text NOT NULL,
    dev_eui           text NOT NULL,
    join_eui          text NOT NULL DEFAULT '',
    device_profile_id text NOT NULL,
    application_id    text NOT NULL,
    last_uplink_at    timestamptz,
    margin            integer,
    battery_level     real,
    rssi              integer,
    snr               real,
    PRIMARY KEY (tenant_id, device_id),
    UNIQUE (tenant_id, dev_eui),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);

-- One FUOTA deployment records one history row per device in the same run.
ALTER TABLE device_firmware_history DROP CONSTRAINT device_firmware_history_workflow_id_run_id_key;
ALTER TABLE device_firmware_history ADD CONSTRAINT device_firmware_history_run_device UNIQUE (workflow_id, run_id, device_id);

-- +goose Down
ALTER TABLE device_firmware_history DROP CONSTRAINT device_firmware_history_run_device;
ALTER TABLE device_firmware_history ADD CONSTRAINT device_firmware_history_workflow_id_run_id_key UNIQUE (workflow_id, run_id);
DROP TABLE lorawan_devices;
DROP TABLE chirpstack_settings;
