package manifest

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

const (
	testTenant = "2f0a5c1e-6b7d-4c1a-9e3f-8d2b7a6c5e4f"
	testSHA    = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

func testRelease() Release {
	return Release{TenantID: testTenant, HardwareModel: "board-v1", Version: "1.2.0", Counter: 7,
		SizeBytes: 1024, SHA256: testSHA}
}

func TestStatementIsCanonical(t *testing.T) {
	got, err := testRelease().Statement()
	if err != nil {
		t.Fatal(err)
	}
	want := "otaplane-release-v1\n" +
		"tenant_id=" + testTenant + "\n" +
		"hardware_model=board-v1\n" +
		"version=1.2.0\n" +
		"release_counter=7\n" +
		"size_bytes=1024\n" +
		"sha256=" + testSHA + "\n"
	if string(got) != want {
		t.Fatalf("statement:\n%s\nwant:\n%s", got, want)
	}
}

func TestStatementRefusesAmbiguousValues(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Release)
	}{
		{"counter zero", func(r *Release) { r.Counter = 0 }},
		{"size zero", func(r *Release) { r.SizeBytes = 0 }},
		{"negative size", func(r *Release) { r.SizeBytes = -1 }},
		{"upper-case hash", func(r *Release) { r.SHA256 = strings.ToUpper(testSHA) }},
		{"short hash", func(r *Release) { r.SHA256 = testSHA[:62] }},
		{"empty tenant", func(r *Release) { r.TenantID = "" }},
		{"newline in model", func(r *Release) { r.HardwareModel = "board\nversion=9.9.9" }},
		{"carriage return in version", func(r *Release) { r.Version = "1.2.0\r" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRelease()
			tt.edit(&r)
			if _, err := r.Statement(); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Statement() error = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestReleaseSignature(t *testing.T) {
	pub, priv := testKey(1)
	otherPub, _ := testKey(2)
	sig, err := SignRelease(priv, testRelease())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pub  ed25519.PublicKey
		edit func(*Release)
		sig  []byte
		want bool
	}{
		{name: "as signed", pub: pub, sig: sig, want: true},
		{name: "other key", pub: otherPub, sig: sig},
		{name: "short key", pub: pub[:31], sig: sig},
		{name: "other tenant", pub: pub, sig: sig, edit: func(r *Release) { r.TenantID = "x" + testTenant[1:] }},
		{name: "other model", pub: pub, sig: sig, edit: func(r *Release) { r.HardwareModel = "board-v2" }},
		{name: "other version", pub: pub, sig: sig, edit: func(r *Release) { r.Version = "1.2.1" }},
		{name: "other counter", pub: pub, sig: sig, edit: func(r *Release) { r.Counter = 8 }},
		{name: "other size", pub: pub, sig: sig, edit: func(r *Release) { r.SizeBytes = 1025 }},
		{name: "other hash", pub: pub, sig: sig, edit: func(r *Release) { r.SHA256 = "0" + testSHA[1:] }},
		{name: "truncated signature", pub: pub, sig: sig[:63]},
		{name: "no signature", pub: pub},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRelease()
			if tt.edit != nil {
				tt.edit(&r)
			}
			if got := VerifyRelease(tt.pub, r, tt.sig); got != tt.want {
				t.Fatalf("VerifyRelease() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKeyID(t *testing.T) {
	pub, _ := testKey(1)
	otherPub, _ := testKey(2)
	id := KeyID(pub)
	if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Fatalf("KeyID = %q, want 16 lower-case hex digits", id)
	}
	if KeyID(pub) != id || KeyID(otherPub) == id {
		t.Fatal("KeyID must be stable and differ between keys")
	}
}

// testKey is a fixed key per seed byte, so failures reproduce.
func testKey(seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	priv := ed25519.NewKeyFromSeed(s)
	return priv.Public().(ed25519.PublicKey), priv
}
