package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/otaplane/ota/pkg/secretbox"
	"github.com/otaplane/ota/pkg/store"
)

// errNoSecrets: the store was opened without WithSecrets and meets a secret.
var errNoSecrets = errors.New("postgres: store opened without secrets.encryption_key; cannot seal or open API tokens")

// tokenPurpose binds a sealed token to its row: a token copied into another tenant's
// row does not open.
func tokenPurpose(tenantID string) string { return "chirpstack_settings.api_token/" + tenantID }

func (s *Store) sealToken(tenantID, token string) (string, error) {
	if s.secrets == nil {
		return "", errNoSecrets
	}
	return s.secrets.Seal([]byte(token), tokenPurpose(tenantID))
}

// openToken returns a row's token: opened when sealed, as stored when the row predates
// sealing (SealPlaintextTokens seals it at the next start-up).
func (s *Store) openToken(r chirpStackRow) (string, error) {
	if r.APITokenSealed == nil {
		return r.APIToken, nil
	}
	if s.secrets == nil {
		return "", errNoSecrets
	}
	token, err := s.secrets.Open(*r.APITokenSealed, tokenPurpose(r.TenantID))
	if errors.Is(err, secretbox.ErrOpen) {
		return "", store.ErrSecretUnreadable
	}
	if err != nil {
		return "", err
	}
	return string(token), nil
}

// SealPlaintextTokens seals every ChirpStack API token still stored in clear (rows
// written before migration 00007, or by an older binary since) and returns how many it
// sealed. Each row is sealed only if it is unchanged since it was read, so replicas
// starting together do not overwrite each other or a newer token.
func (s *Store) SealPlaintextTokens(ctx context.Context) (int, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []struct {
		TenantID string
		APIToken string
	}
	if err := s.conn(ctx).Raw(`SELECT tenant_id, api_token FROM chirpstack_settings
		WHERE api_token_sealed IS NULL AND api_token <> ''`).Scan(&rows).Error; err != nil {
		return 0, fmt.Errorf("seal chirpstack tokens: %w", classify(err))
	}
	sealed := 0
	for _, r := range rows {
		ct, err := s.sealToken(r.TenantID, r.APIToken)
		if err != nil {
			return sealed, fmt.Errorf("seal chirpstack token of tenant %s: %w", r.TenantID, err)
		}
		res := s.conn(ctx).Exec(`UPDATE chirpstack_settings SET api_token_sealed = ?, api_token = ''
			WHERE tenant_id = ? AND api_token_sealed IS NULL AND api_token = ?`, ct, r.TenantID, r.APIToken)
		if res.Error != nil {
			return sealed, fmt.Errorf("seal chirpstack token of tenant %s: %w", r.TenantID, classify(res.Error))
		}
		sealed += int(res.RowsAffected)
	}
	return sealed, nil
}
