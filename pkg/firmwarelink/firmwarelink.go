// Package firmwarelink makes and checks the signed, expiring download links that devices
// receive in update commands; devices hold no API key.
package firmwarelink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Signer signs and verifies links with one shared secret.
type Signer struct {
	key     []byte
	baseURL string
}

// New returns a Signer for links under baseURL (the API's public URL).
func New(key, baseURL string) *Signer {
	return &Signer{key: []byte(key), baseURL: strings.TrimRight(baseURL, "/")}
}

// Path is the route of the signed download, relative to the public URL.
func Path(firmwareID string) string { return "/api/v1/firmware/" + firmwareID + "/image" }

func (s *Signer) mac(tenantID, firmwareID string, expires int64) string {
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "%s\n%s\n%d", tenantID, firmwareID, expires)
	return hex.EncodeToString(m.Sum(nil))
}

// FirmwareURL returns the absolute link, valid until expires.
func (s *Signer) FirmwareURL(tenantID, firmwareID string, expires time.Time) string {
	exp := expires.Unix()
	q := url.Values{}
	q.Set("tenant", tenantID)
	q.Set("expires", strconv.FormatInt(exp, 10))
	q.Set("sig", s.mac(tenantID, firmwareID, exp))
	return s.baseURL + Path(firmwareID) + "?" + q.Encode()
}

var (
	ErrExpired      = errors.New("link expired")
	ErrBadSignature = errors.New("bad link signature")
)

// Verify checks a link's query for firmwareID and returns the tenant it was issued for.
func (s *Signer) Verify(firmwareID string, q url.Values, now time.Time) (string, error) {
	tenantID := q.Get("tenant")
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	// The MAC's input separates fields with newlines: ids containing one could pass for
	// another pair ("a\nb", "c" and "a", "b\nc"). Issued ids never contain one.
	if err != nil || tenantID == "" || strings.Contains(tenantID, "\n") || strings.Contains(firmwareID, "\n") {
		return "", ErrBadSignature
	}
	want := s.mac(tenantID, firmwareID, exp)
	if !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		return "", ErrBadSignature
	}
	if now.Unix() > exp {
		return "", ErrExpired
	}
	return tenantID, nil
}
