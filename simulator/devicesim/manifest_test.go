package devicesim

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/proto/manifest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestManifestRefusals sends each kind of bad UPDATE to a device of its own: each is
// REJECTED with its own error code, before anything is downloaded or installed.
func TestManifestRefusals(t *testing.T) {
	t.Parallel()
	_, strangerKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		name string
		// device edits the device's spec; command builds what is sent, from the update the
		// control plane would send (signed) and what it would sign.
		device   func(*DeviceSpec)
		command  func(e *env, id string) *devicev1.Command
		wantCode string
	}{
		{name: "no manifest", wantCode: manifest.CodeMissingManifest,
			command: func(e *env, _ string) *devicev1.Command { return updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0")) }},
		{name: "signed bytes altered", wantCode: manifest.CodeBadSignature,
			command: func(e *env, id string) *devicev1.Command {
				cmd := signedUpdate(t, e, id, nil)
				cmd.Manifest.Manifest[5] ^= 1
				return cmd
			}},
		{name: "signed by a key the device does not pin", wantCode: manifest.CodeUnknownKey,
			command: func(e *env, id string) *devicev1.Command {
				cmd := signedUpdate(t, e, id, nil)
				forged, err := manifest.Sign(strangerKey, manifest.KeyID(strangerKey.Public().(ed25519.PublicKey)),
					e.obs.keys.manifest(id, cmd))
				require.NoError(t, err)
				cmd.Manifest = forged
				return cmd
			}},
		{name: "another device's manifest", wantCode: manifest.CodeWrongDevice,
			command: func(e *env, id string) *devicev1.Command {
				return signedUpdate(t, e, id, func(m *devicev1.Manifest) { m.DeviceId = "another-device" })
			}},
		{name: "another tenant's manifest", wantCode: manifest.CodeWrongTenant,
			command: func(e *env, id string) *devicev1.Command {
				return signedUpdate(t, e, id, func(m *devicev1.Manifest) { m.TenantId = uniqueTenant(t) })
			}},
		{name: "manifest moved into another command", wantCode: manifest.CodeWrongCommand,
			command: func(e *env, id string) *devicev1.Command {
				return signedUpdate(t, e, id, func(m *devicev1.Manifest) { m.CommandId = "cmd-earlier" })
			}},
		{name: "manifest expired", wantCode: manifest.CodeManifestExpired,
			command: func(e *env, id string) *devicev1.Command {
				return signedUpdate(t, e, id, func(m *devicev1.Manifest) { m.ExpiresAtMs = time.Now().Add(-time.Second).UnixMilli() })
			}},
		{name: "another hardware model", device: func(d *DeviceSpec) { d.HardwareModel = "sim-board-v2" },
			wantCode: manifest.CodeHardwareMismatch,
			command:  func(e *env, id string) *devicev1.Command { return signedUpdate(t, e, id, nil) }},
		{name: "image released by a key the device does not pin", wantCode: manifest.CodeUnknownKey,
			command: func(e *env, id string) *devicev1.Command {
				return signedUpdate(t, e, id, func(m *devicev1.Manifest) { e.obs.keys.releaseWith(m, strangerKey) })
			}},
		{name: "image other than the one released", wantCode: manifest.CodeBadSignature,
			command: func(e *env, id string) *devicev1.Command {
				return signedUpdate(t, e, id, func(m *devicev1.Manifest) { m.SizeBytes++ })
			}},
		{name: "command names another image than its manifest", wantCode: manifest.CodeManifestMismatch,
			command: func(e *env, id string) *devicev1.Command {
				cmd := signedUpdate(t, e, id, nil)
				cmd.Firmware.Sha256 = fmt.Sprintf("%064x", 7)
				return cmd
			}},
		{name: "lower version", device: func(d *DeviceSpec) { d.FirmwareVersion = "3.0.0" },
			wantCode: manifest.CodeRollbackRefused,
			command:  func(e *env, id string) *devicev1.Command { return signedUpdate(t, e, id, nil) }},
		{name: "lower release counter", device: func(d *DeviceSpec) { d.ReleaseCounter = 5 },
			wantCode: manifest.CodeRollbackRefused,
			command:  func(e *env, id string) *devicev1.Command { return signedUpdate(t, e, id, nil) }},
	}
	specs := make([]DeviceSpec, len(tests))
	for i, tt := range tests {
		specs[i] = spec(fmt.Sprintf("dev-%d", i), BehaviorNormal)
		if tt.device != nil {
			tt.device(&specs[i])
		}
	}
	e := newEnv(t, Config{ProgressReports: true}, specs...)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := specs[i].ID
			downloads := e.fw.requestCount()
			cmd := tt.command(e, id)
			e.obs.sendAsIs(id, cmd)

			got := e.obs.waitFinal(id, cmd.GetCommandId())
			require.Equal(t, []devicev1.ReportStatus{stRejected}, statuses(got), "refused before any work")
			assert.Equal(t, tt.wantCode, got[0].GetErrorCode(), got[0].GetErrorMessage())
			assert.Equal(t, downloads, e.fw.requestCount(), "nothing downloaded")
			state, _ := e.fleet.Device(id)
			assert.Equal(t, specs[i].FirmwareVersion, state.FirmwareVersion)
			assert.Equal(t, tt.wantCode, state.CurrentErrorCode)
		})
	}
}

