package controlapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeAPI answers like the control plane for one tenant and API key.
type fakeAPI struct {
	mu          sync.Mutex
	devices     map[string]Device
	generations map[string]int
	failID      string // registering this id answers 500
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer secret" {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/tenant":
		_, _ = w.Write([]byte(`{"id":"tenant-1","name":"Acme"}`))
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/devices":
		var d Device
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if d.ID == f.failID {
			http.Error(w, `{"error":"boom"}`, http.StatusInternalServerError)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.devices[d.ID]; ok {
			w.WriteHeader(http.StatusConflict)
			return
		}
		f.devices[d.ID] = d
		f.generations[d.ID] = 1
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"` + d.ID + `","credentials":{"device_id":"` + d.ID + `","username":"tenant-1:` + d.ID +
			`:1","password":"pw-1","client_id":"tenant-1:` + d.ID + `","broker":"tcp://broker:1883"}}`))
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/credentials"):
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/devices/"), "/credentials")
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.devices[id]; !ok {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		f.generations[id]++
		g := strconv.Itoa(f.generations[id])
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"device_id":"` + id + `","username":"tenant-1:` + id + `:` + g + `","password":"pw-` + g +
			`","client_id":"tenant-1:` + id + `","broker":"tcp://broker:1883"}`))
	default:
		http.NotFound(w, r)
	}
}

func newFake(t *testing.T) (*fakeAPI, *httptest.Server) {
	f := &fakeAPI{devices: map[string]Device{}, generations: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func TestTenantID(t *testing.T) {
	_, srv := newFake(t)
	tests := []struct {
		name    string
		key     string
		want    string
		wantErr string
	}{
		{name: "valid key", key: "secret", want: "tenant-1"},
		{name: "bad key", key: "wrong", wantErr: "401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := New(srv.URL+"/", tt.key, nil).TenantID(context.Background())
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestProvision(t *testing.T) {
	fake, srv := newFake(t)
	fake.failID = "bad"
	c := New(srv.URL, "secret", nil)
	d := Device{ID: "sim-0001", HardwareModel: "m", FirmwareVersion: "1.0.0", Labels: map[string]string{"simulated": "true"}}

	tests := []struct {
		name        string
		device      Device
		register    bool
		wantCreated bool
		wantUser    string
		wantErr     string
	}{
		{name: "created with its credentials", device: d, register: true, wantCreated: true, wantUser: "tenant-1:sim-0001:1"},
		{name: "already exists: the next generation", device: d, register: true, wantUser: "tenant-1:sim-0001:2"},
		{name: "not registering: the next generation", device: d, wantUser: "tenant-1:sim-0001:3"},
		{name: "unknown device", device: Device{ID: "nope"}, wantErr: "404"},
		{name: "server error quotes body", device: Device{ID: "bad"}, register: true, wantErr: "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds, created, err := c.Provision(context.Background(), tt.device, tt.register)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantCreated, created)
			assert.Equal(t, tt.wantUser, creds.Username)
			assert.Equal(t, "tenant-1:sim-0001", creds.ClientID)
			assert.NotEmpty(t, creds.Password)
		})
	}
	assert.Equal(t, d, fake.devices["sim-0001"])
}

func TestProvisionAll(t *testing.T) {
	fake, srv := newFake(t)
	c := New(srv.URL, "secret", nil)
	devices := []Device{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}}
	fake.devices["b"] = Device{ID: "b"}

	creds, created, err := c.ProvisionAll(context.Background(), devices, true, 3)
	require.NoError(t, err)
	assert.Equal(t, 3, created)
	assert.Len(t, fake.devices, 4)
	assert.Len(t, creds, 4, "every device has credentials, the existing one too")

	fake.failID = "e"
	_, _, err = c.ProvisionAll(context.Background(), append(devices, Device{ID: "e"}), true, 2)
	assert.ErrorContains(t, err, "register device e")
}
