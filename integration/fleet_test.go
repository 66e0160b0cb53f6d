package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/pkg/store/postgres"
)

// postRaw sends a body with its own content type (imports take CSV).
func (c client) postRaw(path, contentType string, body []byte) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, apiURL+path, bytes.NewReader(body))
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", contentType)
	return c.send(req)
}

// memberIDs lists a group's members through the paged endpoint.
func (tn tenant) memberIDs(groupID string) []string {
	tn.t.Helper()
	var out []string
	after := ""
	for {
		page := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/groups/"+groupID+"/members?limit=2&after="+after, nil)
		for _, d := range page["devices"].([]any) {
			out = append(out, d.(map[string]any)["id"].(string))
		}
		after = page["next_after"].(string)
		if after == "" {
			return out
		}
	}
}

func (tn tenant) labels(deviceID string) map[string]any {
	tn.t.Helper()
	return tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+deviceID, nil)["labels"].(map[string]any)
}

func (tn tenant) deviceCount() int {
	tn.t.Helper()
	return len(tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices?limit=1000", nil)["devices"].([]any))
}

func requireField(t *testing.T, r response, field string) {
	t.Helper()
	require.Equalf(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
	e := r.Body["error"].(map[string]any)
	assert.Equalf(t, field, e["field"], "%s", r.Raw)
	assert.NotEmpty(t, e["message"])
}

func TestStaticGroupMembersAndTenantIsolation(t *testing.T) {
	a, b := newTenant(t), newTenant(t)
	a.createDevices(specs("grp", 3, "board-g", "1.0.0"))
	b.createDevices(specs("other", 1, "board-g", "1.0.0"))

	g := a.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/groups",
		map[string]any{"name": "lab bench", "kind": "static", "device_ids": []string{"grp-001"}})
	id := g["id"].(string)
	assert.Equal(t, "static", g["kind"])
	assert.EqualValues(t, 1, g["member_count"])
	assert.NotContains(t, g, "selector")

	g = a.mustDo(http.StatusOK, http.MethodPost, "/api/v1/groups/"+id+"/members",
		map[string]any{"add": []string{"grp-002", "grp-003"}, "remove": []string{"grp-001"}})
	assert.EqualValues(t, 2, g["member_count"])
	assert.Equal(t, []string{"grp-002", "grp-003"}, a.memberIDs(id))

	// Adding a member again is a no-op; one unknown id rejects the whole request.
	g = a.mustDo(http.StatusOK, http.MethodPost, "/api/v1/groups/"+id+"/members", map[string]any{"add": []string{"grp-002"}})
	assert.EqualValues(t, 2, g["member_count"])
	requireField(t, a.do(http.MethodPost, "/api/v1/groups/"+id+"/members",
		map[string]any{"add": []string{"grp-001", "ghost"}}), "add[1]")
	requireField(t, a.do(http.MethodPost, "/api/v1/groups/"+id+"/members",
		map[string]any{"add": []string{"grp-001", "other-001"}}), "add[1]")
	assert.Equal(t, []string{"grp-002", "grp-003"}, a.memberIDs(id), "rejected requests changed nothing")

	requireField(t, a.do(http.MethodPost, "/api/v1/groups", map[string]any{"name": "lab bench", "kind": "static"}), "name")
	requireField(t, a.do(http.MethodPost, "/api/v1/groups", map[string]any{"name": "x", "kind": "static",
		"device_ids": []string{"grp-001", "ghost"}}), "device_ids[1]")
	requireField(t, a.do(http.MethodPost, "/api/v1/groups", map[string]any{"name": "y", "kind": "sometimes"}), "kind")
	requireField(t, a.do(http.MethodGet, "/api/v1/groups?after=nope", nil), "after")

	list := a.mustDo(http.StatusOK, http.MethodGet, "/api/v1/groups", nil)["groups"].([]any)
	require.Len(t, list, 1, "rejected creates wrote nothing")
	assert.Equal(t, id, list[0].(map[string]any)["id"])
	got := a.mustDo(http.StatusOK, http.MethodGet, "/api/v1/groups/"+id, nil)
	assert.Equal(t, "lab bench", got["name"])

	for _, req := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/api/v1/groups/" + id, nil},
		{http.MethodGet, "/api/v1/groups/" + id + "/members", nil},
		{http.MethodPost, "/api/v1/groups/" + id + "/members", map[string]any{"add": []string{"other-001"}}},
		{http.MethodPost, "/api/v1/groups/" + id + "/members", map[string]any{"remove": []string{"grp-002"}}},
		{http.MethodDelete, "/api/v1/groups/" + id, nil},
		{http.MethodGet, "/api/v1/groups/not-a-uuid", nil},
	} {
		r := b.do(req.method, req.path, req.body)
		assert.Equalf(t, http.StatusNotFound, r.Status, "tenant B %s %s: %s", req.method, req.path, r.Raw)
	}
	assert.Empty(t, b.mustDo(http.StatusOK, http.MethodGet, "/api/v1/groups", nil)["groups"])
	assert.Equal(t, []string{"grp-002", "grp-003"}, a.memberIDs(id), "tenant B changed nothing")

	a.mustDo(http.StatusNoContent, http.MethodDelete, "/api/v1/groups/"+id, nil)
	assert.Equal(t, http.StatusNotFound, a.do(http.MethodGet, "/api/v1/groups/"+id, nil).Status)
	assert.Equal(t, http.StatusNotFound, a.do(http.MethodDelete, "/api/v1/groups/"+id, nil).Status)
	a.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/grp-002", nil) // devices outlive their groups
}

