package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

// fakeFleet records writes; reads answer from its fields.
type fakeFleet struct {
	store.FleetStore // unexpected calls panic

	groups   map[string]model.Group
	devices  map[string]bool
	created  []model.Group
	added    [][]string
	removed  [][]string
	labelled int
	imported []model.Device
}

var _ store.FleetStore = (*fakeFleet)(nil)

func newFakeFleet(devices ...string) *fakeFleet {
	f := &fakeFleet{groups: map[string]model.Group{}, devices: map[string]bool{}}
	for _, d := range devices {
		f.devices[d] = true
	}
	return f
}

func (f *fakeFleet) missing(ids []string) error {
	var out []string
	for _, id := range ids {
		if !f.devices[id] {
			out = append(out, id)
		}
	}
	if len(out) > 0 {
		return &store.MissingDevicesError{IDs: out}
	}
	return nil
}

func (f *fakeFleet) CreateGroup(_ context.Context, g model.Group, ids []string) (model.Group, error) {
	for _, other := range f.groups {
		if other.Name == g.Name {
			return model.Group{}, fmt.Errorf("create group: %w", store.ErrConflict)
		}
	}
	if err := f.missing(ids); err != nil {
		return model.Group{}, err
	}
	g.MemberCount = len(ids)
	f.groups[g.ID] = g
	f.created = append(f.created, g)
	return g, nil
}

func (f *fakeFleet) GetGroup(_ context.Context, tenantID, id string) (model.Group, error) {
	g, ok := f.groups[id]
	if !ok || g.TenantID != tenantID {
		return model.Group{}, fmt.Errorf("get group: %w", store.ErrNotFound)
	}
	return g, nil
}

func (f *fakeFleet) AddGroupMembers(_ context.Context, _, _ string, ids []string) error {
	if err := f.missing(ids); err != nil {
		return err
	}
	f.added = append(f.added, ids)
	return nil
}

func (f *fakeFleet) RemoveGroupMembers(_ context.Context, _, _ string, ids []string) error {
	f.removed = append(f.removed, ids)
	return nil
}

func (f *fakeFleet) LabelDevices(_ context.Context, _ string, ids []string, _ map[string]string, _ []string) error {
	if err := f.missing(ids); err != nil {
		return err
	}
	f.labelled += len(ids)
	return nil
}

func (f *fakeFleet) ExistingDevices(_ context.Context, _ string, ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		if f.devices[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

func (f *fakeFleet) ImportDevices(_ context.Context, _ string, ds []model.Device) error {
	f.imported = append(f.imported, ds...)
	return nil
}

var tenantA = model.Tenant{ID: "11111111-1111-1111-1111-111111111111", Name: "a"}

func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var fe *model.FieldError
	require.Truef(t, errors.As(err, &fe), "want *model.FieldError, got %v", err)
	return fe.Field
}

func TestCreateGroupRejects(t *testing.T) {
	tests := []struct {
		name  string
		group NewGroup
		field string
	}{
		{"no name", NewGroup{Kind: model.GroupStatic}, "name"},
		{"no kind", NewGroup{Name: "g"}, "kind"},
		{"bad kind", NewGroup{Name: "g", Kind: "smart"}, "kind"},
		{"dynamic without selector", NewGroup{Name: "g", Kind: model.GroupDynamic}, "selector"},
		{"dynamic bad selector", NewGroup{Name: "g", Kind: model.GroupDynamic, Selector: "Region=eu"}, "selector"},
		{"dynamic with devices", NewGroup{Name: "g", Kind: model.GroupDynamic, Selector: "region=eu",
			DeviceIDs: []string{"d1"}}, "device_ids"},
		{"static with selector", NewGroup{Name: "g", Kind: model.GroupStatic, Selector: "region=eu"}, "selector"},
		{"bad device id", NewGroup{Name: "g", Kind: model.GroupStatic, DeviceIDs: []string{"d1", "a/b"}}, "device_ids[1]"},
		{"duplicate device", NewGroup{Name: "g", Kind: model.GroupStatic, DeviceIDs: []string{"d1", "d1"}}, "device_ids[1]"},
		{"unknown device", NewGroup{Name: "g", Kind: model.GroupStatic, DeviceIDs: []string{"d1", "ghost"}}, "device_ids[1]"},
		{"taken name", NewGroup{Name: "taken", Kind: model.GroupStatic}, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeFleet("d1")
			st.groups["x"] = model.Group{ID: "x", TenantID: tenantA.ID, Name: "taken", Kind: model.GroupStatic}
			_, err := NewFleetService(st).CreateGroup(context.Background(), tenantA, tt.group)
			assert.Equal(t, tt.field, fieldOf(t, err))
			assert.Empty(t, st.created, "nothing written")
		})
	}
}

