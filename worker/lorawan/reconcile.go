package lorawan

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"go.uber.org/cadence/activity"
	"go.uber.org/cadence/workflow"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/worker/chirpstack"
)

const (
	// chirpStackPage is the List page size; ChirpStack returns no rows without a limit.
	chirpStackPage = 250
	dbPage         = 1000
	// scanAttemptTimeout bounds one scan or repair attempt (a large application takes
	// a few hundred List calls).
	scanAttemptTimeout = 10 * time.Minute
)

// ReconcileFlow is LORAWAN_RECONCILE.
type ReconcileFlow struct {
	acts *Activities
}

// NewReconcileFlow returns the workflow bound to its activities.
func NewReconcileFlow(a *Activities) *ReconcileFlow { return &ReconcileFlow{acts: a} }

// Run compares the tenant's ChirpStack application with the database and repairs
// what it can: a device only in ChirpStack is mirrored (its app key is not needed
// for that), and a differing device profile is taken from ChirpStack. A device only
// in the database is reported: it cannot be recreated without its app key.
func (f *ReconcileFlow) Run(ctx workflow.Context, in otaflow.ReconcileInput) (otaflow.ReconcileReport, error) {
	w := retryWindow(in.Policy)
	o := stepOptions(w, scanAttemptTimeout)
	report := otaflow.ReconcileReport{StartedAt: workflow.Now(ctx), MissingInChirpStack: []otaflow.DriftDevice{},
		MissingInDB: []otaflow.DriftDevice{}, ProfileMismatch: []otaflow.ProfileMismatch{}, Repaired: []otaflow.Repair{}}
	var scan otaflow.ReconcileScan
	if err := step(ctx, otaflow.ActivityReconcileScan, f.acts.ScanDrift, in, &scan, o); err != nil {
		return report, fail(err, otaflow.LoRaWANFailUnavailable, "list the devices", w)
	}
	report.Checked = scan.Checked
	report.MissingInChirpStack = append(report.MissingInChirpStack, scan.MissingInChirpStack...)
	report.MissingInDB = append(report.MissingInDB, scan.MissingInDB...)
	report.ProfileMismatch = append(report.ProfileMismatch, scan.ProfileMismatch...)
	report.Counts = otaflow.ReconcileCounts{MissingInChirpStack: scan.MissingInChirpStackCount,
		MissingInDB: scan.MissingInDBCount, ProfileMismatch: scan.ProfileMismatchCount}
	report.Truncated = scan.MissingInChirpStackCount > len(scan.MissingInChirpStack) ||
		scan.MissingInDBCount > len(scan.MissingInDB) || scan.ProfileMismatchCount > len(scan.ProfileMismatch)
	if in.ReportOnly || (len(scan.MissingInDB) == 0 && len(scan.ProfileMismatch) == 0) {
		return report, nil
	}
	var repaired []otaflow.Repair
	req := otaflow.RepairRequest{TenantID: in.TenantID, MissingInDB: scan.MissingInDB, ProfileMismatch: scan.ProfileMismatch}
	if err := step(ctx, otaflow.ActivityReconcileRepair, f.acts.RepairDrift, req, &repaired, o); err != nil {
		return report, fail(err, otaflow.LoRaWANFailUnavailable, "repair the drift", w)
	}
	report.Repaired = append(report.Repaired, repaired...)
	report.Counts.Repaired = len(repaired)
	return report, nil
}

// ScanDrift is lorawan_reconcile_scan: both sides in full, compared by DevEUI.
func (a *Activities) ScanDrift(ctx context.Context, in otaflow.ReconcileInput) (otaflow.ReconcileScan, error) {
	cl, s, err := a.client(ctx, in.TenantID)
	if err != nil {
		return otaflow.ReconcileScan{}, err
	}
	remote, err := a.listApplication(ctx, cl, s.ApplicationID)
	if err != nil {
		return otaflow.ReconcileScan{}, err
	}
	local, err := a.listMirrored(ctx, in.TenantID)
	if err != nil {
		return otaflow.ReconcileScan{}, err
	}
	return compare(remote, local), nil
}

