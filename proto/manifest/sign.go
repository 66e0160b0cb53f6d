package manifest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"google.golang.org/protobuf/proto"

	devicev1 "github.com/otaplane/ota/proto/device/v1"
)

// manifestContext prefixes the bytes a command key signs, so that a manifest signature
// can never pass for a release statement's or anything else's.
const manifestContext = "otaplane-manifest-v1\n"

// KeyID names a public key: the first 8 bytes of its SHA-256, as 16 lower-case hex
// digits. Anyone holding the key can compute it.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

func signingInput(serialized []byte) []byte {
	return append([]byte(manifestContext), serialized...)
}

// Sign serializes m and signs it with the command key keyID. Ed25519 and the
// serialization are deterministic, so a re-published command carries the same bytes.
func Sign(priv ed25519.PrivateKey, keyID string, m *devicev1.Manifest) (*devicev1.SignedManifest, error) {
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("serialize manifest: %w", err)
	}
	return &devicev1.SignedManifest{Manifest: raw, Signature: ed25519.Sign(priv, signingInput(raw)), KeyId: keyID}, nil
}
