package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/secretbox"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/pkg/store/postgres"
)

// requireBadInput: a 400 naming field, never a 500.
func requireBadInput(t *testing.T, r response, field string) {
	t.Helper()
	require.Equalf(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
	e := errorOf(r)
	assert.Equal(t, "invalid_argument", e["code"], "%s", r.Raw)
	assert.Equal(t, field, e["field"], "%s", r.Raw)
	assert.NotEmpty(t, e["message"])
}

// TestInputThatOnceAnswered500 sends the three inputs that answered 500 on the real
// stack, and siblings of each: every one is a 400 naming the field, and nothing is
// written.
func TestInputThatOnceAnswered500(t *testing.T) {
	tn := newTenant(t)
	fw := tn.uploadFirmware("1.1.0", "bad-input-board", image(10))
	tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices",
		map[string]any{"id": "bi-1", "hardware_model": "bad-input-board", "firmware_version": "1.0.0"})

	t.Run("maintenance window cron with a TZ prefix", func(t *testing.T) {
		for _, cron := range []string{"TZ=UTC", "CRON_TZ=", "CRON_TZ=UTC 0 2 * * *", "@every 1h", "0 0 30 2 *"} {
			r := tn.do(http.MethodPost, "/api/v1/ota/campaigns", map[string]any{"name": "window", "firmware_id": fw["id"],
				"device_ids": []string{"bi-1"}, "rollout": map[string]any{"maintenance_window": map[string]any{
					"cron": cron, "duration": "1h", "time_zone": "UTC"}}})
			requireBadInput(t, r, "rollout.maintenance_window.cron")
		}
		list := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/ota/campaigns", nil)
		assert.Empty(t, list["campaigns"], "no campaign was created")
	})

	t.Run("paging cursor that does not parse", func(t *testing.T) {
		for _, path := range []string{"/api/v1/firmware?after=x", "/api/v1/ota/campaigns?after=x", "/api/v1/groups?after=x",
			"/api/v1/firmware?after=urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8", "/api/v1/devices?after=%00",
			"/api/v1/devices?after=%ff", "/api/v1/lorawan/devices?after=%00"} {
			requireBadInput(t, tn.do(http.MethodGet, path, nil), "after")
		}
		requireBadInput(t, tn.do(http.MethodGet, "/api/v1/firmware?limit=x", nil), "limit")
		requireBadInput(t, tn.do(http.MethodGet, "/api/v1/devices/%00", nil), "id")
		page := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/firmware?after=00000000-0000-0000-0000-000000000000", nil)
		assert.Len(t, page["firmware"], 1, "a well-formed cursor still pages")
	})

	t.Run("NUL in a label value", func(t *testing.T) {
		r := tn.do(http.MethodPost, "/api/v1/devices", map[string]any{"id": "bi-2", "hardware_model": "bad-input-board",
			"firmware_version": "1.0.0", "labels": map[string]string{"site": "north\x00"}})
		requireBadInput(t, r, "labels.site")
		tn.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/devices/bi-2", nil)

		r = tn.do(http.MethodPost, "/api/v1/devices/bulk/labels", map[string]any{"device_ids": []string{"bi-1"},
			"set": map[string]string{"site": "\x00"}})
		requireBadInput(t, r, "set.site")
		r = tn.do(http.MethodPost, "/api/v1/groups", map[string]any{"name": "g\x00", "kind": "static"})
		requireBadInput(t, r, "name")
		r = tn.do(http.MethodPost, "/api/v1/ota/campaigns", map[string]any{"name": "sel", "firmware_id": fw["id"],
			"selector": "site=\x00"})
		requireBadInput(t, r, "selector")

		req, err := http.NewRequest(http.MethodPost, apiURL+"/api/v1/devices/import",
			strings.NewReader("id,hardware_model,firmware_version,labels\nbi-3,bad-input-board,1.0.0,site=a\x00b\n"))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tn.key)
		req.Header.Set("Content-Type", "text/csv")
		requireBadInput(t, tn.send(req), "rows")
		tn.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/devices/bi-3", nil)

		d := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/bi-1", nil)
		assert.Empty(t, d["labels"], "unchanged")
	})
}

// TestStoreRefusesWhatPostgresCannotHold: the store's answer to a value PostgreSQL
// refuses is ErrInvalidInput (the API's 400), for writes and for lookups alike.
func TestStoreRefusesWhatPostgresCannotHold(t *testing.T) {
	tn := newTenant(t)
	box, err := secretbox.New(cfg.Secrets.EncryptionKey)
	require.NoError(t, err)
	st, err := postgres.Open(cfg.Database, postgres.WithSecrets(box))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()

	_, err = st.CreateDevice(ctx, model.Device{TenantID: tn.ID, ID: "nul-1", Transport: model.TransportMQTT,
		HardwareModel: "m", FirmwareVersion: "1.0.0", Labels: map[string]string{"k": "a\x00b"}})
	assert.ErrorIs(t, err, store.ErrInvalidInput)
	_, err = st.GetDevice(ctx, tn.ID, "a\x00b")
	assert.ErrorIs(t, err, store.ErrInvalidInput)
	_, err = st.ListFirmware(ctx, tn.ID, store.Page{After: "x", Limit: 10})
	assert.ErrorIs(t, err, store.ErrInvalidInput)
	_, err = st.GetDevice(ctx, tn.ID, "nul-1")
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing was written")
}
