package devicesim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/otaplane/ota/proto/manifest"
)

// maxTrustBytes bounds the answer read: a trust set is a few keys.
const maxTrustBytes = 1 << 20

// FetchTrust gets what the tenant's devices pin from the control plane
// (GET /api/v1/trust with the tenant's API key), as a provisioning step does. A device
// registered through the API gets the same in its credentials' trust field.
func FetchTrust(ctx context.Context, client *http.Client, apiURL, apiKey string) (*manifest.TrustSet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(apiURL, "/")+"/api/v1/trust", nil)
	if err != nil {
		return nil, fmt.Errorf("trust set: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("trust set: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTrustBytes))
	if err != nil {
		return nil, fmt.Errorf("trust set: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("trust set: GET /api/v1/trust answered %s: %s", resp.Status, body)
	}
	var t manifest.TrustSet
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("trust set: %w", err)
	}
	if t.TenantID == "" || len(t.Keys) == 0 {
		return nil, fmt.Errorf("trust set: the answer names no tenant or no keys")
	}
	return &t, nil
}
