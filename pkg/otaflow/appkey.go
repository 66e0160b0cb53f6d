package otaflow

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// appKeyLabel separates the sealing key from every other use of the shared secret.
const appKeyLabel = "otaplane lorawan app key v1"

// ErrSealedKey: a sealed app key could not be opened (other secret, or tampered).
var ErrSealedKey = errors.New("sealed app key cannot be opened with this secret")

func appKeyAEAD(secret string) (cipher.AEAD, error) {
	if secret == "" {
		return nil, errors.New("app key sealing: empty secret")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(appKeyLabel))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("app key sealing: %w", err)
	}
	return cipher.NewGCM(block)
}

// SealAppKey encrypts an OTAA key for the workflow input (AES-256-GCM, bound to the
// DevEUI) with a key derived from secret, which the api and the workers share
// (firmware.url_signing_key). Workflow inputs are kept in Cadence's history; the key
// must not be readable there.
func SealAppKey(secret, devEUI, appKey string) (string, error) {
	aead, err := appKeyAEAD(secret)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("app key sealing: %w", err)
	}
	return base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(appKey), []byte(devEUI))), nil
}

// OpenAppKey reverses SealAppKey.
func OpenAppKey(secret, devEUI, sealed string) (string, error) {
	aead, err := appKeyAEAD(secret)
	if err != nil {
		return "", err
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", ErrSealedKey
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(devEUI))
	if err != nil {
		return "", ErrSealedKey
	}
	return string(plain), nil
}
