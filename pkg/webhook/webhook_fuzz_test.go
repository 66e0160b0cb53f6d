package webhook

import (
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"
)

// FuzzCheckURL: a URL that passes is absolute http(s) and never names an internal
// address literally.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x", "http://127.0.0.1:1/", "http://[::ffff:10.0.0.1]/",
		"https://user@host/", "http://0x7f.1/", "http://%31%32%37.0.0.1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := CheckURL(raw, false)
		if err != nil {
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
		if a, err := netip.ParseAddr(u.Hostname()); err == nil && !TargetAllowed(a, false) {
			t.Fatalf("accepted internal %q", raw)
		}
		if _, err := url.Parse(u.String()); err != nil {
			t.Fatalf("accepted URL does not round-trip: %q", raw)
		}
	})
}

// FuzzVerify: arbitrary headers and bodies never verify without the secret, and never panic.
func FuzzVerify(f *testing.F) {
	f.Add("evt_1", "1800000000", "v1,AAAA", []byte("{}"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		if Verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, body, time.Unix(1_800_000_000, 0), DefaultTolerance) == nil {
			t.Fatalf("forged request verified: %q %q %q", id, ts, sig)
		}
	})
}
