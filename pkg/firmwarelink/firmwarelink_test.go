package firmwarelink

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerify(t *testing.T) {
	s := New("0123456789abcdef0123", "http://api.example:8080/")
	now := time.Unix(1_700_000_000, 0)
	link := s.FirmwareURL("tenant-a", "fw-1", now.Add(time.Hour))
	u, err := url.Parse(link)
	require.NoError(t, err)
	assert.Equal(t, "/api/v1/firmware/fw-1/image", u.Path)

	tests := []struct {
		name     string
		fw       string
		query    func(url.Values)
		now      time.Time
		wantErr  error
		wantTent string
	}{
		{name: "valid", fw: "fw-1", now: now, wantTent: "tenant-a"},
		{name: "expired", fw: "fw-1", now: now.Add(2 * time.Hour), wantErr: ErrExpired},
		{name: "other firmware", fw: "fw-2", now: now, wantErr: ErrBadSignature},
		{name: "other tenant", fw: "fw-1", now: now, query: func(q url.Values) { q.Set("tenant", "tenant-b") }, wantErr: ErrBadSignature},
		{name: "extended expiry", fw: "fw-1", now: now, query: func(q url.Values) { q.Set("expires", "9999999999") }, wantErr: ErrBadSignature},
		{name: "no signature", fw: "fw-1", now: now, query: func(q url.Values) { q.Del("sig") }, wantErr: ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := u.Query()
			if tt.query != nil {
				tt.query(q)
			}
			tenant, err := s.Verify(tt.fw, q, tt.now)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantTent, tenant)
		})
	}
}
