package manifest

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	devicev1 "github.com/otaplane/ota/proto/device/v1"
)

// Error codes a device reports with REJECTED when an UPDATE fails a manifest check. Each
// names one check, so an operator can tell a misprovisioned device from an attack.
const (
	CodeNoTrustSet       = "no_trust_set"      // the device pins no keys: it installs nothing
	CodeMissingManifest  = "missing_manifest"  // an UPDATE without a signed manifest
	CodeUnknownKey       = "unknown_key"       // signed by a key the device does not pin (or a retired command key)
	CodeBadSignature     = "bad_signature"     // the manifest's or the image's signature does not verify
	CodeBadManifest      = "bad_manifest"      // signed bytes that are not a complete manifest
	CodeWrongTenant      = "wrong_tenant"      // another tenant's manifest
	CodeWrongDevice      = "wrong_device"      // another device's manifest
	CodeWrongCommand     = "wrong_command"     // a manifest moved into another command
	CodeManifestExpired  = "manifest_expired"  // past its expiry
	CodeHardwareMismatch = "hardware_mismatch" // for another hardware model
	CodeManifestMismatch = "manifest_mismatch" // the command's firmware fields differ from the signed ones
	CodeRollbackRefused  = "rollback_refused"  // a lower version or release counter, not an explicit rollback
)

// Refusal is why a device refuses an update: Code goes into Report.error_code.
type Refusal struct {
	Code   string
	Reason string
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Reason }

func refuse(code, format string, args ...any) *Refusal {
	return &Refusal{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Device is what a device knows of itself when it checks an update.
type Device struct {
	ID            string
	HardwareModel string
	// Version and ImageSHA256 describe the image it runs (ImageSHA256 may be empty when
	// unknown, e.g. a factory image).
	Version     string
	ImageSHA256 string
	// ReleaseCounter is the highest release counter it has installed.
	ReleaseCounter uint64
}

// VerifyUpdate makes a device's checks on an UPDATE command, in this order, and returns
// the manifest the device may act on, or a *Refusal:
//
//  1. the device pins a trust set (no_trust_set) and the command carries a signed
//     manifest (missing_manifest);
//  2. the manifest's command key is one it pins and is not retired (unknown_key), and its
//     signature over the exact bytes received verifies (bad_signature) — only then are
//     the bytes parsed, and they must make a complete manifest (bad_manifest);
//  3. the manifest names the device's tenant (wrong_tenant), the device itself
//     (wrong_device) and this command (wrong_command), and has not expired
//     (manifest_expired);
//  4. the image is for the device's hardware model (hardware_mismatch), and its release
//     key is pinned (unknown_key; a retired release key still counts) and signed its
//     release statement (bad_signature);
//  5. the command's unsigned firmware fields agree with the signed ones
//     (manifest_mismatch);
//  6. neither the version nor the release counter is lower than what the device runs and
//     has installed, unless the manifest is an explicit rollback or names the very image
//     the device runs, which it only confirms (rollback_refused).
func VerifyUpdate(trust *TrustSet, dev Device, cmd *devicev1.Command, now time.Time) (*devicev1.Manifest, error) {
	if trust.empty() {
		return nil, refuse(CodeNoTrustSet, "the device pins no signing keys and installs nothing")
	}
	sm := cmd.GetManifest()
	if sm == nil {
		return nil, refuse(CodeMissingManifest, "UPDATE without a signed manifest")
	}
	pub, ok := trust.key(PurposeCommand, sm.GetKeyId())
	if !ok {
		return nil, refuse(CodeUnknownKey, "manifest signed by command key %q, which the device does not trust", sm.GetKeyId())
	}
	if !ed25519.Verify(pub, signingInput(sm.GetManifest()), sm.GetSignature()) {
		return nil, refuse(CodeBadSignature, "manifest signature does not verify with command key %s", sm.GetKeyId())
	}
	m := &devicev1.Manifest{}
	if err := proto.Unmarshal(sm.GetManifest(), m); err != nil {
		return nil, refuse(CodeBadManifest, "signed bytes are not a manifest: %v", err)
	}
	if err := complete(m); err != nil {
		return nil, err
	}
	if err := addressed(m, trust.TenantID, dev.ID, cmd.GetCommandId(), now); err != nil {
		return nil, err
	}
	if m.GetHardwareModel() != dev.HardwareModel {
		return nil, refuse(CodeHardwareMismatch, "image is for %q, device is %q", m.GetHardwareModel(), dev.HardwareModel)
	}
	if err := released(trust, m); err != nil {
		return nil, err
	}
	if err := agrees(cmd.GetFirmware(), m); err != nil {
		return nil, err
	}
	if err := notRollback(m, dev); err != nil {
		return nil, err
	}
	return m, nil
}

// complete refuses a manifest missing anything a device relies on.
func complete(m *devicev1.Manifest) error {
	var missing []string
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"command_id", m.GetCommandId() != ""},
		{"tenant_id", m.GetTenantId() != ""},
		{"device_id", m.GetDeviceId() != ""},
		{"firmware_id", m.GetFirmwareId() != ""},
		{"hardware_model", m.GetHardwareModel() != ""},
		{"sha256", isSHA256Hex(m.GetSha256())},
		{"size_bytes", m.GetSizeBytes() > 0},
		{"release_counter", m.GetReleaseCounter() > 0},
		{"expires_at_ms", m.GetExpiresAtMs() > 0},
		{"release_key_id", m.GetReleaseKeyId() != ""},
		{"release_signature", len(m.GetReleaseSignature()) == ed25519.SignatureSize},
	} {
		if !f.ok {
			missing = append(missing, f.name)
		}
	}
	if _, err := parseSemver(m.GetVersion()); err != nil {
		missing = append(missing, "version")
	}
	if len(missing) > 0 {
		return refuse(CodeBadManifest, "manifest lacks a valid %s", strings.Join(missing, ", "))
	}
	return nil
}