func TestDynamicGroupFollowsBulkLabels(t *testing.T) {
	tn := newTenant(t)
	for i, labels := range []map[string]string{
		{"region": "eu", "model": "x2"},
		{"region": "eu", "model": "x2", "canary": "yes"},
		{"region": "us", "model": "x2"},
		{"model": "x1"},
	} {
		tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices", map[string]any{
			"id": fmt.Sprintf("dyn-%03d", i+1), "hardware_model": "board-h", "firmware_version": "1.0.0", "labels": labels})
	}
	g := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/groups",
		map[string]any{"name": "eu x2, not canary", "kind": "dynamic", "selector": "region=eu, model=x2, !canary"})
	id := g["id"].(string)
	assert.Equal(t, "!canary,model=x2,region=eu", g["selector"], "stored in canonical form")
	assert.EqualValues(t, 1, g["member_count"])
	assert.Equal(t, []string{"dyn-001"}, tn.memberIDs(id))

	up := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/devices/bulk/labels", map[string]any{
		"device_ids": []string{"dyn-002", "dyn-003"}, "set": map[string]string{"region": "eu"}, "remove": []string{"canary"}})
	assert.EqualValues(t, 2, up["updated"])
	assert.Equal(t, []string{"dyn-001", "dyn-002", "dyn-003"}, tn.memberIDs(id))
	assert.Equal(t, map[string]any{"region": "eu", "model": "x2"}, tn.labels("dyn-003"))

	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/devices/bulk/labels", map[string]any{
		"device_ids": []string{"dyn-001"}, "set": map[string]string{"canary": "yes"}})
	assert.Equal(t, []string{"dyn-002", "dyn-003"}, tn.memberIDs(id))
	got := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/groups/"+id, nil)
	assert.EqualValues(t, 2, got["member_count"])

	r := tn.do(http.MethodPost, "/api/v1/groups/"+id+"/members", map[string]any{"add": []string{"dyn-004"}})
	requireField(t, r, "add")
	assert.Contains(t, r.Body["error"].(map[string]any)["message"], "selector")
	requireField(t, tn.do(http.MethodPost, "/api/v1/groups", map[string]any{"name": "bad", "kind": "dynamic",
		"selector": "Region=eu"}), "selector")
	requireField(t, tn.do(http.MethodPost, "/api/v1/groups", map[string]any{"name": "bad", "kind": "dynamic"}), "selector")
	requireField(t, tn.do(http.MethodPost, "/api/v1/groups", map[string]any{"name": "bad", "kind": "static",
		"selector": "region=eu"}), "selector")
}

