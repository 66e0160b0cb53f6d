package httpapi

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

// as calls the API with another key of the same tenant.
func (a postgresAPI) as(t *testing.T, key string) signingAPI {
	return signingAPI{t: t, h: a.h, key: key, tenant: a.tenant}
}

func (a postgresAPI) newKey(t *testing.T, name, role string) app.IssuedKey {
	t.Helper()
	return decode[app.IssuedKey](t, a.as(t, a.key).do(http.MethodPost, "/keys",
		map[string]string{"name": name, "role": role}), http.StatusCreated)
}

type forbiddenAnswer struct {
	Error errorBody `json:"error"`
	Rule  string    `json:"rule"`
}

func TestKeysCreateListAndRoles(t *testing.T) {
	a := newPostgresAPI(t)
	adminCall := a.as(t, a.key)

	op := a.newKey(t, "ci", "operator")
	assert.Equal(t, "operator", op.Role.String())
	assert.Regexp(t, `^ota_[0-9a-f]{48}$`, op.Secret)
	assert.Equal(t, op.Secret[:8], op.Prefix)
	viewer := a.newKey(t, "dashboard", "viewer")

	listed := decode[struct {
		Keys []map[string]any `json:"keys"`
	}](t, adminCall.do(http.MethodGet, "/keys", nil), http.StatusOK)
	require.Len(t, listed.Keys, 3)
	for _, k := range listed.Keys {
		assert.NotContains(t, k, "secret")
		assert.NotContains(t, k, "hash")
		assert.Equal(t, "active", k["state"])
	}

	// A viewer reads and cannot write; an operator cannot manage keys.
	decode[map[string]any](t, a.as(t, viewer.Secret).do(http.MethodGet, "/devices", nil), http.StatusOK)
	refused := decode[forbiddenAnswer](t, a.as(t, viewer.Secret).do(http.MethodPost, "/devices",
		map[string]string{"id": "d1", "hardware_model": "m", "firmware_version": "1.0.0"}), http.StatusForbidden)
	assert.Equal(t, "role", refused.Rule)
	decode[forbiddenAnswer](t, a.as(t, op.Secret).do(http.MethodPost, "/keys",
		map[string]string{"name": "x", "role": "viewer"}), http.StatusForbidden)
	// allow_downgrade is an admin override even on an operator route.
	down := decode[forbiddenAnswer](t, a.as(t, op.Secret).do(http.MethodPut, "/devices/d1/ota/update",
		map[string]any{"firmware_id": someUUID, "allow_downgrade": true}), http.StatusForbidden)
	assert.Equal(t, "allow_downgrade", down.Error.Field)

	whoami := decode[struct {
		Key struct {
			ID, Role string
		} `json:"key"`
	}](t, a.as(t, op.Secret).do(http.MethodGet, "/tenant", nil), http.StatusOK)
	assert.Equal(t, op.ID, whoami.Key.ID)
	assert.Equal(t, "operator", whoami.Key.Role)
}

func TestKeyRequestsNameTheBadField(t *testing.T) {
	a := newPostgresAPI(t)
	call := a.as(t, a.key)
	victim := a.newKey(t, "victim", "viewer")
	for _, tt := range []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"unknown role", http.MethodPost, "/keys", map[string]any{"name": "k", "role": "root"}, "role"},
		{"no name", http.MethodPost, "/keys", map[string]any{"role": "viewer"}, "name"},
		{"expiry in the past", http.MethodPost, "/keys", map[string]any{"name": "k", "role": "viewer",
			"expires_at": time.Now().Add(-time.Hour)}, "expires_at"},
		{"expiry not a time", http.MethodPost, "/keys", map[string]any{"name": "k", "role": "viewer", "expires_at": 5}, "expires_at"},
		{"unknown field", http.MethodPost, "/keys", map[string]any{"name": "k", "role": "viewer", "secret": "s"}, "secret"},
		{"grace not a duration", http.MethodPost, "/keys/" + victim.ID + "/rotate", map[string]any{"grace": "soon"}, "grace"},
		{"grace negative", http.MethodPost, "/keys/" + victim.ID + "/rotate", map[string]any{"grace": "-1s"}, "grace"},
		{"grace too long", http.MethodPost, "/keys/" + victim.ID + "/rotate", map[string]any{"grace": "8760h"}, "grace"},
		{"settings without four_eyes", http.MethodPut, "/settings", map[string]any{}, "four_eyes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := decode[errorAnswer](t, call.do(tt.method, tt.path, tt.body), http.StatusBadRequest)
			assert.Equal(t, tt.field, got.Error.Field)
		})
	}
	decode[errorAnswer](t, call.do(http.MethodPost, "/keys/"+someUUID+"/rotate", nil), http.StatusNotFound)
	decode[errorAnswer](t, call.do(http.MethodDelete, "/keys/not-a-uuid", nil), http.StatusNotFound)
	// Nothing above changed a key: the victim still works, once.
	decode[map[string]any](t, a.as(t, victim.Secret).do(http.MethodGet, "/tenant", nil), http.StatusOK)
}

