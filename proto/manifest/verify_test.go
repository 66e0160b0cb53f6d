package manifest

import (
	"errors"
	"testing"
	"time"

	devicev1 "github.com/otaplane/ota/proto/device/v1"
)

// fixture is one tenant's keys, one device and a valid signed UPDATE for it.
type fixture struct {
	trust *TrustSet
	dev   Device
	now   time.Time
	keys  map[string]signer
}

type signer struct {
	id   string
	priv []byte
}

const (
	testDevice  = "dev-1"
	testCommand = "run-1:1"
)

func newFixture() fixture {
	cmdPub, cmdPriv := testKey(1)
	relPub, relPriv := testKey(2)
	oldRelPub, oldRelPriv := testKey(3)
	oldCmdPub, oldCmdPriv := testKey(4)
	return fixture{
		trust: &TrustSet{TenantID: testTenant, Keys: []TrustedKey{
			{ID: KeyID(cmdPub), Purpose: PurposeCommand, PublicKey: cmdPub},
			{ID: KeyID(relPub), Purpose: PurposeRelease, PublicKey: relPub},
			{ID: KeyID(oldRelPub), Purpose: PurposeRelease, PublicKey: oldRelPub, Retired: true},
			{ID: KeyID(oldCmdPub), Purpose: PurposeCommand, PublicKey: oldCmdPub, Retired: true},
		}},
		dev: Device{ID: testDevice, HardwareModel: "board-v1", Version: "1.1.0", ReleaseCounter: 6},
		now: time.UnixMilli(1_700_000_000_000),
		keys: map[string]signer{
			"command":         {KeyID(cmdPub), cmdPriv},
			"release":         {KeyID(relPub), relPriv},
			"retired release": {KeyID(oldRelPub), oldRelPriv},
			"retired command": {KeyID(oldCmdPub), oldCmdPriv},
		},
	}
}

// manifest is the valid manifest for the fixture's device: release 1.2.0, counter 7.
func (f fixture) manifest() *devicev1.Manifest {
	rel := f.keys["release"]
	r := testRelease()
	sig, err := SignRelease(rel.priv, r)
	if err != nil {
		panic(err)
	}
	return &devicev1.Manifest{CommandId: testCommand, TenantId: testTenant, DeviceId: testDevice,
		FirmwareId: "fw-1", Version: r.Version, HardwareModel: r.HardwareModel, Sha256: r.SHA256,
		SizeBytes: r.SizeBytes, ReleaseCounter: r.Counter, ExpiresAtMs: f.now.Add(time.Minute).UnixMilli(),
		ReleaseKeyId: rel.id, ReleaseSignature: sig}
}

// command signs m with the named command key into an UPDATE that describes the same image.
func (f fixture) command(m *devicev1.Manifest, key string) *devicev1.Command {
	k := f.keys[key]
	sm, err := Sign(k.priv, k.id, m)
	if err != nil {
		panic(err)
	}
	return &devicev1.Command{CommandId: testCommand, Type: devicev1.CommandType_COMMAND_TYPE_UPDATE,
		Firmware: &devicev1.Firmware{Version: m.GetVersion(), HardwareModel: m.GetHardwareModel(),
			Url: "http://api/fw", Sha256: m.GetSha256(), SizeBytes: m.GetSizeBytes()},
		Manifest: sm}
}

// resignRelease re-signs the manifest's release statement after an edit, with the named
// release key, so that only the check under test fails.
func (f fixture) resignRelease(m *devicev1.Manifest, key string) {
	k := f.keys[key]
	sig, err := SignRelease(k.priv, Release{TenantID: m.TenantId, HardwareModel: m.HardwareModel,
		Version: m.Version, Counter: m.ReleaseCounter, SizeBytes: m.SizeBytes, SHA256: m.Sha256})
	if err != nil {
		panic(err)
	}
	m.ReleaseKeyId, m.ReleaseSignature = k.id, sig
}

