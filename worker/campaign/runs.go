package campaign

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/google/uuid"

	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/rollout"
	"github.com/otaplane/ota/pkg/store"
)

// startParallel is how many device runs one dispatch starts at a time, and
// describeParallel how many runs a sweep or a cancel looks at at a time.
const (
	startParallel    = 16
	describeParallel = 8
	// sweepLimit bounds the runs one sweep looks at.
	sweepLimit = 200
)

// requestNamespace makes the start request ids of campaign dispatches.
var requestNamespace = uuid.MustParse("6f0d9c52-3c1e-4f63-9a54-0c3b8e2d7a10")

// runRequestID is the start request id of a device's attempt in a campaign: the same on
// every retry of the dispatch, so Cadence answers a repeated start with the run the
// first one made instead of starting another.
func runRequestID(campaignID, deviceID string, attempt int) string {
	return uuid.NewSHA1(requestNamespace, fmt.Appendf(nil, "%s/%s/%d", campaignID, deviceID, attempt)).String()
}

// DispatchDeviceRuns is dispatch_device_runs: it starts the device runs of the retried
// devices, then of the next devices of the wave, and records them. A device another
// update holds is recorded REJECTED (update_in_progress); a device an earlier attempt
// dispatched counts as dispatched again without a second run. LoRaWAN devices are
// returned unstarted, for their wave's FUOTA deployment.
func (a *Activities) DispatchDeviceRuns(ctx context.Context, req otaflow.DispatchRequest) (otaflow.DispatchResult, error) {
	retry := make([]int, len(req.Retries))
	for i, ref := range req.Retries {
		retry[i] = ref.Seq
	}
	rows, err := a.Store.CampaignDispatchRows(ctx, req.TenantID, req.CampaignID, retry, req.AfterSeq, req.ToSeq, req.Limit)
	if err != nil {
		return otaflow.DispatchResult{}, err
	}
	res := otaflow.DispatchResult{AfterSeq: req.AfterSeq}
	perWave := map[int]int{}
	read := 0 // rows after AfterSeq
	var toStart []store.DispatchRow
	for _, row := range rows {
		if row.Seq > req.AfterSeq {
			read++
			res.AfterSeq = max(res.AfterSeq, row.Seq)
		}
		switch {
		case row.Dispatched:
			if row.Transport != model.TransportLoRaWAN {
				perWave[row.Wave]++ // an earlier attempt of this dispatch started it
			}
		case row.State != model.StatePending && !otaflow.IsGroupWorkflowID(row.WorkflowID):
			// Finished before this kind of dispatch (a campaign that began with child runs).
			// A row a group already moved is this dispatch's, retried before it recorded
			// its groups: it goes into the same group again, so the groups come out as the
			// first attempt cut them and its outcome is collected.
		case row.Transport == model.TransportLoRaWAN:
			res.LoRaWAN = append(res.LoRaWAN, row.CampaignDeviceRef)
		default:
			perWave[row.Wave]++
			toStart = append(toStart, row)
		}
	}
	// Fewer rows than asked for: the rest of the wave is gone (devices deleted meanwhile).
	if read < req.Limit-len(req.Retries) {
		res.AfterSeq = max(res.AfterSeq, req.ToSeq)
	}
	start := a.start
	if a.DevicesPerRun > 1 && req.DispatchID != "" {
		start = a.startGroups
	}
	started, refused, err := start(ctx, req, toStart)
	// Whatever started is recorded even when some starts failed: the retry finds it.
	if rerr := a.Store.RecordDispatch(ctx, req.TenantID, req.CampaignID, started, refused, model.StateRejected,
		otaflow.ReasonUpdateInProgress); rerr != nil {
		return otaflow.DispatchResult{}, errors.Join(err, rerr)
	}
	if err != nil {
		return otaflow.DispatchResult{}, err
	}
	res.Refused = len(refused)
	for _, w := range slices.Sorted(maps.Keys(perWave)) {
		res.Dispatched = append(res.Dispatched, otaflow.WaveCount{Wave: w, N: perWave[w]})
	}
	return res, nil
}