func TestBulkLabelWithUnknownDeviceChangesNothing(t *testing.T) {
	tn := newTenant(t)
	tn.createDevices(specs("lbl", 2, "board-i", "1.0.0"))
	before := []map[string]any{tn.labels("lbl-001"), tn.labels("lbl-002")}

	tests := []struct {
		name, field string
		body        map[string]any
	}{
		{"unknown device", "device_ids[2]", map[string]any{"device_ids": []string{"lbl-001", "lbl-002", "ghost"},
			"set": map[string]string{"region": "eu"}}},
		{"bad key", "set.Region", map[string]any{"device_ids": []string{"lbl-001"}, "set": map[string]string{"Region": "eu"}}},
		{"set and remove", "remove[0]", map[string]any{"device_ids": []string{"lbl-001"},
			"set": map[string]string{"region": "eu"}, "remove": []string{"region"}}},
		{"no change", "set", map[string]any{"device_ids": []string{"lbl-001"}}},
		{"unknown field", "labels", map[string]any{"device_ids": []string{"lbl-001"}, "labels": map[string]string{"a": "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireField(t, tn.do(http.MethodPost, "/api/v1/devices/bulk/labels", tt.body), tt.field)
		})
	}
	assert.Equal(t, before, []map[string]any{tn.labels("lbl-001"), tn.labels("lbl-002")}, "no label changed")
}

func TestImportCSVWithBadRowWritesNothing(t *testing.T) {
	tn := newTenant(t)
	csv := "id,hardware_model,firmware_version,labels\n" +
		"imp-001,board-j,1.0.0,region=eu;tier=gold\n" +
		"imp-002,board-j,not-a-version,region=eu\n" +
		"imp-003,board-j,1.0.0,\n"
	r := tn.postRaw("/api/v1/devices/import", "text/csv", []byte(csv))
	requireField(t, r, "rows")
	rows := r.Body["rows"].([]any)
	require.Lenf(t, rows, 1, "%s", r.Raw)
	row := rows[0].(map[string]any)
	assert.EqualValues(t, 3, row["row"], "the header is row 1")
	assert.Equal(t, "firmware_version", row["field"])
	assert.NotEmpty(t, row["message"])
	assert.Zero(t, tn.deviceCount(), "nothing was written")

	requireField(t, tn.postRaw("/api/v1/devices/import", "text/plain", []byte(csv)), "Content-Type")

	fixed := "id,hardware_model,firmware_version,labels\n" +
		"imp-001,board-j,1.0.0,region=eu;tier=gold\n" +
		"imp-002,board-j,1.0.1,region=eu\n" +
		"imp-003,board-j,1.0.0,\n"
	r = tn.postRaw("/api/v1/devices/import", "text/csv; charset=utf-8", []byte(fixed))
	require.Equalf(t, http.StatusCreated, r.Status, "%s", r.Raw)
	assert.EqualValues(t, 3, r.Body["imported"])
	assert.Equal(t, map[string]any{"region": "eu", "tier": "gold"}, tn.labels("imp-001"))
	dev := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/imp-002", nil)
	assert.Equal(t, "1.0.1", dev["firmware_version"])
	assert.Equal(t, "mqtt", dev["transport"])
}

func TestImportThousandDevicesAsJSON(t *testing.T) {
	tn := newTenant(t)
	devices := make([]map[string]any, 1000)
	for i := range devices {
		devices[i] = map[string]any{"id": fmt.Sprintf("bulk-%04d", i), "hardware_model": "board-k",
			"firmware_version": "2.0.0", "labels": map[string]string{"batch": "b1", "shard": fmt.Sprint(i % 4)}}
	}
	body, err := json.Marshal(devices)
	require.NoError(t, err)
	r := tn.postRaw("/api/v1/devices/import", "application/json", body)
	require.Equalf(t, http.StatusCreated, r.Status, "%s", r.Raw)
	assert.EqualValues(t, 1000, r.Body["imported"])
	assert.Equal(t, 1000, tn.deviceCount())

	g := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/groups",
		map[string]any{"name": "shard 0", "kind": "dynamic", "selector": "batch=b1,shard=0"})
	assert.EqualValues(t, 250, g["member_count"])
}

func TestImportExistingDeviceNamesTheRow(t *testing.T) {
	tn := newTenant(t)
	tn.createDevices(specs("old", 1, "board-l", "1.0.0"))
	tests := []struct {
		name, contentType, body string
		row                     int
	}{
		{"csv", "text/csv", "id,hardware_model,firmware_version\nnew-001,board-l,1.0.0\nold-001,board-l,1.0.0\n", 3},
		{"json", "application/json", `[{"id":"new-001","hardware_model":"board-l","firmware_version":"1.0.0"},
			{"id":"old-001","hardware_model":"board-l","firmware_version":"1.0.0"}]`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tn.postRaw("/api/v1/devices/import", tt.contentType, []byte(tt.body))
			requireField(t, r, "rows")
			rows := r.Body["rows"].([]any)
			require.Lenf(t, rows, 1, "%s", r.Raw)
			row := rows[0].(map[string]any)
			assert.EqualValues(t, tt.row, row["row"])
			assert.Equal(t, "id", row["field"])
			assert.Contains(t, row["message"], "already exists")
			assert.Equal(t, http.StatusNotFound, tn.do(http.MethodGet, "/api/v1/devices/new-001", nil).Status,
				"nothing was written")
		})
	}
}