// addressed checks that the manifest is for this tenant, device and command, now.
func addressed(m *devicev1.Manifest, tenantID, deviceID, commandID string, now time.Time) error {
	switch {
	case m.GetTenantId() != tenantID:
		return refuse(CodeWrongTenant, "manifest is for tenant %s", m.GetTenantId())
	case m.GetDeviceId() != deviceID:
		return refuse(CodeWrongDevice, "manifest is for device %q", m.GetDeviceId())
	case m.GetCommandId() != commandID:
		return refuse(CodeWrongCommand, "manifest belongs to command %q", m.GetCommandId())
	case now.UnixMilli() > m.GetExpiresAtMs():
		return refuse(CodeManifestExpired, "manifest expired at %s",
			time.UnixMilli(m.GetExpiresAtMs()).UTC().Format(time.RFC3339))
	}
	return nil
}

// released checks the image's release statement against the tenant's release keys.
func released(trust *TrustSet, m *devicev1.Manifest) error {
	pub, ok := trust.key(PurposeRelease, m.GetReleaseKeyId())
	if !ok {
		return refuse(CodeUnknownKey, "image signed by release key %q, which the device does not trust", m.GetReleaseKeyId())
	}
	r := Release{TenantID: m.GetTenantId(), HardwareModel: m.GetHardwareModel(), Version: m.GetVersion(),
		Counter: m.GetReleaseCounter(), SizeBytes: m.GetSizeBytes(), SHA256: m.GetSha256()}
	if !VerifyRelease(pub, r, m.GetReleaseSignature()) {
		return refuse(CodeBadSignature, "release signature does not verify with release key %s", m.GetReleaseKeyId())
	}
	return nil
}

// agrees refuses a command whose unsigned firmware description says something else than
// the manifest: the device acts on the signed values, and a disagreement means the
// command was tampered with or built wrongly.
func agrees(fw *devicev1.Firmware, m *devicev1.Manifest) error {
	switch {
	case fw.GetVersion() != m.GetVersion():
		return refuse(CodeManifestMismatch, "command names version %q, manifest %q", fw.GetVersion(), m.GetVersion())
	case fw.GetHardwareModel() != m.GetHardwareModel():
		return refuse(CodeManifestMismatch, "command names hardware model %q, manifest %q", fw.GetHardwareModel(), m.GetHardwareModel())
	case !strings.EqualFold(fw.GetSha256(), m.GetSha256()):
		return refuse(CodeManifestMismatch, "command names sha256 %q, manifest %q", fw.GetSha256(), m.GetSha256())
	case fw.GetSizeBytes() != m.GetSizeBytes():
		return refuse(CodeManifestMismatch, "command names %d bytes, manifest %d", fw.GetSizeBytes(), m.GetSizeBytes())
	}
	return nil
}

// notRollback refuses a lower version or release counter unless the manifest says it is
// a rollback, or names the image running (nothing is installed). A device version that
// is not a semantic version ranks lowest.
func notRollback(m *devicev1.Manifest, dev Device) error {
	running := dev.ImageSHA256 != "" && m.GetVersion() == dev.Version && strings.EqualFold(m.GetSha256(), dev.ImageSHA256)
	if m.GetRollback() || running {
		return nil
	}
	if c, err := CompareVersions(m.GetVersion(), dev.Version); err == nil && c < 0 {
		return refuse(CodeRollbackRefused, "version %s is lower than %s, which the device runs", m.GetVersion(), dev.Version)
	}
	if m.GetReleaseCounter() < dev.ReleaseCounter {
		return refuse(CodeRollbackRefused, "release counter %d is lower than %d, which the device installed",
			m.GetReleaseCounter(), dev.ReleaseCounter)
	}
	return nil
}
