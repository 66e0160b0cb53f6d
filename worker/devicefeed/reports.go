// Package devicefeed consumes what devices publish — progress reports and heartbeats —
// through the worker fleet's shared subscriptions, so N replicas split the load.
package devicefeed

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"time"

	"go.uber.org/cadence/.gen/go/shared"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/proto/topic"
)

// Signaler delivers a report to the device run that sent the command.
type Signaler interface {
	SignalWorkflow(ctx context.Context, tenantID, workflowID, runID, signal string, arg interface{}) error
}

// RunStore records a report's progress for campaign status counts.
type RunStore interface {
	AdvanceRun(ctx context.Context, tenantID, deviceID, runID string, state model.DeviceState) error
}

// Reports routes device reports to their workflow runs as signals. Reports of one device
// go through one shard, so they keep their order.
type Reports struct {
	signaler Signaler
	store    RunStore
	log      *zap.Logger
	shards   []chan inbound
	wg       sync.WaitGroup
	metrics  *Metrics
	// retryFor bounds how long a report is retried while Cadence is unreachable; the
	// run's step timer is the backstop after that.
	retryFor time.Duration
}

type inbound struct {
	topic   string
	payload []byte
	ack     func()
}

// NewReports starts shards goroutines.
func NewReports(s Signaler, st RunStore, m *Metrics, log *zap.Logger, shards int) *Reports {
	r := &Reports{signaler: s, store: st, log: log, metrics: m, retryFor: 30 * time.Second}
	r.shards = make([]chan inbound, shards)
	for i := range r.shards {
		r.shards[i] = make(chan inbound, 256)
		r.wg.Add(1)
		go r.loop(r.shards[i])
	}
	return r
}

// Handle is the MQTT handler. The message is acknowledged only once it was delivered
// (or can never be), so a worker crash in between gets it redelivered.
func (r *Reports) Handle(t string, payload []byte, ack func()) {
	h := fnv.New32a()
	h.Write([]byte(t))
	r.shards[h.Sum32()%uint32(len(r.shards))] <- inbound{topic: t, payload: payload, ack: ack}
}

// Close drains the shards.
func (r *Reports) Close() {
	for _, c := range r.shards {
		close(c)
	}
	r.wg.Wait()
}

func (r *Reports) loop(in <-chan inbound) {
	defer r.wg.Done()
	for m := range in {
		r.process(m)
		m.ack()
	}
}

func (r *Reports) process(m inbound) {
	tenantID, deviceID, _, err := topic.Parse(m.topic)
	if err != nil {
		r.metrics.Dropped.WithLabelValues("bad_topic").Inc()
		return
	}
	var rep devicev1.Report
	if err := proto.Unmarshal(m.payload, &rep); err != nil {
		r.metrics.Dropped.WithLabelValues("bad_payload").Inc()
		r.log.Warn("undecodable report", zap.String("tenant_id", tenantID), zap.String("device_id", deviceID), zap.Error(err))
		return
	}
	runID, ok := otaflow.RunIDFromCommandID(rep.GetCommandId())
	if !ok {
		r.metrics.Dropped.WithLabelValues("bad_command_id").Inc()
		return
	}
	sig := ToSignal(&rep)
	log := r.log.With(zap.String("tenant_id", tenantID), zap.String("device_id", deviceID),
		zap.String("run_id", runID), zap.String("command_id", rep.GetCommandId()), zap.String("status", string(sig.Status)))
	if err := r.signal(tenantID, deviceID, runID, sig); err != nil {
		var gone *shared.EntityNotExistsError
		if errors.As(err, &gone) {
			r.metrics.Dropped.WithLabelValues("run_closed").Inc()
			log.Debug("report for a closed run dropped")
			return
		}
		r.metrics.Dropped.WithLabelValues("signal_failed").Inc()
		log.Error("report not delivered", zap.Error(err))
		return
	}
	r.metrics.Signaled.Inc()
	if st, ok := sig.Status.ProgressState(); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.store.AdvanceRun(ctx, tenantID, deviceID, runID, st); err != nil {
			log.Warn("progress not recorded", zap.Error(err))
		}
	}
}

func (r *Reports) signal(tenantID, deviceID, runID string, sig otaflow.DeviceReport) error {
	deadline := time.Now().Add(r.retryFor)
	backoff := 200 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := r.signaler.SignalWorkflow(ctx, tenantID, otaflow.DeviceWorkflowID(deviceID), runID, otaflow.SignalDeviceReport, sig)
		cancel()
		var gone *shared.EntityNotExistsError
		if err == nil || errors.As(err, &gone) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}

// ToSignal converts the wire report into the workflow's signal payload.
func ToSignal(rep *devicev1.Report) otaflow.DeviceReport {
	return otaflow.DeviceReport{
		CommandID:       rep.GetCommandId(),
		Status:          reportStatus(rep.GetStatus()),
		ProgressPercent: int(rep.GetProgressPercent()),
		FirmwareVersion: rep.GetFirmwareVersion(),
		ImageSHA256:     rep.GetImageSha256(),
		ErrorCode:       rep.GetErrorCode(),
		ErrorMessage:    rep.GetErrorMessage(),
		ReportedAt:      time.UnixMilli(rep.GetReportedAtMs()).UTC(),
	}
}

func reportStatus(s devicev1.ReportStatus) otaflow.ReportStatus {
	switch s {
	case devicev1.ReportStatus_REPORT_STATUS_ACCEPTED:
		return otaflow.ReportAccepted
	case devicev1.ReportStatus_REPORT_STATUS_DOWNLOADING:
		return otaflow.ReportDownloading
	case devicev1.ReportStatus_REPORT_STATUS_DOWNLOADED:
		return otaflow.ReportDownloaded
	case devicev1.ReportStatus_REPORT_STATUS_INSTALLING:
		return otaflow.ReportInstalling
	case devicev1.ReportStatus_REPORT_STATUS_INSTALLED:
		return otaflow.ReportInstalled
	case devicev1.ReportStatus_REPORT_STATUS_FAILED:
		return otaflow.ReportFailed
	case devicev1.ReportStatus_REPORT_STATUS_REJECTED:
		return otaflow.ReportRejected
	case devicev1.ReportStatus_REPORT_STATUS_ROLLED_BACK:
		return otaflow.ReportRolledBack
	case devicev1.ReportStatus_REPORT_STATUS_CANCELED:
		return otaflow.ReportCanceled
	default:
		return ""
	}
}