func TestBulkLabelOverTheLabelLimitChangesNothing(t *testing.T) {
	tn := newTenant(t)
	full := map[string]string{}
	for i := range model.MaxLabels {
		full[fmt.Sprintf("k%02d", i)] = "v"
	}
	tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices", map[string]any{
		"id": "full-001", "hardware_model": "board-m", "firmware_version": "1.0.0", "labels": full})
	tn.createDevices(specs("room", 1, "board-m", "1.0.0"))

	r := tn.do(http.MethodPost, "/api/v1/devices/bulk/labels", map[string]any{
		"device_ids": []string{"room-001", "full-001"}, "set": map[string]string{"one-more": "x"}})
	requireField(t, r, "set")
	assert.Contains(t, r.Body["error"].(map[string]any)["message"], "full-001")
	assert.NotContains(t, tn.labels("room-001"), "one-more", "the device with room was not changed either")

	// Replacing a label keeps the count.
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/devices/bulk/labels", map[string]any{
		"device_ids": []string{"full-001"}, "set": map[string]string{"one-more": "x"}, "remove": []string{"k00"}})
	assert.Len(t, tn.labels("full-001"), model.MaxLabels)
}

// TestGroupStoreResolves covers what campaigns use and HTTP does not expose.
func TestGroupStoreResolves(t *testing.T) {
	tn := newTenant(t)
	other := newTenant(t)
	st, err := postgres.Open(cfg.Database)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()

	devs := []model.Device{
		{ID: "res-003", HardwareModel: "m", FirmwareVersion: "1.0.0", Transport: model.TransportMQTT,
			Labels: map[string]string{"region": "eu"}},
		{ID: "res-001", HardwareModel: "m", FirmwareVersion: "1.0.0", Transport: model.TransportMQTT,
			Labels: map[string]string{"region": "eu", "canary": ""}},
		{ID: "res-002", HardwareModel: "m", FirmwareVersion: "1.0.0", Transport: model.TransportMQTT,
			Labels: map[string]string{"region": "us"}},
	}
	require.NoError(t, st.ImportDevices(ctx, tn.ID, devs))
	require.NoError(t, st.ImportDevices(ctx, other.ID, devs[:1]), "ids are per tenant")

	err = st.ImportDevices(ctx, tn.ID, []model.Device{
		{ID: "res-004", HardwareModel: "m", FirmwareVersion: "1.0.0", Transport: model.TransportMQTT},
		{ID: "res-002", HardwareModel: "m", FirmwareVersion: "1.0.0", Transport: model.TransportMQTT},
	})
	var rowErrs *store.RowErrors
	require.Truef(t, errors.As(err, &rowErrs), "want *store.RowErrors, got %v", err)
	assert.Equal(t, []store.RowError{{Row: 2, Field: "id", Message: `device "res-002" already exists`}}, rowErrs.Rows)
	_, err = st.GetDevice(ctx, tn.ID, "res-004")
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing of the batch was written")

	tests := []struct {
		selector string
		want     []string
	}{
		{"region=eu", []string{"res-001", "res-003"}},
		{"region!=eu", []string{"res-002"}},
		{"canary", []string{"res-001"}},
		{"!canary,region=eu", []string{"res-003"}},
		{"region=mars", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.selector, func(t *testing.T) {
			sel, err := model.ParseSelector("selector", tt.selector)
			require.NoError(t, err)
			ids, err := st.ResolveSelector(ctx, tn.ID, sel)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ids)
		})
	}

	static := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/groups",
		map[string]any{"name": "s", "kind": "static", "device_ids": []string{"res-003", "res-002"}})
	ids, err := st.ResolveGroup(ctx, tn.ID, static["id"].(string))
	require.NoError(t, err)
	assert.Equal(t, []string{"res-002", "res-003"}, ids)
	dynamic := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/groups",
		map[string]any{"name": "d", "kind": "dynamic", "selector": "region=eu"})
	ids, err = st.ResolveGroup(ctx, tn.ID, dynamic["id"].(string))
	require.NoError(t, err)
	assert.Equal(t, []string{"res-001", "res-003"}, ids)

	_, err = st.ResolveGroup(ctx, other.ID, static["id"].(string))
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.ErrorIs(t, st.AddGroupMembers(ctx, other.ID, static["id"].(string), []string{"res-003"}), store.ErrNotFound)
	var missing *store.MissingDevicesError
	require.ErrorAs(t, st.AddGroupMembers(ctx, tn.ID, static["id"].(string), []string{"res-001", "nope"}), &missing)
	assert.Equal(t, []string{"nope"}, missing.IDs)
}
