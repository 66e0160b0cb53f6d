-- +goose Up
CREATE TABLE device_groups (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('static', 'dynamic')),
    -- Canonical selector text; only dynamic groups have one.
    selector   text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name),
    -- Target of the members' foreign key, so a member row always shares its group's tenant.
    UNIQUE (tenant_id, id),
    CHECK ((kind = 'dynamic') = (selector <> ''))
);

CREATE TABLE device_group_members (
    tenant_id uuid NOT NULL,
    group_id  uuid NOT NULL,
    device_id text NOT NULL,
    PRIMARY KEY (group_id, device_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES device_groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);
-- Deleting a device looks its memberships up by device.
CREATE INDEX device_group_members_device ON device_group_members (tenant_id, device_id);

-- Serves the @> containment that selector equality terms compile to; existence and
-- negated terms filter the rows it finds.
CREATE INDEX devices_labels ON devices USING gin (labels jsonb_path_ops);

-- +goose Down
DROP INDEX devices_labels;
DROP TABLE device_group_members;
DROP TABLE device_groups;