func TestCreateGroupStoresCanonicalSelector(t *testing.T) {
	st := newFakeFleet()
	g, err := NewFleetService(st).CreateGroup(context.Background(), tenantA,
		NewGroup{Name: "eu x2", Kind: model.GroupDynamic, Selector: " region=eu , model=x2"})
	require.NoError(t, err)
	assert.Equal(t, "model=x2,region=eu", g.Selector)
	assert.Equal(t, tenantA.ID, g.TenantID)
}

func TestChangeMembers(t *testing.T) {
	const static, dynamic = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
	tests := []struct {
		name   string
		group  string
		change MemberChange
		field  string // empty: succeeds
	}{
		{"add and remove", static, MemberChange{Add: []string{"d1"}, Remove: []string{"d2"}}, ""},
		{"nothing to do", static, MemberChange{}, "add"},
		{"bad id in remove", static, MemberChange{Remove: []string{"ok", "a b"}}, "remove[1]"},
		{"in both lists", static, MemberChange{Add: []string{"d1"}, Remove: []string{"d1"}}, "remove[0]"},
		{"unknown device", static, MemberChange{Add: []string{"d1", "ghost"}}, "add[1]"},
		{"dynamic group add", dynamic, MemberChange{Add: []string{"d1"}}, "add"},
		{"dynamic group remove", dynamic, MemberChange{Remove: []string{"d1"}}, "remove"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeFleet("d1", "d2")
			st.groups[static] = model.Group{ID: static, TenantID: tenantA.ID, Name: "s", Kind: model.GroupStatic}
			st.groups[dynamic] = model.Group{ID: dynamic, TenantID: tenantA.ID, Name: "d", Kind: model.GroupDynamic,
				Selector: "region=eu"}
			_, err := NewFleetService(st).ChangeMembers(context.Background(), tenantA, tt.group, tt.change)
			if tt.field == "" {
				require.NoError(t, err)
				assert.Equal(t, [][]string{{"d1"}}, st.added)
				assert.Equal(t, [][]string{{"d2"}}, st.removed)
				return
			}
			assert.Equal(t, tt.field, fieldOf(t, err))
			assert.Empty(t, st.added)
			assert.Empty(t, st.removed)
		})
	}
}

func TestAddMembersToDynamicGroupNamesDeviceIDs(t *testing.T) {
	const id = "00000000-0000-0000-0000-00000000000b"
	st := newFakeFleet("d1")
	st.groups[id] = model.Group{ID: id, TenantID: tenantA.ID, Name: "d", Kind: model.GroupDynamic, Selector: "region=eu"}
	err := NewFleetService(st).AddMembers(context.Background(), tenantA, id, []string{"d1"})
	assert.Equal(t, "device_ids", fieldOf(t, err))
	assert.Contains(t, err.Error(), "selector")
}

func TestGroupOfAnotherTenantIsNotFound(t *testing.T) {
	const id = "00000000-0000-0000-0000-00000000000a"
	st := newFakeFleet("d1")
	st.groups[id] = model.Group{ID: id, TenantID: "someone else", Kind: model.GroupStatic}
	svc := NewFleetService(st)
	for _, gid := range []string{id, "not-a-uuid"} {
		_, err := svc.GetGroup(context.Background(), tenantA, gid)
		assert.ErrorIs(t, err, store.ErrNotFound)
		err = svc.AddMembers(context.Background(), tenantA, gid, []string{"d1"})
		assert.ErrorIs(t, err, store.ErrNotFound)
	}
	assert.Empty(t, st.added)
}