func TestVerifyUpdate(t *testing.T) {
	f := newFixture()
	tests := []struct {
		name string
		// manifest edits the valid manifest before it is signed; command edits the command
		// after; trust replaces the fixture's trust set and device edits its device.
		manifest func(*devicev1.Manifest)
		command  func(*devicev1.Command)
		key      string
		trust    func() *TrustSet
		device   func(*Device)
		wantCode string
	}{
		{name: "valid"},
		{name: "signed by a retired release key: old images stay verifiable",
			manifest: func(m *devicev1.Manifest) { f.resignRelease(m, "retired release") }},
		{name: "explicit rollback to a lower version and counter",
			manifest: func(m *devicev1.Manifest) {
				m.Version, m.ReleaseCounter, m.Rollback = "1.0.0", 2, true
				f.resignRelease(m, "release")
			},
			command: func(c *devicev1.Command) { c.Firmware.Version = "1.0.0" }},
		{name: "the running image again", device: func(d *Device) { d.Version, d.ReleaseCounter = "1.2.0", 7 }},
		{name: "the running image, after an explicit rollback to it",
			device: func(d *Device) { d.Version, d.ImageSHA256, d.ReleaseCounter = "1.2.0", testSHA, 9 }},

		{name: "no trust set", trust: func() *TrustSet { return &TrustSet{} }, wantCode: CodeNoTrustSet},
		{name: "nil trust set", trust: func() *TrustSet { return nil }, wantCode: CodeNoTrustSet},
		{name: "no manifest", command: func(c *devicev1.Command) { c.Manifest = nil }, wantCode: CodeMissingManifest},
		{name: "unknown command key", command: func(c *devicev1.Command) { c.Manifest.KeyId = "0000000000000000" },
			wantCode: CodeUnknownKey},
		{name: "release key named as command key", command: func(c *devicev1.Command) { c.Manifest.KeyId = f.keys["release"].id },
			wantCode: CodeUnknownKey},
		{name: "retired command key", key: "retired command", wantCode: CodeUnknownKey},
		{name: "bit flipped in the signed bytes", command: func(c *devicev1.Command) { c.Manifest.Manifest[3] ^= 1 },
			wantCode: CodeBadSignature},
		{name: "signature truncated", command: func(c *devicev1.Command) { c.Manifest.Signature = c.Manifest.Signature[:10] },
			wantCode: CodeBadSignature},
		{name: "signed by another key under this key's id", command: func(c *devicev1.Command) {
			forged, _ := Sign(f.keys["retired command"].priv, f.keys["command"].id, f.manifest())
			c.Manifest = forged
		}, wantCode: CodeBadSignature},
		{name: "incomplete manifest", manifest: func(m *devicev1.Manifest) { m.Sha256 = "" }, wantCode: CodeBadManifest},
		{name: "no expiry", manifest: func(m *devicev1.Manifest) { m.ExpiresAtMs = 0 }, wantCode: CodeBadManifest},
		{name: "version not semantic", manifest: func(m *devicev1.Manifest) { m.Version = "latest" }, wantCode: CodeBadManifest},
		{name: "another tenant", manifest: func(m *devicev1.Manifest) { m.TenantId = "00000000-0000-4000-8000-000000000000" },
			wantCode: CodeWrongTenant},
		{name: "another device", manifest: func(m *devicev1.Manifest) { m.DeviceId = "dev-2" }, wantCode: CodeWrongDevice},
		{name: "moved into another command", command: func(c *devicev1.Command) { c.CommandId = "run-2:1" },
			wantCode: CodeWrongCommand},
		{name: "expired", manifest: func(m *devicev1.Manifest) { m.ExpiresAtMs = f.now.Add(-time.Millisecond).UnixMilli() },
			wantCode: CodeManifestExpired},
		{name: "another hardware model", device: func(d *Device) { d.HardwareModel = "board-v2" }, wantCode: CodeHardwareMismatch},
		{name: "unknown release key", manifest: func(m *devicev1.Manifest) { m.ReleaseKeyId = "0000000000000000" },
			wantCode: CodeUnknownKey},
		{name: "release statement signed by the command key", manifest: func(m *devicev1.Manifest) {
			f.resignRelease(m, "command")
			m.ReleaseKeyId = f.keys["release"].id
		}, wantCode: CodeBadSignature},
		{name: "image size changed after release", manifest: func(m *devicev1.Manifest) { m.SizeBytes++ },
			wantCode: CodeBadSignature},
		{name: "image hash changed after release", manifest: func(m *devicev1.Manifest) { m.Sha256 = "0" + m.Sha256[1:] },
			wantCode: CodeBadSignature},
		{name: "release counter raised after release", manifest: func(m *devicev1.Manifest) { m.ReleaseCounter = 100 },
			wantCode: CodeBadSignature},
		{name: "command firmware sha256 differs", command: func(c *devicev1.Command) { c.Firmware.Sha256 = "0" + testSHA[1:] },
			wantCode: CodeManifestMismatch},
		{name: "command firmware size differs", command: func(c *devicev1.Command) { c.Firmware.SizeBytes = 1 },
			wantCode: CodeManifestMismatch},
		{name: "lower version", device: func(d *Device) { d.Version = "1.3.0" }, wantCode: CodeRollbackRefused},
		{name: "lower release counter", device: func(d *Device) { d.ReleaseCounter = 8 }, wantCode: CodeRollbackRefused},
		{name: "same version, another image, lower release counter",
			device:   func(d *Device) { d.Version, d.ImageSHA256, d.ReleaseCounter = "1.2.0", "0"+testSHA[1:], 9 },
			wantCode: CodeRollbackRefused},
		{name: "lower version without the rollback flag",
			manifest: func(m *devicev1.Manifest) {
				m.Version, m.ReleaseCounter = "1.0.0", 2
				f.resignRelease(m, "release")
			},
			command:  func(c *devicev1.Command) { c.Firmware.Version = "1.0.0" },
			wantCode: CodeRollbackRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := f.manifest()
			if tt.manifest != nil {
				tt.manifest(m)
			}
			key := tt.key
			if key == "" {
				key = "command"
			}
			cmd := f.command(m, key)
			if tt.command != nil {
				tt.command(cmd)
			}
			trust := f.trust
			if tt.trust != nil {
				trust = tt.trust()
			}
			dev := f.dev
			if tt.device != nil {
				tt.device(&dev)
			}
			got, err := VerifyUpdate(trust, dev, cmd, f.now)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got.GetVersion() != m.GetVersion() || got.GetReleaseCounter() != m.GetReleaseCounter() {
					t.Fatalf("accepted %v, signed %v", got, m)
				}
				return
			}
			var r *Refusal
			if !errors.As(err, &r) || r.Code != tt.wantCode {
				t.Fatalf("VerifyUpdate() error = %v, want code %s", err, tt.wantCode)
			}
			if got != nil {
				t.Fatalf("refusal returned a manifest")
			}
		})
	}
}