func (a *Activities) listApplication(ctx context.Context, cl *chirpstack.Client, applicationID string) ([]*api.DeviceListItem, error) {
	var out []*api.DeviceListItem
	for offset := uint32(0); ; {
		cctx, cancel := a.callContext(ctx)
		resp, err := cl.Devices.List(cctx, &api.ListDevicesRequest{ApplicationId: applicationID, Limit: chirpStackPage,
			Offset: offset, OrderBy: api.ListDevicesRequest_DEV_EUI})
		cancel()
		if chirpstack.Code(err) == codes.NotFound {
			return nil, failure(otaflow.LoRaWANFailRejected, otaflow.LoRaWANFailure{Field: "settings", Code: codes.NotFound.String(),
				Message: fmt.Sprintf("ChirpStack application %s of the settings does not exist", applicationID)})
		}
		if err != nil {
			return nil, chirpStackError("listing the application's devices", err)
		}
		out = append(out, resp.GetResult()...)
		offset += uint32(len(resp.GetResult()))
		if len(resp.GetResult()) == 0 || offset >= resp.GetTotalCount() {
			return out, nil
		}
	}
}

func (a *Activities) listMirrored(ctx context.Context, tenantID string) ([]model.LoRaWANDeviceRecord, error) {
	var out []model.LoRaWANDeviceRecord
	after := ""
	for {
		page, err := a.Store.ListLoRaWANDevices(ctx, tenantID, store.Page{After: after, Limit: dbPage})
		if err != nil {
			return nil, transientDB("list the devices", err)
		}
		out = append(out, page...)
		if len(page) < dbPage {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// compare finds the drift; lists are sorted by DevEUI and cut at MaxReconcileItems.
func compare(remote []*api.DeviceListItem, local []model.LoRaWANDeviceRecord) otaflow.ReconcileScan {
	byEUI := make(map[string]*api.DeviceListItem, len(remote))
	for _, d := range remote {
		byEUI[d.GetDevEui()] = d
	}
	var scan otaflow.ReconcileScan
	seen := make(map[string]bool, len(local))
	for _, rec := range local {
		eui := rec.LoRaWAN.DevEUI
		seen[eui] = true
		d, ok := byEUI[eui]
		switch {
		case !ok:
			scan.MissingInChirpStack = append(scan.MissingInChirpStack, otaflow.DriftDevice{DeviceID: rec.ID, DevEUI: eui,
				DeviceProfileID: rec.LoRaWAN.DeviceProfileID})
		case d.GetDeviceProfileId() != rec.LoRaWAN.DeviceProfileID:
			scan.ProfileMismatch = append(scan.ProfileMismatch, otaflow.ProfileMismatch{DeviceID: rec.ID, DevEUI: eui,
				DBProfileID: rec.LoRaWAN.DeviceProfileID, ChirpStackProfileID: d.GetDeviceProfileId()})
		}
	}
	for _, d := range remote {
		if !seen[d.GetDevEui()] {
			scan.MissingInDB = append(scan.MissingInDB, otaflow.DriftDevice{DevEUI: d.GetDevEui(), Name: d.GetName(),
				DeviceProfileID: d.GetDeviceProfileId(), Tags: maps.Clone(d.GetTags())})
		}
	}
	scan.Checked = len(seen) + len(scan.MissingInDB)
	sort.Slice(scan.MissingInChirpStack, func(i, j int) bool {
		return scan.MissingInChirpStack[i].DevEUI < scan.MissingInChirpStack[j].DevEUI
	})
	sort.Slice(scan.MissingInDB, func(i, j int) bool { return scan.MissingInDB[i].DevEUI < scan.MissingInDB[j].DevEUI })
	sort.Slice(scan.ProfileMismatch, func(i, j int) bool { return scan.ProfileMismatch[i].DevEUI < scan.ProfileMismatch[j].DevEUI })
	scan.MissingInChirpStackCount = len(scan.MissingInChirpStack)
	scan.MissingInDBCount = len(scan.MissingInDB)
	scan.ProfileMismatchCount = len(scan.ProfileMismatch)
	scan.MissingInChirpStack = scan.MissingInChirpStack[:min(len(scan.MissingInChirpStack), otaflow.MaxReconcileItems)]
	scan.MissingInDB = scan.MissingInDB[:min(len(scan.MissingInDB), otaflow.MaxReconcileItems)]
	scan.ProfileMismatch = scan.ProfileMismatch[:min(len(scan.ProfileMismatch), otaflow.MaxReconcileItems)]
	return scan
}

// RepairDrift is lorawan_reconcile_repair. A repair already done (by an earlier
// attempt) is reported again; a device that changed meanwhile is skipped.
func (a *Activities) RepairDrift(ctx context.Context, req otaflow.RepairRequest) ([]otaflow.Repair, error) {
	cl, s, err := a.client(ctx, req.TenantID)
	if err != nil {
		return nil, err
	}
	log := activity.GetLogger(ctx)
	out := []otaflow.Repair{}
	for _, m := range req.MissingInDB {
		rep, ok, err := a.mirrorFound(ctx, cl, s, req.TenantID, m)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, rep)
		} else {
			log.Info("ChirpStack-only device not mirrored: it changed meanwhile", zap.String("dev_eui", m.DevEUI))
		}
	}
	for _, m := range req.ProfileMismatch {
		profile := m.ChirpStackProfileID
		_, err := a.Store.UpdateLoRaWANDevice(ctx, req.TenantID, m.DeviceID, store.LoRaWANUpdate{DeviceProfileID: &profile})
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return nil, transientDB("update the device profile", err)
		}
		out = append(out, otaflow.Repair{DeviceID: m.DeviceID, DevEUI: m.DevEUI, Action: otaflow.RepairProfileUpdated})
	}
	return out, nil
}

