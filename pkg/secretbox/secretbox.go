// Package secretbox seals small secrets — device broker passwords on their way to a
// worker, tenant signing keys, ChirpStack tokens — with AES-256-GCM under a key derived
// from the configured secrets.encryption_key, so neither the database nor a workflow
// history holds them in the clear. Each sealed value is bound to what it is for (the
// associated data), so one cannot be swapped for another.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// version prefixes every sealed value, so the scheme can change without ambiguity.
const version = 1

// ErrOpen: a value that was not sealed by this key for this purpose, or was altered.
var ErrOpen = errors.New("secretbox: cannot open sealed value")

// Box seals and opens values.
type Box struct {
	aead cipher.AEAD
}

// New derives the sealing key from secret.
func New(secret string) (*Box, error) {
	if len(secret) < 16 {
		return nil, errors.New("secretbox: secret shorter than 16 characters")
	}
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "otaplane secretbox v1", 32)
	if err != nil {
		return nil, fmt.Errorf("secretbox: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext for purpose and returns it as URL-safe base64 text.
func (b *Box) Seal(plaintext []byte, purpose string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secretbox: nonce: %w", err)
	}
	out := append([]byte{version}, nonce...)
	out = b.aead.Seal(out, nonce, plaintext, []byte(purpose))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value sealed for purpose.
func (b *Box) Open(sealed, purpose string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(sealed)
	n := b.aead.NonceSize()
	if err != nil || len(raw) < 1+n+b.aead.Overhead() || raw[0] != version {
		return nil, ErrOpen
	}
	out, err := b.aead.Open(nil, raw[1:1+n], raw[1+n:], []byte(purpose))
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