func TestLabelDevicesRejects(t *testing.T) {
	tests := []struct {
		name  string
		req   BulkLabels
		field string
	}{
		{"no devices", BulkLabels{Set: map[string]string{"a": "1"}}, "device_ids"},
		{"nothing to change", BulkLabels{DeviceIDs: []string{"d1"}}, "set"},
		{"bad set key", BulkLabels{DeviceIDs: []string{"d1"}, Set: map[string]string{"Bad": "1"}}, "set.Bad"},
		{"bad remove key", BulkLabels{DeviceIDs: []string{"d1"}, Remove: []string{"ok", "no way"}}, "remove[1]"},
		{"set and remove same key", BulkLabels{DeviceIDs: []string{"d1"}, Set: map[string]string{"a": "1"},
			Remove: []string{"a"}}, "remove[0]"},
		{"duplicate device", BulkLabels{DeviceIDs: []string{"d1", "d1"}, Remove: []string{"a"}}, "device_ids[1]"},
		{"unknown device", BulkLabels{DeviceIDs: []string{"d1", "ghost"}, Remove: []string{"a"}}, "device_ids[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeFleet("d1")
			_, err := NewFleetService(st).LabelDevices(context.Background(), tenantA, tt.req)
			assert.Equal(t, tt.field, fieldOf(t, err))
			assert.Zero(t, st.labelled)
		})
	}
}