// mirrorFound records a ChirpStack-only device in the database under the device id it
// was created for (its tag), or its DevEUI when that is absent or taken, with the
// hardware model and version of its tags when they are valid.
func (a *Activities) mirrorFound(ctx context.Context, cl *chirpstack.Client, s model.ChirpStackSettings, tenantID string,
	m otaflow.DriftDevice) (otaflow.Repair, bool, error) {
	dev, err := a.getDevice(ctx, cl, m.DevEUI)
	switch {
	case chirpstack.Code(err) == codes.NotFound:
		return otaflow.Repair{}, false, nil
	case err != nil:
		return otaflow.Repair{}, false, chirpStackError("reading the device", err)
	case dev.GetApplicationId() != s.ApplicationID:
		return otaflow.Repair{}, false, nil
	}
	tags := dev.GetTags()
	d := model.Device{TenantID: tenantID, Transport: model.TransportLoRaWAN, Labels: map[string]string{},
		HardwareModel: otaflow.UnknownHardwareModel, FirmwareVersion: otaflow.UnknownVersion}
	if hw := tags[otaflow.TagHardwareModel]; model.ValidateIdent("", hw) == nil {
		d.HardwareModel = hw
	}
	if v := tags[otaflow.TagFirmwareVersion]; model.ValidateVersion("", v) == nil {
		d.FirmwareVersion = v
	}
	l := model.LoRaWANDevice{DevEUI: m.DevEUI, JoinEUI: dev.GetJoinEui(), DeviceProfileID: dev.GetDeviceProfileId(),
		ApplicationID: s.ApplicationID}
	var ids []string
	if id := tags[otaflow.TagDeviceID]; model.ValidateIdent("", id) == nil {
		ids = append(ids, id)
	}
	ids = append(ids, m.DevEUI)
	for _, id := range ids {
		d.ID = id
		_, err := a.Store.CreateLoRaWANDevice(ctx, d, l)
		if err == nil {
			return otaflow.Repair{DeviceID: id, DevEUI: m.DevEUI, Action: otaflow.RepairMirrored}, true, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return otaflow.Repair{}, false, transientDB("mirror the device", err)
		}
		if rec, err := a.Store.LoRaWANDeviceByEUI(ctx, tenantID, m.DevEUI); err == nil {
			// Mirrored already (an earlier attempt, or a create that finished meanwhile).
			return otaflow.Repair{DeviceID: rec.ID, DevEUI: m.DevEUI, Action: otaflow.RepairMirrored}, true, nil
		}
	}
	return otaflow.Repair{}, false, nil
}
