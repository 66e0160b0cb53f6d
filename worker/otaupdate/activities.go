package otaupdate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/cadence"
	"go.uber.org/cadence/activity"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/otaplane/ota/pkg/devicerun"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/signing"
	"github.com/otaplane/ota/pkg/store"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/proto/topic"
)

// DeviceStore is the part of the store the device activities use.
type DeviceStore interface {
	GetDevice(ctx context.Context, tenantID, deviceID string) (model.Device, error)
	GetFirmware(ctx context.Context, tenantID, firmwareID string) (model.Firmware, error)
	AdvanceCampaignDevice(ctx context.Context, tenantID, campaignID, deviceID string, state model.DeviceState, reason, workflowID, runID string) error
	RecordOutcome(ctx context.Context, r otaflow.OutcomeRequest) error
	RunProgress(ctx context.Context, tenantID, deviceID string) (otaflow.RunProgress, error)
	ClaimDevice(ctx context.Context, tenantID, deviceID, workflowID, runID string) (store.Claim, error)
	TakeOverClaim(ctx context.Context, tenantID, deviceID string, from store.Claim, workflowID, runID string) (bool, error)
	ReleaseClaim(ctx context.Context, tenantID, deviceID, workflowID, runID string) error
}

// RunLookup asks Cadence whether a run has closed (pkg/cadenceclient.Conn).
type RunLookup interface {
	RunClosed(ctx context.Context, domain, workflowID, runID string) (bool, error)
}

// Publisher delivers one MQTT message and returns once the broker acknowledged it.
type Publisher interface {
	Publish(ctx context.Context, topic string, qos byte, payload []byte) error
}

// URLSigner makes the short-lived download link one device receives.
type URLSigner interface {
	DeviceURL(tenantID, firmwareID, deviceID string, expires time.Time) string
}

// ManifestSigner signs UPDATE manifests with the tenant's command key, and gives images
// uploaded before signing their releases (signing.ErrOfflineKey when it cannot).
type ManifestSigner interface {
	SignManifest(ctx context.Context, tenantID string, m *devicev1.Manifest) (*devicev1.SignedManifest, error)
	SignUnreleased(ctx context.Context, tenantID, hardwareModel string) error
}

// Activities holds the dependencies of the device activities.
type Activities struct {
	Store     DeviceStore
	Runs      RunLookup
	Publisher Publisher
	URLs      URLSigner
	Manifests ManifestSigner
	// LinkTTL is how long a download link lives after its command is issued
	// (firmware.url_ttl); never longer than the command.
	LinkTTL time.Duration
	Now     func() time.Time
	Logger  *zap.Logger
}

// CheckDeviceReady is check_device_ready: exists, model matches, online, battery, version,
// and no other update holds the device (see claim). A campaign's device is recorded
// CHECKING only when it is not ready: a ready one is COMMANDED a moment later, and the
// write in between would cost a commit per run.
func (a *Activities) CheckDeviceReady(ctx context.Context, in otaflow.UpdateDeviceInput) (otaflow.ReadyCheck, error) {
	d, err := a.Store.GetDevice(ctx, in.TenantID, in.DeviceID)
	if errors.Is(err, store.ErrNotFound) {
		return otaflow.ReadyCheck{Reason: otaflow.ReasonDeviceNotFound}, nil
	}
	if err != nil {
		return otaflow.ReadyCheck{}, err
	}
	info := activity.GetInfo(ctx)
	ready := devicerun.Readiness(d, in.Firmware, in.Policy, a.Now())
	if ready.Ready {
		free, err := a.claim(ctx, in, info)
		if err != nil {
			return otaflow.ReadyCheck{}, err
		}
		if !free {
			ready.Ready, ready.Reason = false, otaflow.ReasonUpdateInProgress
		}
	}
	if in.CampaignID != "" && !ready.Ready {
		if err := a.Store.AdvanceCampaignDevice(ctx, in.TenantID, in.CampaignID, in.DeviceID, model.StateChecking, "",
			info.WorkflowExecution.ID, info.WorkflowExecution.RunID); err != nil {
			return otaflow.ReadyCheck{}, err
		}
	}
	return ready, nil
}

