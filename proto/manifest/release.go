package manifest

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// releaseHeader opens every release statement: a signature over one can never pass for
// a signature over anything else the tenant's keys sign.
const releaseHeader = "otaplane-release-v1"

// ErrMalformed: a value cannot go into a statement or manifest as it is.
var ErrMalformed = errors.New("malformed value")

// Release is what a release key vouches for: one image, of one tenant, for one hardware
// model, at one place in that model's release order.
type Release struct {
	TenantID      string
	HardwareModel string
	Version       string
	Counter       uint64
	SizeBytes     int64
	// SHA256 is the image's lower-case hex SHA-256.
	SHA256 string
}

// Statement returns the canonical bytes a release key signs: the header line, then one
// name=value line per field in this fixed order, each ending in a newline:
//
//	otaplane-release-v1
//	tenant_id=<tenant id>
//	hardware_model=<hardware model>
//	version=<version>
//	release_counter=<decimal, at least 1>
//	size_bytes=<decimal, at least 1>
//	sha256=<64 lower-case hex digits>
//
// A value holding a line break, an empty value, a counter or size below 1 or a hash that
// is not lower-case hex is refused: the statement must read one way only.
func (r Release) Statement() ([]byte, error) {
	switch {
	case r.Counter < 1:
		return nil, fmt.Errorf("%w: release_counter must be at least 1", ErrMalformed)
	case r.SizeBytes < 1:
		return nil, fmt.Errorf("%w: size_bytes must be at least 1", ErrMalformed)
	case !isSHA256Hex(r.SHA256):
		return nil, fmt.Errorf("%w: sha256 must be 64 lower-case hex digits", ErrMalformed)
	}
	fields := []struct{ name, value string }{
		{"tenant_id", r.TenantID},
		{"hardware_model", r.HardwareModel},
		{"version", r.Version},
		{"release_counter", strconv.FormatUint(r.Counter, 10)},
		{"size_bytes", strconv.FormatInt(r.SizeBytes, 10)},
		{"sha256", r.SHA256},
	}
	var b strings.Builder
	b.WriteString(releaseHeader + "\n")
	for _, f := range fields {
		if f.value == "" || strings.ContainsAny(f.value, "\r\n") {
			return nil, fmt.Errorf("%w: %s must be one non-empty line", ErrMalformed, f.name)
		}
		b.WriteString(f.name + "=" + f.value + "\n")
	}
	return []byte(b.String()), nil
}

// SignRelease signs r's statement with a release key.
func SignRelease(priv ed25519.PrivateKey, r Release) ([]byte, error) {
	st, err := r.Statement()
	if err != nil {
		return nil, err
	}
	return ed25519.Sign(priv, st), nil
}

// VerifyRelease reports whether sig is pub's signature of r's statement.
func VerifyRelease(pub ed25519.PublicKey, r Release, sig []byte) bool {
	st, err := r.Statement()
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return false
	}
	return ed25519.Verify(pub, st, sig)
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
