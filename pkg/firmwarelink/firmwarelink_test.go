package firmwarelink

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerify(t *testing.T) {
	s := New("0123456789abcdef0123", "http://api.example:8080/")
	now := time.Unix(1_700_000_000, 0)
	link := s.DeviceURL("tenant-a", "fw-1", "dev-1", now.Add(15*time.Minute))
	u, err := url.Parse(link)
	require.NoError(t, err)
	assert.Equal(t, "/api/v1/firmware/fw-1/image", u.Path)
	unbound, err := url.Parse(unboundURL(s, "tenant-a", "fw-1", now.Add(15*time.Minute)))
	require.NoError(t, err)

	tests := []struct {
		name      string
		fw        string
		query     func(url.Values)
		base      url.Values
		now       time.Time
		wantErr   error
		wantParam string
	}{
		{name: "valid", fw: "fw-1", now: now},
		{name: "expired", fw: "fw-1", now: now.Add(16 * time.Minute), wantErr: ErrExpired, wantParam: "expires"},
		{name: "other firmware", fw: "fw-2", now: now, wantErr: ErrBadSignature, wantParam: "sig"},
		{name: "other tenant", fw: "fw-1", now: now, query: func(q url.Values) { q.Set("tenant", "tenant-b") },
			wantErr: ErrBadSignature, wantParam: "sig"},
		{name: "other device", fw: "fw-1", now: now, query: func(q url.Values) { q.Set("device", "dev-2") },
			wantErr: ErrBadSignature, wantParam: "sig"},
		{name: "no device", fw: "fw-1", now: now, query: func(q url.Values) { q.Del("device") },
			wantErr: ErrMalformed, wantParam: "device"},
		{name: "link bound to no device", fw: "fw-1", now: now, base: unbound.Query(),
			wantErr: ErrMalformed, wantParam: "device"},
		{name: "two devices", fw: "fw-1", now: now, query: func(q url.Values) { q.Add("device", "dev-2") },
			wantErr: ErrMalformed, wantParam: "device"},
		{name: "extended expiry", fw: "fw-1", now: now, query: func(q url.Values) { q.Set("expires", "9999999999") },
			wantErr: ErrBadSignature, wantParam: "sig"},
		{name: "expiry not a number", fw: "fw-1", now: now, query: func(q url.Values) { q.Set("expires", "soon") },
			wantErr: ErrMalformed, wantParam: "expires"},
		{name: "no signature", fw: "fw-1", now: now, query: func(q url.Values) { q.Del("sig") },
			wantErr: ErrMalformed, wantParam: "sig"},
		{name: "no tenant", fw: "fw-1", now: now, query: func(q url.Values) { q.Del("tenant") },
			wantErr: ErrMalformed, wantParam: "tenant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := u.Query()
			if tt.base != nil {
				q = tt.base
			}
			if tt.query != nil {
				tt.query(q)
			}
			got, err := s.Verify(tt.fw, q, tt.now)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				var le *Error
				require.ErrorAs(t, err, &le)
				assert.Equal(t, tt.wantParam, le.Param)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, Link{TenantID: "tenant-a", DeviceID: "dev-1"}, got)
		})
	}
}

// unboundURL builds a link as signers did before links named their device: Verify must
// refuse it even though its signature is genuine.
func unboundURL(s *Signer, tenantID, firmwareID string, expires time.Time) string {
	q := url.Values{}
	q.Set("tenant", tenantID)
	q.Set("expires", strconv.FormatInt(expires.Unix(), 10))
	q.Set("sig", s.mac(tenantID, firmwareID, "", expires.Unix()))
	return s.baseURL + Path(firmwareID) + "?" + q.Encode()
}
