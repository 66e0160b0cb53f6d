package controlapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeAPI answers like the control plane for one tenant and API key.
type fakeAPI struct {
	mu      sync.Mutex
	devices map[string]Device
	failID  string // registering this id answers 500
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
		w.WriteHeader(http.StatusCreated)
	default:
		http.NotFound(w, r)
	}
}

func newFake(t *testing.T) (*fakeAPI, *httptest.Server) {
	f := &fakeAPI{devices: map[string]Device{}}
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

func TestRegisterDevice(t *testing.T) {
	fake, srv := newFake(t)
	fake.failID = "bad"
	c := New(srv.URL, "secret", nil)
	d := Device{ID: "sim-0001", HardwareModel: "m", FirmwareVersion: "1.0.0", Labels: map[string]string{"simulated": "true"}}

	tests := []struct {
		name        string
		device      Device
		wantCreated bool
		wantErr     string
	}{
		{name: "created", device: d, wantCreated: true},
		{name: "already exists", device: d, wantCreated: false},
		{name: "server error quotes body", device: Device{ID: "bad"}, wantErr: "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			created, err := c.RegisterDevice(context.Background(), tt.device)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantCreated, created)
		})
	}
	assert.Equal(t, d, fake.devices["sim-0001"])
}

func TestRegisterAll(t *testing.T) {
	fake, srv := newFake(t)
	c := New(srv.URL, "secret", nil)
	devices := []Device{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}}
	fake.devices["b"] = Device{ID: "b"}

	created, err := c.RegisterAll(context.Background(), devices, 3)
	require.NoError(t, err)
	assert.Equal(t, 3, created)
	assert.Len(t, fake.devices, 4)

	fake.failID = "e"
	_, err = c.RegisterAll(context.Background(), append(devices, Device{ID: "e"}), 2)
	assert.ErrorContains(t, err, "register device e")
}