func TestKeyRotationGrace(t *testing.T) {
	a := newPostgresAPI(t)
	call := a.as(t, a.key)
	long := a.newKey(t, "long grace", "operator")
	rotated := decode[app.RotatedKey](t, call.do(http.MethodPost, "/keys/"+long.ID+"/rotate",
		map[string]string{"grace": "1h"}), http.StatusOK)
	assert.Equal(t, "grace", rotated.Previous.State.String())
	assert.Equal(t, rotated.Key.ID, rotated.Previous.RotatedTo)
	assert.Equal(t, "operator", rotated.Key.Role.String())
	assert.Equal(t, long.Name, rotated.Key.Name)
	decode[map[string]any](t, a.as(t, long.Secret).do(http.MethodGet, "/tenant", nil), http.StatusOK)
	decode[map[string]any](t, a.as(t, rotated.Key.Secret).do(http.MethodGet, "/tenant", nil), http.StatusOK)
	// A key in its grace cannot be rotated again.
	decode[errorAnswer](t, call.do(http.MethodPost, "/keys/"+long.ID+"/rotate", nil), http.StatusConflict)

	none := a.newKey(t, "no grace", "viewer")
	now := decode[app.RotatedKey](t, call.do(http.MethodPost, "/keys/"+none.ID+"/rotate",
		map[string]string{"grace": "0s"}), http.StatusOK)
	decode[errorAnswer](t, a.as(t, none.Secret).do(http.MethodGet, "/tenant", nil), http.StatusUnauthorized)
	decode[map[string]any](t, a.as(t, now.Key.Secret).do(http.MethodGet, "/tenant", nil), http.StatusOK)
}

func TestKeyRevocation(t *testing.T) {
	a := newPostgresAPI(t)
	call := a.as(t, a.key)
	viewer := a.newKey(t, "viewer", "viewer")
	revoked := decode[app.KeyView](t, call.do(http.MethodDelete, "/keys/"+viewer.ID, nil), http.StatusOK)
	assert.Equal(t, "revoked", revoked.State.String())
	decode[errorAnswer](t, a.as(t, viewer.Secret).do(http.MethodGet, "/tenant", nil), http.StatusUnauthorized)

	// The last active admin stays; with a second admin the first can go.
	last := decode[forbiddenAnswer](t, call.do(http.MethodDelete, "/keys/"+a.keyID, nil), http.StatusForbidden)
	assert.Equal(t, "last_admin", last.Rule)
	second := a.newKey(t, "second admin", "admin")
	decode[app.KeyView](t, a.as(t, second.Secret).do(http.MethodDelete, "/keys/"+a.keyID, nil), http.StatusOK)
	decode[errorAnswer](t, call.do(http.MethodGet, "/tenant", nil), http.StatusUnauthorized)
	decode[forbiddenAnswer](t, a.as(t, second.Secret).do(http.MethodDelete, "/keys/"+second.ID, nil), http.StatusForbidden)
}

type auditPage struct {
	Entries    []store.AuditEntry `json:"entries"`
	NextBefore int64              `json:"next_before"`
}