// claim makes the run the device's only update, or says another one holds it. Every run
// claims its device in the database before it commands it; a claim whose run has closed
// without releasing it is taken over. A run in a group also asks Cadence about the
// device's own workflow id, which runs that never claim hold (those started before
// claims existed); it asks after claiming, so that of two runs that start together at
// least one sees the other.
func (a *Activities) claim(ctx context.Context, in otaflow.UpdateDeviceInput, info activity.Info) (bool, error) {
	wf, run := info.WorkflowExecution.ID, info.WorkflowExecution.RunID
	c, err := a.Store.ClaimDevice(ctx, in.TenantID, in.DeviceID, wf, run)
	if err != nil {
		return false, err
	}
	if !c.Holds(wf, run) {
		closed, err := a.Runs.RunClosed(ctx, info.WorkflowDomain, c.WorkflowID, c.RunID)
		if err != nil {
			return false, fmt.Errorf("look at %s, which holds %s: %w", c.WorkflowID, in.DeviceID, err)
		}
		if !closed {
			return false, nil
		}
		took, err := a.Store.TakeOverClaim(ctx, in.TenantID, in.DeviceID, c, wf, run)
		if err != nil {
			return false, err
		}
		if !took {
			// Someone else moved it meanwhile: the activity's retry looks again.
			return false, fmt.Errorf("claim of %s changed while it was taken over", in.DeviceID)
		}
	}
	if !in.InGroup {
		return true, nil
	}
	closed, err := a.Runs.RunClosed(ctx, info.WorkflowDomain, otaflow.DeviceWorkflowID(in.DeviceID), "")
	if err != nil {
		return false, fmt.Errorf("look at %s's own runs: %w", in.DeviceID, err)
	}
	if closed {
		return true, nil
	}
	return false, a.Store.ReleaseClaim(ctx, in.TenantID, in.DeviceID, wf, run)
}

// SendMQTTCommand is send_mqtt_command: one command, QoS 1, on the device's command topic.
func (a *Activities) SendMQTTCommand(ctx context.Context, req otaflow.CommandRequest) error {
	cmd := &devicev1.Command{
		CommandId:   req.CommandID,
		IssuedAtMs:  req.IssuedAt.UnixMilli(),
		ExpiresAtMs: req.IssuedAt.Add(req.TTL).UnixMilli(),
	}
	switch {
	case req.RequestStatus:
		cmd.Type = devicev1.CommandType_COMMAND_TYPE_STATUS_REQUEST
	case req.CancelsCommand != "":
		cmd.Type = devicev1.CommandType_COMMAND_TYPE_CANCEL
		cmd.CancelsCommandId = req.CancelsCommand
	default:
		fw, err := a.released(ctx, req)
		if err != nil {
			return err
		}
		cmd.Type = devicev1.CommandType_COMMAND_TYPE_UPDATE
		cmd.Firmware = a.firmware(req, fw)
		cmd.RollbackVersion = req.RollbackVersion
		if cmd.Manifest, err = a.Manifests.SignManifest(ctx, req.TenantID, updateManifest(req, fw, cmd.ExpiresAtMs)); err != nil {
			return fmt.Errorf("sign manifest: %w", err)
		}
	}
	if err := a.publish(ctx, req, cmd); err != nil {
		return err
	}
	if req.CampaignID != "" && cmd.Type == devicev1.CommandType_COMMAND_TYPE_UPDATE {
		info := activity.GetInfo(ctx)
		return a.Store.AdvanceCampaignDevice(ctx, req.TenantID, req.CampaignID, req.DeviceID, model.StateCommanded, "",
			info.WorkflowExecution.ID, info.WorkflowExecution.RunID)
	}
	return nil
}

