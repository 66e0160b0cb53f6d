package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A Standard Webhooks test vector (its specification's example).
func TestSignMatchesTheStandardWebhooksVector(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ParseSecret(secret)
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"campaign.state_changed"}`)
	signed := SignedHeaders(key, "evt_1", now, body)
	with := func(name, value string) http.Header {
		h := signed.Clone()
		h.Set(name, value)
		return h
	}
	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", secret, signed, body, now, nil},
		{"valid within tolerance", secret, signed, body, now.Add(4 * time.Minute), nil},
		{"one of several signatures", secret, with(HeaderSignature, "v1,bm9wZQ== "+signed.Get(HeaderSignature)), body, now, nil},
		{"replayed too late", secret, signed, body, now.Add(6 * time.Minute), ErrTimestamp},
		{"from the future", secret, signed, body, now.Add(-6 * time.Minute), ErrTimestamp},
		{"body changed", secret, signed, []byte(`{}`), now, ErrSignature},
		{"id changed", secret, with(HeaderID, "evt_2"), body, now, ErrSignature},
		{"timestamp changed", secret, with(HeaderTimestamp, "1800000001"), body, now, ErrSignature},
		{"timestamp not a number", secret, with(HeaderTimestamp, "soon"), body, now, ErrTimestamp},
		{"no signature", secret, with(HeaderSignature, ""), body, now, ErrMissingHeaders},
		{"other secret", "whsec_" + strings.Repeat("A", 44), signed, body, now, ErrSignature},
		{"bad secret", "secret", signed, body, now, ErrBadSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verify(tt.secret, tt.h, tt.body, tt.now, DefaultTolerance); !errors.Is(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Fatalf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true},
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},
		{"whsec_", false},
		{"whsec_c2hvcnQ=", false},
		{"whsec_!!!", false},
	}
	for _, tt := range tests {
		if _, err := ParseSecret(tt.in); (err == nil) != tt.ok {
			t.Errorf("ParseSecret(%q) error %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}