// inParallel calls fn for every item, at most limit at a time.
func inParallel[T any](items []T, limit int, fn func(T)) {
	var wg sync.WaitGroup
	work := make(chan T)
	for range min(limit, len(items)) {
		wg.Go(func() {
			for it := range work {
				fn(it)
			}
		})
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
}

// start starts the runs of rows, startParallel at a time. It returns the runs started
// and the devices refused; an error is the first start that failed otherwise.
func (a *Activities) start(ctx context.Context, req otaflow.DispatchRequest, rows []store.DispatchRow) ([]store.StartedRun, []string, error) {
	dom := domain(ctx)
	var (
		mu       sync.Mutex
		started  []store.StartedRun
		refused  []string
		firstErr error
	)
	inParallel(rows, startParallel, func(row store.DispatchRow) {
		wfID := otaflow.DeviceWorkflowID(row.DeviceID)
		in := otaflow.UpdateDeviceInput{TenantID: req.TenantID, DeviceID: row.DeviceID, CampaignID: req.CampaignID,
			Firmware: req.Firmware, Policy: req.Policy}
		runID, err := a.Runs.StartDeviceRun(ctx, cadenceclient.DeviceRun{Domain: dom, TaskList: a.TaskList,
			WorkflowType: otaflow.UpdateDeviceWorkflow, WorkflowID: wfID, CampaignID: req.CampaignID,
			Timeout: req.Policy.RunTimeout(), DecisionTimeout: otaflow.DecisionTimeout, Input: in,
			RequestID: runRequestID(req.CampaignID, row.DeviceID, row.Attempts)})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			started = append(started, store.StartedRun{DeviceID: row.DeviceID, WorkflowID: wfID, RunID: runID})
		case errors.Is(err, cadenceclient.ErrDeviceBusy):
			refused = append(refused, row.DeviceID)
		case firstErr == nil:
			firstErr = fmt.Errorf("start run of %s: %w", row.DeviceID, err)
		}
	})
	return started, refused, firstErr
}

// startGroups starts the runs of rows in groups of DevicesPerRun, startParallel groups at
// a time. A group claims its devices as each one is checked, so no device is refused
// here; a start that failed leaves its devices undispatched, for the retry.
func (a *Activities) startGroups(ctx context.Context, req otaflow.DispatchRequest, rows []store.DispatchRow) ([]store.StartedRun, []string, error) {
	dom := domain(ctx)
	groups := slices.Collect(slices.Chunk(rows, a.DevicesPerRun))
	var (
		mu       sync.Mutex
		started  []store.StartedRun
		firstErr error
	)
	indexes := make([]int, len(groups))
	for i := range indexes {
		indexes[i] = i
	}
	inParallel(indexes, startParallel, func(i int) {
		key := otaflow.GroupKey(req.DispatchID, i)
		in := otaflow.UpdateGroupInput{TenantID: req.TenantID, CampaignID: req.CampaignID, Key: key,
			Firmware: req.Firmware, Policy: req.Policy, DeviceIDs: make([]string, len(groups[i]))}
		for j, row := range groups[i] {
			in.DeviceIDs[j] = row.DeviceID
		}
		wfID := otaflow.GroupWorkflowID(key)
		runID, err := a.Runs.StartDeviceRun(ctx, cadenceclient.DeviceRun{Domain: dom, TaskList: a.TaskList,
			WorkflowType: otaflow.UpdateGroupWorkflow, WorkflowID: wfID, CampaignID: req.CampaignID,
			Timeout: req.Policy.RunTimeout(), DecisionTimeout: otaflow.DecisionTimeout, Input: in, RequestID: key})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			for _, id := range in.DeviceIDs {
				started = append(started, store.StartedRun{DeviceID: id, WorkflowID: wfID, RunID: runID})
			}
		case firstErr == nil:
			firstErr = fmt.Errorf("start group %s of %d devices: %w", wfID, len(in.DeviceIDs), err)
		}
	})
	return started, nil, firstErr
}

