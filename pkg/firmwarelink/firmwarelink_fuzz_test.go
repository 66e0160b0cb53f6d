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
// that Verify never panics, accepts only the signed tenant, firmware, device and expiry,
// and answers every refusal with an *Error that names a parameter and wraps one of its
// three errors.
func FuzzVerify(f *testing.F) {
	const tenant, fw, dev = "2f0a5c1e-6b7d-4c1a-9e3f-8d2b7a6c5e4f", "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "dev-1"
	f.Add(tenant, fw, dev, int64(1_700_003_600), tenant, fw, dev, "1700003600", "")
	f.Add(tenant, fw, dev, int64(1_700_003_600), tenant, fw, dev, "+1700003600", "")
	f.Add(tenant, fw, dev, int64(1_700_003_600), tenant+"x", fw, dev, "1700003600", "")
	f.Add(tenant, fw, dev, int64(1_700_003_600), tenant, fw, "dev-2", "1700003600", "")
	f.Add(tenant, fw, dev, int64(1_700_003_600), tenant, fw, "", "1700003600", "")
	f.Add(tenant, fw, dev, int64(1_700_003_600), tenant, fw, dev, "9999999999", "")
	f.Add("a\nb", "c", dev, int64(1_700_003_600), "a", "b\nc", dev, "1700003600", "")
	f.Add(tenant, "a", "b\nc", int64(1_700_003_600), tenant, "a\nb", "c", "1700003600", "")
	f.Add(tenant, fw, dev, int64(1_700_003_600), tenant, fw, dev, "1700003600", "00")
	f.Add("", fw, "", int64(-1), "", fw, "", "-1", "zz")
	f.Fuzz(func(t *testing.T, signedTenant, signedFW, signedDevice string, signedExp int64, tenant, fw, device, expires, sig string) {
		s := New("0123456789abcdef0123", "http://api.example")
		now := time.Unix(1_700_000_000, 0)
		// Only the query, after the last '?' (the encoded query holds none): the path holds
		// the firmware id unescaped, which is fine for the UUIDs issued.
		link := s.DeviceURL(signedTenant, signedFW, signedDevice, time.Unix(signedExp, 0))
		q, err := url.ParseQuery(link[strings.LastIndex(link, "?")+1:])
		if err != nil {
			t.Fatalf("signed link's query does not parse: %v", err)
		}
		q.Set("tenant", tenant)
		q.Set("device", device)
		q.Set("expires", expires)
		if sig != "" {
			q.Set("sig", sig)
		}
		got, err := s.Verify(fw, q, now)
		if err != nil {
			var le *Error
			switch {
			case !errors.As(err, &le) || le.Param == "":
				t.Fatalf("refusal %v names no parameter", err)
			case !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrExpired):
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		exp, perr := strconv.ParseInt(expires, 10, 64)
		tampered := tenant != signedTenant || fw != signedFW || device != signedDevice || perr != nil || exp != signedExp
		switch {
		case got.TenantID != tenant || got.DeviceID != device:
			t.Fatalf("accepted for (%q, %q), link says (%q, %q)", got.TenantID, got.DeviceID, tenant, device)
		case tampered: // with the link's signature or one the fuzzer made up
			t.Fatalf("tampered link accepted: signed (%q, %q, %q, %d), sent (%q, %q, %q, %q) with sig %q",
				signedTenant, signedFW, signedDevice, signedExp, tenant, fw, device, expires, sig)
		case now.Unix() > exp:
			t.Fatalf("expired link (%d) accepted", exp)
		}
	})
}