// signedUpdate is the UPDATE to 2.0.0 for device id, its manifest edited by edit (nil:
// none) before it is signed with the tenant's command key.
func signedUpdate(t *testing.T, e *env, id string, edit func(*devicev1.Manifest)) *devicev1.Command {
	cmd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	m := e.obs.keys.manifest(id, cmd)
	if edit != nil {
		edit(m)
	}
	cmd.Manifest = e.obs.keys.sign(t, m)
	return cmd
}

// TestReleaseCounterAndExplicitRollback: a device keeps the highest release counter it
// installed, and installs a lower one only from a manifest marked rollback.
func TestReleaseCounterAndExplicitRollback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{}, spec("d1", BehaviorNormal))
	finish := func(cmd *devicev1.Command) *devicev1.Report {
		t.Helper()
		e.obs.sendAsIs("d1", cmd)
		return last(e.obs.waitFinal("d1", cmd.GetCommandId()))
	}

	require.Equal(t, stInstalled, finish(signedUpdate(t, e, "d1", nil)).GetStatus())
	up := updateCmd(t, e.fw.firmware("/fw/3.0.0.bin", "3.0.0"))
	e.obs.send("d1", up)
	require.Equal(t, stInstalled, last(e.obs.waitFinal("d1", up.GetCommandId())).GetStatus())
	state, _ := e.fleet.Device("d1")
	assert.EqualValues(t, 3, state.ReleaseCounter)

	back := signedUpdate(t, e, "d1", func(m *devicev1.Manifest) { m.Rollback = true })
	require.Equal(t, stInstalled, finish(back).GetStatus())
	state, _ = e.fleet.Device("d1")
	assert.Equal(t, "2.0.0", state.FirmwareVersion)
	assert.EqualValues(t, 3, state.ReleaseCounter, "the highest counter installed stays")

	// The image it runs is only confirmed; another release 2 is below what it installed.
	assert.Equal(t, stInstalled, finish(signedUpdate(t, e, "d1", nil)).GetStatus())
	higher := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.5.0"))
	e.obs.send("d1", higher)
	got := last(e.obs.waitFinal("d1", higher.GetCommandId()))
	assert.Equal(t, stRejected, got.GetStatus())
	assert.Equal(t, manifest.CodeRollbackRefused, got.GetErrorCode(), got.GetErrorMessage())
	state, _ = e.fleet.Device("d1")
	assert.EqualValues(t, 4, state.BootCount, "booted at start, then for 2.0.0, 3.0.0 and the rollback only")
}

// TestNoTrustSetInstallsNothing: a device provisioned without keys refuses every update
// rather than install unsigned ones.
func TestNoTrustSetInstallsNothing(t *testing.T) {
	t.Parallel()
	tenant := uniqueTenant(t)
	obs := newObserver(t, tenant)
	fw := newFirmwareServer(t)
	f, err := NewFleet(Config{BrokerURL: brokerURL(), TenantID: tenant, HeartbeatInterval: testHeartbeat},
		withCredentials(t, tenant, []DeviceSpec{spec("d1", BehaviorNormal)}))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	require.NoError(t, f.Start(ctx))
	t.Cleanup(f.Stop)

	cmd := updateCmd(t, fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	obs.send("d1", cmd) // signed, with keys the device does not know
	got := obs.waitFinal("d1", cmd.GetCommandId())
	require.Equal(t, []devicev1.ReportStatus{stRejected}, statuses(got))
	assert.Equal(t, manifest.CodeNoTrustSet, got[0].GetErrorCode())
	assert.Zero(t, fw.requestCount())
}

func last(reports []*devicev1.Report) *devicev1.Report { return reports[len(reports)-1] }
