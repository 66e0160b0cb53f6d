package model

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateServiceAddress(t *testing.T) {
	tests := []struct {
		addr       string
		ok, okLocl bool // accepted without, and with, local addresses allowed
	}{
		{"chirpstack:8080", true, true},
		{"chirpstack.internal.example.com:443", true, true},
		{"ota_chirpstack_1:8080", true, true},
		{"10.0.4.7:8080", true, true},
		{"192.168.1.20:8080", true, true},
		{"[fd00::7]:8080", true, true},
		{"127.0.0.1:8080", false, true},
		{"127.9.9.9:8080", false, true},
		{"[::1]:8080", false, true},
		{"[::ffff:127.0.0.1]:8080", false, true},
		{"0.0.0.0:8080", false, true},
		{"0.1.2.3:8080", false, true},
		{"[::]:8080", false, true},
		{"169.254.169.254:80", false, true},
		{"[fe80::1]:8080", false, true},
		{"224.0.0.1:8080", false, true},
		{"localhost:8080", false, true},
		{"LOCALHOST.:8080", false, true},
		{"api.localhost:8080", false, true},
		{"127.1:8080", false, false},
		{"2130706433:8080", false, false},
		{"0x7f.0.0.1:8080", false, false},
		{"0177.0.0.1:8080", false, false},
		{"[fe80::1%eth0]:8080", false, false},
		{"http://chirpstack:8080", false, false},
		{"chirpstack", false, false},
		{"chirpstack:0", false, false},
		{"chirpstack:99999", false, false},
		{"chirpstack:http", false, false},
		{":8080", false, false},
		{"chirp stack:8080", false, false},
		{"chirp/stack:8080", false, false},
		{"chirpstack\x00:8080", false, false},
		{"-chirpstack:8080", false, false},
		{"unix:///run/chirpstack.sock", false, false},
		{"dns:///chirpstack:8080", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			for _, allow := range []bool{false, true} {
				want := tt.ok
				if allow {
					want = tt.okLocl
				}
				err := ValidateServiceAddress("api_address", tt.addr, allow)
				if want {
					assert.NoError(t, err, "allow local: %v", allow)
					continue
				}
				var fe *FieldError
				require.True(t, errors.As(err, &fe), "allow local %v: want a FieldError, got %v", allow, err)
				assert.Equal(t, "api_address", fe.Field)
			}
		})
	}
}

// FuzzValidateServiceAddress: an accepted address is host:port with a usable port, and
// a literal IP in it is never local unless local addresses are allowed.
func FuzzValidateServiceAddress(f *testing.F) {
	for _, seed := range []string{"chirpstack:8080", "127.0.0.1:8080", "[::ffff:7f00:1]:1", "localhost:1", "127.1:80",
		"[fe80::1%25eth0]:80", "a..b:1", "x:65536", "\x00:1"} {
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, addr string, allowLocal bool) {
		if ValidateServiceAddress("api_address", addr, allowLocal) != nil {
			return
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("accepted %q: %v", addr, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			t.Fatalf("accepted port %q", port)
		}
		if ValidateText("host", host, 253) != nil {
			t.Fatalf("accepted host %q that is not text", host)
		}
		if ip, err := netip.ParseAddr(host); err == nil && !allowLocal && LocalAddr(ip) {
			t.Fatalf("accepted local address %s", ip)
		}
		if ip := net.ParseIP(host); ip != nil && !allowLocal && (ip.IsLoopback() || ip.IsUnspecified() || ip.IsLinkLocalUnicast()) {
			t.Fatalf("accepted local address %s (as the net package reads it)", ip)
		}
	})
}
