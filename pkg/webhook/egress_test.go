package webhook

import (
	"errors"
	"net/netip"
	"testing"
)

func TestTargetAllowed(t *testing.T) {
	tests := []struct {
		addr   string
		public bool
	}{
		{"93.184.216.34", true},
		{"2606:2800:220:1:248:1893:25c8:1946", true},
		{"127.0.0.1", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"224.0.0.1", false},
		{"ff02::1", false},
		{"100.64.0.1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:93.184.216.34", true},
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		if got := TargetAllowed(a, false); got != tt.public {
			t.Errorf("TargetAllowed(%s, false) = %v, want %v", tt.addr, got, tt.public)
		}
		if !TargetAllowed(a, true) {
			t.Errorf("TargetAllowed(%s, true) = false", tt.addr)
		}
	}
	if TargetAllowed(netip.Addr{}, true) {
		t.Error("the zero address is allowed")
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		name         string
		url          string
		allowPrivate bool
		wantErr      bool
		forbidden    bool
	}{
		{"https host", "https://hooks.example.com/ota", false, false, false},
		{"http with port", "http://hooks.example.com:8080/x?y=1", false, false, false},
		{"public address", "https://93.184.216.34/x", false, false, false},
		{"loopback", "http://127.0.0.1:9000/hook", false, true, true},
		{"loopback allowed", "http://127.0.0.1:9000/hook", true, false, false},
		{"localhost name", "http://localhost/hook", false, true, true},
		{"metadata service", "http://169.254.169.254/latest", false, true, true},
		{"private v6", "http://[fd00::1]/", false, true, true},
		{"ftp", "ftp://example.com/", false, true, false},
		{"relative", "/hook", false, true, false},
		{"credentials", "https://user:pw@example.com/", false, true, false},
		{"fragment", "https://example.com/#x", false, true, false},
		{"bad port", "https://example.com:99999/", false, true, false},
		{"no host", "https:///path", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CheckURL(tt.url, tt.allowPrivate)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CheckURL(%q) = %v, want error %v", tt.url, err, tt.wantErr)
			}
			if errors.Is(err, ErrForbiddenTarget) != tt.forbidden {
				t.Fatalf("CheckURL(%q) = %v, forbidden target %v", tt.url, err, tt.forbidden)
			}
		})
	}
}

func TestDialControl(t *testing.T) {
	strict, lax := DialControl(false), DialControl(true)
	for _, addr := range []string{"127.0.0.1:80", "[::1]:443", "10.0.0.1:80", "169.254.169.254:80", "nonsense"} {
		if err := strict("tcp", addr, nil); !errors.Is(err, ErrForbiddenTarget) {
			t.Errorf("strict dial to %s = %v", addr, err)
		}
	}
	if err := strict("tcp", "93.184.216.34:443", nil); err != nil {
		t.Errorf("strict dial to a public address: %v", err)
	}
	if err := lax("tcp", "127.0.0.1:80", nil); err != nil {
		t.Errorf("lax dial to loopback: %v", err)
	}
}
