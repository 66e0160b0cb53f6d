-- +goose Up
-- Each tenant's Ed25519 keys. A 'release' key signs release statements (which images
-- exist); a 'command' key signs the manifest of each UPDATE (which device installs which
-- image, now). The private key is sealed with secrets.encryption_key, bound to the tenant
-- and key id; NULL for an offline release key, whose owner signs uploads elsewhere.
-- Retired keys stay: images they signed stay verifiable. They never sign again.
CREATE TABLE signing_keys (
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The first 8 bytes of the public key's SHA-256, in hex.
    id                 text NOT NULL,
    purpose            text NOT NULL CHECK (purpose IN ('release', 'command')),
    public_key         bytea NOT NULL CHECK (length(public_key) = 32),
    private_key_sealed text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    retired_at         timestamptz,
    PRIMARY KEY (tenant_id, id),
    -- Only a release key may be offline: the control plane signs every manifest itself.
    CHECK (purpose = 'release' OR private_key_sealed IS NOT NULL)
);
-- One active key per purpose; creating one for a tenant that has none is
-- INSERT ... ON CONFLICT DO NOTHING, so replicas racing to make it agree on one.
CREATE UNIQUE INDEX signing_keys_active ON signing_keys (tenant_id, purpose) WHERE retired_at IS NULL;

-- Each image's release: its place in the model's release order and the release key's
-- signature over its statement. NULL on images uploaded before signing, which are signed
-- (in version order) the first time one of them is sent.
ALTER TABLE firmware ADD COLUMN release_counter bigint CHECK (release_counter > 0);
ALTER TABLE firmware ADD COLUMN release_signature bytea;
ALTER TABLE firmware ADD COLUMN release_key_id text;
CREATE UNIQUE INDEX firmware_release_order ON firmware (tenant_id, hardware_model, release_counter);

-- +goose Down
DROP INDEX firmware_release_order;
ALTER TABLE firmware DROP COLUMN release_key_id;
ALTER TABLE firmware DROP COLUMN release_signature;
ALTER TABLE firmware DROP COLUMN release_counter;
DROP TABLE signing_keys;
