-- +goose Up
-- Which run updates a device now, or updated it last. A device run in a group has no
-- workflow id of its own for Cadence to keep unique, so every run claims its device here
-- when it checks the device, and a device whose claim another open run holds is not
-- updated twice. A claim is released in the transaction that records the run's outcome;
-- one whose run ended without recording one is released by the campaign's sweep, or
-- taken over by the next run that finds that run closed. Released rows stay: they name
-- the device's latest run for GET /devices/{id}/ota.
CREATE TABLE device_claims (
    tenant_id   uuid NOT NULL,
    device_id   text NOT NULL,
    workflow_id text NOT NULL,
    run_id      text NOT NULL,
    held        boolean NOT NULL DEFAULT true,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, device_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE device_claims;