func TestImportDevices(t *testing.T) {
	tests := []struct {
		name   string
		format ImportFormat
		body   string
		want   int              // devices imported when rows is empty
		rows   []store.RowError // Message is matched as a substring
		field  string           // a whole-document FieldError
	}{
		{name: "csv", format: ImportCSV, want: 2, body: "id,hardware_model,firmware_version,labels\n" +
			"a1,m1,1.0.0,region=eu;tier=gold\n" +
			"a2,m1,1.0.0,\n"},
		{name: "csv columns in any order with BOM", format: ImportCSV, want: 1,
			body: "\ufefffirmware_version,id,hardware_model\n1.0.0,a1,m1\n"},
		{name: "csv bad rows", format: ImportCSV, body: "id,hardware_model,firmware_version,labels\n" +
			"a1,m1,1.0.0,\n" +
			"a/2,m1,one,\n" +
			"a3,m1,1.0.0,region\n" +
			"a1,m1,1.0.0,\n" +
			"exists,m1,1.0.0,\n" +
			"a6,m1\n",
			rows: []store.RowError{
				{Row: 3, Field: "id", Message: "must be 1-128 characters"},
				{Row: 3, Field: "firmware_version", Message: "semantic version"},
				{Row: 4, Field: "labels", Message: `"region" is not key=value`},
				{Row: 5, Field: "id", Message: "duplicate of row 2"},
				{Row: 6, Field: "id", Message: `"exists" already exists`},
				{Row: 7, Message: "has 2 fields; the header has 4"},
			}},
		{name: "csv unknown and missing columns", format: ImportCSV, body: "id,model,labels\n",
			rows: []store.RowError{
				{Row: 1, Field: "model", Message: "unknown column"},
				{Row: 1, Field: "hardware_model", Message: "missing"},
				{Row: 1, Field: "firmware_version", Message: "missing"},
			}},
		{name: "csv malformed", format: ImportCSV, body: "id,hardware_model,firmware_version\n\"a1,m1,1.0.0\n",
			rows: []store.RowError{{Row: 2, Message: "malformed CSV"}}},
		{name: "csv empty", format: ImportCSV, body: "", field: "rows"},
		{name: "csv header only", format: ImportCSV, body: "id,hardware_model,firmware_version\n", field: "rows"},
		{name: "json", format: ImportJSON, want: 2, body: `[{"id":"a1","hardware_model":"m1","firmware_version":"1.0.0",
			"labels":{"region":"eu"}},{"id":"a2","hardware_model":"m1","firmware_version":"1.0.0"}]`},
		{name: "json bad rows", format: ImportJSON, body: `[
			{"id":"a1","hardware_model":"m1","firmware_version":"1.0.0"},
			{"id":"a2","hardware_model":"m1","firmware_version":"1.0.0","colour":"red"},
			{"id":"a3","hardware_model":"m1","firmware_version":"1.0.0","labels":["x"]},
			7,
			{"id":"a5","hardware_model":"m1","firmware_version":"1.0.0","transport":"lorawan","labels":{"Bad":"1"}}]`,
			rows: []store.RowError{
				{Row: 2, Field: "colour", Message: "unknown field"},
				{Row: 3, Field: "labels", Message: "must be of type"},
				{Row: 4, Message: "must be a JSON object"},
				{Row: 5, Field: "labels.Bad", Message: "label key"},
				{Row: 5, Field: "transport", Message: "must be"},
			}},
		{name: "text the database cannot hold", format: ImportCSV, body: "id,hardware_model,firmware_version,labels\n" +
			"a1,m1,1.0.0,note=a\x00b\n" +
			"a2,m1,1.0.0,note=\xff\n" +
			"a3,m1,1.0.0,note=tab\there\n",
			rows: []store.RowError{
				{Row: 2, Field: "labels.note", Message: "control characters"},
				{Row: 3, Field: "labels.note", Message: "valid UTF-8"},
				{Row: 4, Field: "labels.note", Message: "control characters"},
			}},
		{name: "json NUL in a label", format: ImportJSON,
			body: `[{"id":"a1","hardware_model":"m1","firmware_version":"1.0.0","labels":{"note":"a\u0000b"}}]`,
			rows: []store.RowError{{Row: 1, Field: "labels.note", Message: "control characters"}}},
		{name: "json not an array", format: ImportJSON, body: `{"id":"a1"}`, field: "rows"},
		{name: "json malformed", format: ImportJSON, body: `[{"id":"a1",}]`, field: "rows"},
		{name: "json trailing data", format: ImportJSON, body: `[] []`, field: "rows"},
		{name: "json empty array", format: ImportJSON, body: `[]`, field: "rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeFleet("exists")
			n, err := NewFleetService(st).ImportDevices(context.Background(), tenantA, tt.format, strings.NewReader(tt.body))
			switch {
			case tt.field != "":
				assert.Equal(t, tt.field, fieldOf(t, err))
			case tt.rows != nil:
				var re *store.RowErrors
				require.Truef(t, errors.As(err, &re), "want *store.RowErrors, got %v", err)
				require.Lenf(t, re.Rows, len(tt.rows), "%+v", re.Rows)
				for i, want := range tt.rows {
					got := re.Rows[i]
					assert.Equal(t, want.Row, got.Row, "%+v", got)
					assert.Equal(t, want.Field, got.Field, "%+v", got)
					assert.Contains(t, got.Message, want.Message)
				}
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.want, n)
				require.Len(t, st.imported, tt.want)
				for _, d := range st.imported {
					assert.Equal(t, model.TransportMQTT, d.Transport)
					assert.NotNil(t, d.Labels)
				}
				return
			}
			assert.Empty(t, st.imported, "nothing written")
		})
	}
}

func TestImportRowLimit(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("id,hardware_model,firmware_version\n")
	for i := 0; i <= maxImportRows; i++ {
		fmt.Fprintf(&sb, "d%d,m,1.0.0\n", i)
	}
	st := newFakeFleet()
	_, err := NewFleetService(st).ImportDevices(context.Background(), tenantA, ImportCSV, strings.NewReader(sb.String()))
	assert.Equal(t, "rows", fieldOf(t, err))
	assert.Empty(t, st.imported)
}
