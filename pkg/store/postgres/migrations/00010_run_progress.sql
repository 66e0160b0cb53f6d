-- +goose Up
-- The progress a device reports on a quiet update command (otaflow.QuietProgress): the
-- report consumer records it here instead of signaling the run, GET /devices/{id}/ota
-- reads it beside the run's own state, and the run reads it when its device seems
-- silent. One row per device, for its latest such command.
CREATE TABLE device_run_progress (
    tenant_id        uuid NOT NULL,
    device_id        text NOT NULL,
    command_id       text NOT NULL,
    state            text NOT NULL,
    state_rank       integer NOT NULL,
    progress_percent integer NOT NULL DEFAULT 0,
    downloading_at   timestamptz,
    installing_at    timestamptz,
    heard_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, device_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE device_run_progress;
