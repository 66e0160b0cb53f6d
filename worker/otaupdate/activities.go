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

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
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
}

// Publisher delivers one MQTT message and returns once the broker acknowledged it.
type Publisher interface {
	Publish(ctx context.Context, topic string, qos byte, payload []byte) error
}

// URLSigner makes the time-limited download link a device receives.
type URLSigner interface {
	FirmwareURL(tenantID, firmwareID string, expires time.Time) string
}

// Activities holds the dependencies of the device activities.
type Activities struct {
	Store     DeviceStore
	Publisher Publisher
	URLs      URLSigner
	Now       func() time.Time
	Logger    *zap.Logger
}

// CheckDeviceReady is check_device_ready: exists, model matches, online, battery, version.
func (a *Activities) CheckDeviceReady(ctx context.Context, in otaflow.UpdateDeviceInput) (otaflow.ReadyCheck, error) {
	info := activity.GetInfo(ctx)
	if in.CampaignID != "" {
		if err := a.Store.AdvanceCampaignDevice(ctx, in.TenantID, in.CampaignID, in.DeviceID, model.StateChecking, "",
			info.WorkflowExecution.ID, info.WorkflowExecution.RunID); err != nil {
			return otaflow.ReadyCheck{}, err
		}
	}
	d, err := a.Store.GetDevice(ctx, in.TenantID, in.DeviceID)
	if errors.Is(err, store.ErrNotFound) {
		return otaflow.ReadyCheck{Reason: otaflow.ReasonDeviceNotFound}, nil
	}
	if err != nil {
		return otaflow.ReadyCheck{}, err
	}
	return otaflow.EvaluateReadiness(d, in.Firmware, in.Policy, a.Now()), nil
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
		cmd.Type = devicev1.CommandType_COMMAND_TYPE_UPDATE
		cmd.Firmware = a.firmware(req)
		cmd.RollbackVersion = req.RollbackVersion
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

func (a *Activities) firmware(req otaflow.CommandRequest) *devicev1.Firmware {
	return &devicev1.Firmware{
		Version:       req.Firmware.Version,
		HardwareModel: req.Firmware.HardwareModel,
		Url:           a.URLs.FirmwareURL(req.TenantID, req.Firmware.ID, req.IssuedAt.Add(req.TTL)),
		Sha256:        req.Firmware.SHA256,
		SizeBytes:     req.Firmware.SizeBytes,
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
// the target's, as recorded in the database (not only as passed in the input).
func (a *Activities) VerifyFirmware(ctx context.Context, req otaflow.VerifyRequest) error {
	fw, err := a.Store.GetFirmware(ctx, req.TenantID, req.Firmware.ID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return cadence.NewCustomError(ErrReasonVerifyMismatch, "firmware record no longer exists")
		}
		return err
	}
	if req.CampaignID != "" {
		info := activity.GetInfo(ctx)
		if err := a.Store.AdvanceCampaignDevice(ctx, req.TenantID, req.CampaignID, req.DeviceID, model.StateVerifying, "",
			info.WorkflowExecution.ID, info.WorkflowExecution.RunID); err != nil {
			return err
		}
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