// released reads the target image as recorded, with its release; an image uploaded
// before signing gets its release first.
func (a *Activities) released(ctx context.Context, req otaflow.CommandRequest) (model.Firmware, error) {
	fw, err := a.recorded(ctx, req)
	if err != nil || fw.ReleaseCounter > 0 {
		return fw, err
	}
	err = a.Manifests.SignUnreleased(ctx, req.TenantID, fw.HardwareModel)
	if errors.Is(err, signing.ErrOfflineKey) {
		return model.Firmware{}, cadence.NewCustomError(ErrReasonPermanent, fmt.Sprintf(
			"firmware %s was uploaded before signing and %v: upload it again, signed", fw.ID, err))
	}
	if err != nil {
		return model.Firmware{}, fmt.Errorf("sign releases of %s: %w", fw.HardwareModel, err)
	}
	if fw, err = a.recorded(ctx, req); err == nil && fw.ReleaseCounter == 0 {
		err = fmt.Errorf("firmware %s has no release after signing", fw.ID)
	}
	return fw, err
}

func (a *Activities) recorded(ctx context.Context, req otaflow.CommandRequest) (model.Firmware, error) {
	fw, err := a.Store.GetFirmware(ctx, req.TenantID, req.Firmware.ID)
	if errors.Is(err, store.ErrNotFound) {
		return model.Firmware{}, cadence.NewCustomError(ErrReasonPermanent, "firmware record no longer exists")
	}
	return fw, err
}

// firmware describes the image as recorded, with a link for this device that lives
// LinkTTL from the command's issue, never past the command's expiry.
func (a *Activities) firmware(req otaflow.CommandRequest, fw model.Firmware) *devicev1.Firmware {
	expires := req.IssuedAt.Add(req.TTL)
	if a.LinkTTL > 0 && a.LinkTTL < req.TTL {
		expires = req.IssuedAt.Add(a.LinkTTL)
	}
	return &devicev1.Firmware{
		Version:       fw.Version,
		HardwareModel: fw.HardwareModel,
		Url:           a.URLs.DeviceURL(req.TenantID, fw.ID, req.DeviceID, expires),
		Sha256:        fw.SHA256,
		SizeBytes:     fw.SizeBytes,
	}
}

// updateManifest is what the device checks before it downloads: this command, this
// device, the image and its release, until the command expires.
func updateManifest(req otaflow.CommandRequest, fw model.Firmware, expiresAtMs int64) *devicev1.Manifest {
	return &devicev1.Manifest{
		CommandId: req.CommandID, TenantId: req.TenantID, DeviceId: req.DeviceID, FirmwareId: fw.ID,
		Version: fw.Version, HardwareModel: fw.HardwareModel, Sha256: fw.SHA256, SizeBytes: fw.SizeBytes,
		ReleaseCounter: uint64(fw.ReleaseCounter), ExpiresAtMs: expiresAtMs, Rollback: req.AllowDowngrade,
		ReleaseKeyId: fw.ReleaseKeyID, ReleaseSignature: fw.ReleaseSignature,
	}
}

func (a *Activities) publish(ctx context.Context, req otaflow.CommandRequest, cmd *devicev1.Command) error {
	payload, err := proto.Marshal(cmd)
	if err != nil {
		return cadence.NewCustomError(ErrReasonPermanent, fmt.Sprintf("encode command: %v", err))
	}
	t := topic.Commands(req.TenantID, req.DeviceID)
	if err := a.Publisher.Publish(ctx, t, 1, payload); err != nil {
		return fmt.Errorf("publish %s to %s: %w", cmd.Type, t, err)
	}
	a.Logger.Info("command published", zap.String("tenant_id", req.TenantID), zap.String("device_id", req.DeviceID),
		zap.String("campaign_id", req.CampaignID), zap.String("command_id", req.CommandID), zap.Stringer("type", cmd.Type))
	return nil
}