// CollectOutcomes is collect_campaign_outcomes: it acknowledges the outcomes recorded
// since the last collection (repeatable with the same acknowledgement id) and sums them
// up; failures come one by one, for the retry rules. It may first sweep the runs in
// flight that ended without recording an outcome.
func (a *Activities) CollectOutcomes(ctx context.Context, req otaflow.CollectRequest) (otaflow.CollectResult, error) {
	if req.SweepIdle > 0 {
		if err := a.sweep(ctx, req); err != nil {
			return otaflow.CollectResult{}, err
		}
	}
	outcomes, err := a.Store.CollectOutcomes(ctx, req.TenantID, req.CampaignID, req.AckID, req.Limit)
	if err != nil {
		return otaflow.CollectResult{}, err
	}
	if len(outcomes) > 0 && a.Webhooks != nil {
		if err := a.Webhooks.Notify(ctx, req.TenantID, domain(ctx), req.CampaignID); err != nil {
			return otaflow.CollectResult{}, err
		}
	}
	res := otaflow.CollectResult{More: len(outcomes) >= req.Limit}
	counts := map[otaflow.OutcomeCount]int{}
	for _, o := range outcomes {
		if rollout.FailureTypeOf(o.State) != "" {
			res.Failures = append(res.Failures, o)
			continue
		}
		counts[otaflow.OutcomeCount{Wave: o.Wave, State: o.State}]++
	}
	for k, n := range counts {
		k.N = n
		res.Counts = append(res.Counts, k)
	}
	slices.SortFunc(res.Counts, func(x, y otaflow.OutcomeCount) int {
		return cmp.Or(cmp.Compare(x.Wave, y.Wave), cmp.Compare(x.State, y.State))
	})
	slices.SortFunc(res.Failures, func(x, y otaflow.DeviceOutcome) int { return cmp.Compare(x.Seq, y.Seq) })
	return res, nil
}

// sweep ends, as CANCELED, the runs in flight idle for req.SweepIdle whose workflow has
// closed without recording an outcome: timed out at Cadence's bound, or terminated.
func (a *Activities) sweep(ctx context.Context, req otaflow.CollectRequest) error {
	runs, err := a.Store.RunsInFlight(ctx, req.TenantID, req.CampaignID, req.SweepIdle, sweepLimit)
	if err != nil || len(runs) == 0 {
		return err
	}
	// A group holds many devices: ask about it once.
	closed, err := a.each(ctx, uniqueRuns(runs), func(ctx context.Context, dom string, r store.RunRef) (bool, error) {
		return a.Runs.RunClosed(ctx, dom, r.WorkflowID, r.RunID)
	})
	if err != nil || len(closed) == 0 {
		return err
	}
	isClosed := map[[2]string]bool{}
	for _, r := range closed {
		isClosed[[2]string{r.WorkflowID, r.RunID}] = true
	}
	var ended []store.RunRef
	for _, r := range runs {
		if isClosed[[2]string{r.WorkflowID, r.RunID}] {
			ended = append(ended, r)
		}
	}
	return a.Store.EndRuns(ctx, req.TenantID, req.CampaignID, ended, model.StateCanceled, otaflow.ReasonRunEnded)
}

// uniqueRuns is runs with one entry per workflow run: a group or a FUOTA deployment
// holds many devices.
func uniqueRuns(runs []store.RunRef) []store.RunRef {
	seen := map[[2]string]bool{}
	var unique []store.RunRef
	for _, r := range runs {
		if k := [2]string{r.WorkflowID, r.RunID}; !seen[k] {
			seen[k] = true
			unique = append(unique, r)
		}
	}
	return unique
}

// CancelDeviceRuns is cancel_device_runs: every run the campaign has in flight is asked
// to cancel (each records CANCELED and the campaign collects it). It returns how many.
func (a *Activities) CancelDeviceRuns(ctx context.Context, req otaflow.CancelRunsRequest) (int, error) {
	runs, err := a.Store.RunsInFlight(ctx, req.TenantID, req.CampaignID, 0, 0)
	if err != nil {
		return 0, err
	}
	asked, err := a.each(ctx, uniqueRuns(runs), func(ctx context.Context, dom string, r store.RunRef) (bool, error) {
		return true, a.Runs.CancelRun(ctx, dom, r.WorkflowID, r.RunID)
	})
	return len(asked), err
}

// each calls fn for runs, describeParallel at a time, and returns those it answered true
// for; an error is the first one.
func (a *Activities) each(ctx context.Context, runs []store.RunRef,
	fn func(ctx context.Context, domain string, r store.RunRef) (bool, error)) ([]store.RunRef, error) {
	dom := domain(ctx)
	var (
		mu       sync.Mutex
		out      []store.RunRef
		firstErr error
	)
	inParallel(runs, describeParallel, func(r store.RunRef) {
		ok, err := fn(ctx, dom, r)
		mu.Lock()
		defer mu.Unlock()
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if err == nil && ok {
			out = append(out, r)
		}
	})
	return out, firstErr
}
