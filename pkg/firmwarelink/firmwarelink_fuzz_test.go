package firmwarelink

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzVerify signs a link, lets the fuzzer change what the device sends back, and checks
// that Verify never panics, accepts only the signed tenant, firmware and expiry, and
// answers every refusal with one of its two errors.
func FuzzVerify(f *testing.F) {
	const tenant, fw = "2f0a5c1e-6b7d-4c1a-9e3f-8d2b7a6c5e4f", "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	f.Add(tenant, fw, int64(1_700_003_600), tenant, fw, "1700003600", "")
	f.Add(tenant, fw, int64(1_700_003_600), tenant, fw, "+1700003600", "")
	f.Add(tenant, fw, int64(1_700_003_600), tenant+"x", fw, "1700003600", "")
	f.Add(tenant, fw, int64(1_700_003_600), tenant, fw, "9999999999", "")
	f.Add("a\nb", "c", int64(1_700_003_600), "a", "b\nc", "1700003600", "")
	f.Add(tenant, fw, int64(1_700_003_600), tenant, fw, "1700003600", "00")
	f.Add("", fw, int64(-1), "", fw, "-1", "zz")
	f.Fuzz(func(t *testing.T, signedTenant, signedFW string, signedExp int64, tenant, fw, expires, sig string) {
		s := New("0123456789abcdef0123", "http://api.example")
		now := time.Unix(1_700_000_000, 0)
		// Only the query, after the last '?' (the encoded query holds none): the path holds
		// the firmware id unescaped, which is fine for the UUIDs issued.
		link := s.FirmwareURL(signedTenant, signedFW, time.Unix(signedExp, 0))
		q, err := url.ParseQuery(link[strings.LastIndex(link, "?")+1:])
		if err != nil {
			t.Fatalf("signed link's query does not parse: %v", err)
		}
		q.Set("tenant", tenant)
		q.Set("expires", expires)
		if sig != "" {
			q.Set("sig", sig)
		}
		got, err := s.Verify(fw, q, now)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrExpired) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		exp, perr := strconv.ParseInt(expires, 10, 64)
		tampered := tenant != signedTenant || fw != signedFW || perr != nil || exp != signedExp
		switch {
		case got != tenant:
			t.Fatalf("accepted for tenant %q, link says %q", got, tenant)
		case tampered: // with the link's signature or one the fuzzer made up
			t.Fatalf("tampered link accepted: signed (%q, %q, %d), sent (%q, %q, %q) with sig %q",
				signedTenant, signedFW, signedExp, tenant, fw, expires, sig)
		case now.Unix() > exp:
			t.Fatalf("expired link (%d) accepted", exp)
		}
	})
}
