-- +goose Up
-- ChirpStack API tokens are kept sealed (AES-256-GCM under secrets.encryption_key, bound
-- to the tenant) in api_token_sealed; api_token keeps '' once a row is sealed. SQL cannot
-- seal: the key is configuration and never reaches the database. So the api and the
-- workers seal every token still in clear right after applying the migrations
-- (Store.SealPlaintextTokens, at start-up or in `ota-api migrate`), and the store reads
-- either form until then: rows written by an older binary during a rolling upgrade are
-- sealed at the next start-up.
ALTER TABLE chirpstack_settings ADD COLUMN api_token_sealed text;
ALTER TABLE chirpstack_settings ALTER COLUMN api_token SET DEFAULT '';

-- +goose Down
-- The database cannot unseal either: tokens sealed since are dropped and must be saved
-- again (PUT /api/v1/lorawan/settings with api_token).
ALTER TABLE chirpstack_settings ALTER COLUMN api_token DROP DEFAULT;
ALTER TABLE chirpstack_settings DROP COLUMN api_token_sealed;