func TestAuditRecordsEveryWriteWithItsActor(t *testing.T) {
	a := newPostgresAPI(t)
	call := a.as(t, a.key)
	op := a.newKey(t, "operator", "operator")
	viewer := a.newKey(t, "viewer", "viewer")
	opCall, viewerCall := a.as(t, op.Secret), a.as(t, viewer.Secret)

	group := decode[model.Group](t, opCall.do(http.MethodPost, "/groups", map[string]any{"name": "lab", "kind": "static"}), http.StatusCreated)
	decode[errorAnswer](t, opCall.do(http.MethodPost, "/groups", map[string]any{"name": "lab", "kind": "static"}), http.StatusBadRequest)
	decode[forbiddenAnswer](t, viewerCall.do(http.MethodPost, "/groups", map[string]any{"name": "lab2", "kind": "static"}), http.StatusForbidden)

	all := decode[auditPage](t, viewerCall.do(http.MethodGet, "/audit", nil), http.StatusOK)
	require.Len(t, all.Entries, 5, "two key creations, a group, a refused duplicate, a refused viewer")
	newest := all.Entries[0]
	assert.Equal(t, viewer.ID, newest.ActorKeyID)
	assert.Equal(t, "viewer", newest.ActorName)
	assert.Equal(t, store.AuditRefused, newest.Result)
	assert.Equal(t, http.StatusForbidden, newest.Status)
	assert.Equal(t, "group.create", newest.Action)
	assert.Equal(t, "POST /api/v1/groups", newest.Route)
	assert.JSONEq(t, `{"body":{"kind":"static","name":"lab2"}}`, string(newest.Summary))

	created := decode[auditPage](t, viewerCall.do(http.MethodGet, "/audit?action=group.create&actor="+op.ID, nil), http.StatusOK)
	require.Len(t, created.Entries, 2)
	assert.Equal(t, store.AuditRefused, created.Entries[0].Result)
	assert.Equal(t, store.AuditSucceeded, created.Entries[1].Result)
	assert.Equal(t, []string{group.ID}, created.Entries[1].TargetIDs)

	byTarget := decode[auditPage](t, viewerCall.do(http.MethodGet, "/audit?target="+op.ID, nil), http.StatusOK)
	require.Len(t, byTarget.Entries, 1)
	assert.Equal(t, "key.create", byTarget.Entries[0].Action)
	assert.Equal(t, a.keyID, byTarget.Entries[0].ActorKeyID)
	assert.JSONEq(t, `{"body":{"name":"operator","role":"operator"}}`, string(byTarget.Entries[0].Summary))

	// Keyset paging: one at a time, newest first, to the end.
	var ids []int64
	for before := int64(0); ; {
		q := "/audit?limit=2"
		if before > 0 {
			q += "&before=" + itoa(before)
		}
		page := decode[auditPage](t, call.do(http.MethodGet, q, nil), http.StatusOK)
		for _, e := range page.Entries {
			ids = append(ids, e.ID)
		}
		if page.NextBefore == 0 {
			break
		}
		before = page.NextBefore
	}
	require.Len(t, ids, 5)
	for i := 1; i < len(ids); i++ {
		assert.Less(t, ids[i], ids[i-1])
	}

	future := decode[auditPage](t, call.do(http.MethodGet, "/audit?from="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), nil), http.StatusOK)
	assert.Empty(t, future.Entries)
	for q, field := range map[string]string{"from=yesterday": "from", "to=1": "to", "actor=me": "actor",
		"before=-1": "before", "limit=0": "limit", "colour=red": "colour", "action=a&action=b": "action"} {
		got := decode[errorAnswer](t, call.do(http.MethodGet, "/audit?"+q, nil), http.StatusBadRequest)
		assert.Equal(t, field, got.Error.Field, q)
	}
}

func TestFourEyes(t *testing.T) {
	a := newPostgresAPI(t)
	call := a.as(t, a.key)
	op := a.newKey(t, "operator", "operator")
	opCall := a.as(t, op.Secret)

	decode[map[string]any](t, opCall.do(http.MethodPost, "/devices",
		map[string]string{"id": "fe-1", "hardware_model": "board-k", "firmware_version": "0.9.0"}), http.StatusCreated)
	fw := decode[model.Firmware](t, opCall.upload("1.0.0", []byte("four eyes image"), nil), http.StatusCreated)
	camp := decode[model.Campaign](t, opCall.do(http.MethodPost, "/ota/campaigns", map[string]any{"name": "fe",
		"firmware_id": fw.ID, "device_ids": []string{"fe-1"}}), http.StatusCreated)
	assert.Equal(t, op.ID, camp.CreatedByKey)

	decode[forbiddenAnswer](t, opCall.do(http.MethodPut, "/settings", map[string]bool{"four_eyes": true}), http.StatusForbidden)
	on := decode[settingsView](t, call.do(http.MethodPut, "/settings", map[string]bool{"four_eyes": true}), http.StatusOK)
	assert.True(t, on.FourEyes)

	for _, action := range []string{"execute", "approve"} {
		got := decode[forbiddenAnswer](t, opCall.do(http.MethodPost, "/ota/campaigns/"+camp.ID+"/"+action, nil), http.StatusForbidden)
		assert.Equal(t, "four_eyes", got.Rule, action)
		assert.Contains(t, got.Error.Message, "different API key", action)
	}
	refusals := decode[auditPage](t, call.do(http.MethodGet, "/audit?action=campaign.execute&target="+camp.ID, nil), http.StatusOK)
	require.Len(t, refusals.Entries, 1)
	assert.Equal(t, store.AuditRefused, refusals.Entries[0].Result)
	assert.Equal(t, op.ID, refusals.Entries[0].ActorKeyID)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
