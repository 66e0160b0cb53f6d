// Package firmwarelink makes and checks the signed, short-lived download links that
// devices receive in update commands; devices hold no API key. A link is bound to one
// tenant, image and device and expires minutes after its command is issued.
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

// Link is what a verified link was issued for.
type Link struct {
	TenantID string
	DeviceID string
}

// macVersion starts the MAC input: links signed before links named a device (which had
// no version) can never pass for device links.
const macVersion = "device-link-v2"

func (s *Signer) mac(tenantID, firmwareID, deviceID string, expires int64) string {
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "%s\n%s\n%s\n%s\n%d", macVersion, tenantID, firmwareID, deviceID, expires)
	return hex.EncodeToString(m.Sum(nil))
}

// DeviceURL returns the absolute link for one device, valid until expires.
func (s *Signer) DeviceURL(tenantID, firmwareID, deviceID string, expires time.Time) string {
	exp := expires.Unix()
	q := url.Values{}
	q.Set("tenant", tenantID)
	q.Set("device", deviceID)
	q.Set("expires", strconv.FormatInt(exp, 10))
	q.Set("sig", s.mac(tenantID, firmwareID, deviceID, exp))
	return s.baseURL + Path(firmwareID) + "?" + q.Encode()
}

var (
	// ErrMalformed: a parameter is missing or cannot be what a signer puts there.
	ErrMalformed = errors.New("malformed link")
	// ErrBadSignature: the parameters are not what was signed.
	ErrBadSignature = errors.New("bad link signature")
	// ErrExpired: the link was genuine but its time is over.
	ErrExpired = errors.New("link expired")
)

// Error is a refused link: Param names the query parameter at fault, and Err is one of
// ErrMalformed, ErrBadSignature or ErrExpired.
type Error struct {
	Param string
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("%v (%s)", e.Err, e.Param) }
func (e *Error) Unwrap() error { return e.Err }

func refuse(param string, err error) *Error { return &Error{Param: param, Err: err} }

// Verify checks a link's query for firmwareID and returns what it was issued for, or
// an *Error.
func (s *Signer) Verify(firmwareID string, q url.Values, now time.Time) (Link, error) {
	// The MAC's input separates fields with newlines: values containing one could pass
	// for another split ("a\nb", "c" and "a", "b\nc"). Issued values never contain one.
	for _, p := range []string{"tenant", "device", "expires", "sig"} {
		if len(q[p]) != 1 || q.Get(p) == "" || strings.Contains(q.Get(p), "\n") {
			return Link{}, refuse(p, ErrMalformed)
		}
	}
	if strings.Contains(firmwareID, "\n") {
		return Link{}, refuse("id", ErrMalformed)
	}
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil {
		return Link{}, refuse("expires", ErrMalformed)
	}
	link := Link{TenantID: q.Get("tenant"), DeviceID: q.Get("device")}
	want := s.mac(link.TenantID, firmwareID, link.DeviceID, exp)
	if !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		return Link{}, refuse("sig", ErrBadSignature)
	}
	if now.Unix() > exp {
		return Link{}, refuse("expires", ErrExpired)
	}
	return link, nil
}
