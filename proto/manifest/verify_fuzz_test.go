package manifest

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	devicev1 "github.com/otaplane/ota/proto/device/v1"
)

// FuzzVerifyUpdate signs a valid UPDATE, lets the fuzzer replace what the device receives
// (the signed bytes, the signature, the key id, the command id, the firmware fields) and
// checks that VerifyUpdate never panics, refuses with a *Refusal carrying a known code,
// and accepts only the bytes that were signed, for the device they name.
func FuzzVerifyUpdate(f *testing.F) {
	fx := newFixture()
	valid := fx.command(fx.manifest(), "command")
	f.Add(valid.Manifest.Manifest, valid.Manifest.Signature, valid.Manifest.KeyId, testCommand, "1.2.0", int64(1024))
	f.Add(valid.Manifest.Manifest[:10], valid.Manifest.Signature, valid.Manifest.KeyId, testCommand, "1.2.0", int64(1024))
	f.Add([]byte{}, []byte{}, "", "", "", int64(0))
	f.Add(valid.Manifest.Manifest, valid.Manifest.Signature[:63], fx.keys["release"].id, "run-2:1", "9.9.9", int64(-1))
	flipped := bytes.Clone(valid.Manifest.Manifest)
	flipped[len(flipped)-1] ^= 0x80
	f.Add(flipped, valid.Manifest.Signature, valid.Manifest.KeyId, testCommand, "1.2.0", int64(1024))

	codes := map[string]bool{CodeNoTrustSet: true, CodeMissingManifest: true, CodeUnknownKey: true,
		CodeBadSignature: true, CodeBadManifest: true, CodeWrongTenant: true, CodeWrongDevice: true,
		CodeWrongCommand: true, CodeManifestExpired: true, CodeHardwareMismatch: true,
		CodeManifestMismatch: true, CodeRollbackRefused: true}
	f.Fuzz(func(t *testing.T, signed, sig []byte, keyID, commandID, version string, size int64) {
		cmd := proto.Clone(valid).(*devicev1.Command)
		cmd.Manifest = &devicev1.SignedManifest{Manifest: signed, Signature: sig, KeyId: keyID}
		cmd.CommandId = commandID
		cmd.Firmware.Version, cmd.Firmware.SizeBytes = version, size
		m, err := VerifyUpdate(fx.trust, fx.dev, cmd, fx.now)
		if err != nil {
			var r *Refusal
			if !errors.As(err, &r) || !codes[r.Code] {
				t.Fatalf("refusal %v has no known code", err)
			}
			return
		}
		if !bytes.Equal(signed, valid.Manifest.Manifest) || keyID != valid.Manifest.KeyId {
			t.Fatalf("accepted bytes or a key that were not signed: key %q, bytes %x", keyID, signed)
		}
		if m.GetDeviceId() != fx.dev.ID || m.GetCommandId() != commandID || m.GetTenantId() != fx.trust.TenantID {
			t.Fatalf("accepted a manifest for another device, command or tenant: %v", m)
		}
		if version != m.GetVersion() || size != m.GetSizeBytes() {
			t.Fatalf("accepted a command whose firmware (%s, %d) differs from its manifest", version, size)
		}
	})
}