// VerifyFirmware is verify_firmware: the version and image hash the device reports must be
// the target's, as recorded in the database (not only as passed in the input). It records
// nothing: the outcome (or, with a soak, SOAKING) is written right after it.
func (a *Activities) VerifyFirmware(ctx context.Context, req otaflow.VerifyRequest) error {
	fw, err := a.Store.GetFirmware(ctx, req.TenantID, req.Firmware.ID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return cadence.NewCustomError(ErrReasonVerifyMismatch, "firmware record no longer exists")
		}
		return err
	}
	var problems []string
	if req.Report.FirmwareVersion != fw.Version {
		problems = append(problems, fmt.Sprintf("version %q, want %q", req.Report.FirmwareVersion, fw.Version))
	}
	if !strings.EqualFold(req.Report.ImageSHA256, fw.SHA256) {
		problems = append(problems, fmt.Sprintf("sha256 %q, want %q", req.Report.ImageSHA256, fw.SHA256))
	}
	if len(problems) > 0 {
		return cadence.NewCustomError(ErrReasonVerifyMismatch, strings.Join(problems, "; "))
	}
	return nil
}

// CheckDeviceHealth is check_device_health: what the device's heartbeats said last (for
// a soak). The first check moves a campaign's device to SOAKING.
func (a *Activities) CheckDeviceHealth(ctx context.Context, req otaflow.HealthRequest) (otaflow.DeviceHealth, error) {
	if req.CampaignID != "" {
		info := activity.GetInfo(ctx)
		if err := a.Store.AdvanceCampaignDevice(ctx, req.TenantID, req.CampaignID, req.DeviceID, model.StateSoaking, "",
			info.WorkflowExecution.ID, info.WorkflowExecution.RunID); err != nil {
			return otaflow.DeviceHealth{}, err
		}
	}
	d, err := a.Store.GetDevice(ctx, req.TenantID, req.DeviceID)
	if errors.Is(err, store.ErrNotFound) {
		return otaflow.DeviceHealth{}, nil
	}
	if err != nil {
		return otaflow.DeviceHealth{}, err
	}
	return otaflow.DeviceHealth{Found: true, ReportedVersion: d.ReportedVersion, LastSeenAt: d.LastSeenAt,
		BootCount: d.BootCount}, nil
}

// RunProgress is read_run_progress: what the report consumer recorded of the device's
// progress on the run's quiet update command (the zero value when nothing was).
func (a *Activities) RunProgress(ctx context.Context, req otaflow.RunProgressRequest) (otaflow.RunProgress, error) {
	p, err := a.Store.RunProgress(ctx, req.TenantID, req.DeviceID)
	if err != nil || p.CommandID != req.CommandID {
		return otaflow.RunProgress{}, err
	}
	return p, nil
}

// UpdateDevice is update_device: device firmware, history row and campaign status in one
// transaction.
func (a *Activities) UpdateDevice(ctx context.Context, req otaflow.OutcomeRequest) error {
	if err := a.Store.RecordOutcome(ctx, req); err != nil {
		return err
	}
	a.Logger.Info("device run finished", zap.String("tenant_id", req.TenantID), zap.String("device_id", req.DeviceID),
		zap.String("campaign_id", req.CampaignID), zap.String("workflow_id", req.WorkflowID), zap.String("run_id", req.RunID),
		zap.String("state", string(req.State)), zap.String("reason", req.Reason))
	return nil
}

// Rollback is rollback: marks the device ROLLING_BACK and publishes the rollback command.
func (a *Activities) Rollback(ctx context.Context, req otaflow.CommandRequest) error {
	if req.CampaignID != "" {
		info := activity.GetInfo(ctx)
		if err := a.Store.AdvanceCampaignDevice(ctx, req.TenantID, req.CampaignID, req.DeviceID, model.StateRollingBack, "",
			info.WorkflowExecution.ID, info.WorkflowExecution.RunID); err != nil {
			return err
		}
	}
	cmd := &devicev1.Command{
		CommandId:       req.CommandID,
		Type:            devicev1.CommandType_COMMAND_TYPE_ROLLBACK,
		IssuedAtMs:      req.IssuedAt.UnixMilli(),
		ExpiresAtMs:     req.IssuedAt.Add(req.TTL).UnixMilli(),
		RollbackVersion: req.RollbackVersion,
	}
	return a.publish(ctx, req, cmd)
}
