package devicefeed

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/cadence/.gen/go/shared"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// signalLog records the signals it is asked to deliver; fail decides each attempt.
type signalLog struct {
	mu      sync.Mutex
	fail    func(n int) error
	tries   int
	signals []recordedSignal
}

type recordedSignal struct {
	workflowID, runID, name string
	reports                 otaflow.MemberReports
}

func (l *signalLog) SignalWorkflow(_ context.Context, _, workflowID, runID, signal string, arg interface{}) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tries++
	if l.fail != nil {
		if err := l.fail(l.tries); err != nil {
			return err
		}
	}
	l.signals = append(l.signals, recordedSignal{workflowID, runID, signal, arg.(otaflow.MemberReports)})
	return nil
}

func (l *signalLog) sent() []recordedSignal {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]recordedSignal(nil), l.signals...)
}

type noProgress struct{}

func (noProgress) AdvanceRun(context.Context, string, string, string, model.DeviceState) error {
	return nil
}
func (noProgress) RecordRunProgress(context.Context, string, string, string, string, model.DeviceState, int) error {
	return nil
}

const (
	batchGroup = "5d7e0c4a-1b2f-4e3d-9a8b-7c6d5e4f3a21"
	batchRun   = "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01"
	otherGroup = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
)

func memberPending(group, device string, status otaflow.ReportStatus) pending {
	return pending{key: deviceKey{"tenant-1", device}, route: otaflow.Route{Group: group, RunID: batchRun},
		report: otaflow.DeviceReport{CommandID: group + "/" + batchRun + ":4", Status: status}}
}

func newTestBatches(s Signaler, window time.Duration) (*groupBatches, *Metrics) {
	m := NewMetrics(prometheus.NewRegistry())
	log := zap.NewNop()
	return newGroupBatches(s, noProgress{}, m, log, newDropLog(log, m), window), m
}

func devicesOf(s recordedSignal) []string {
	var ids []string
	for _, r := range s.reports.Reports {
		ids = append(ids, r.DeviceID+":"+string(r.Report.Status))
	}
	return ids
}

func TestGroupBatchesGatherAGroupsReports(t *testing.T) {
	log := &signalLog{}
	b, _ := newTestBatches(log, 100*time.Millisecond)
	for _, p := range []pending{
		memberPending(batchGroup, "dev-a", otaflow.ReportInstalled),
		memberPending(otherGroup, "dev-x", otaflow.ReportFailed),
		memberPending(batchGroup, "dev-b", otaflow.ReportInstalled),
		memberPending(batchGroup, "dev-a", otaflow.ReportRolledBack),
	} {
		if !b.add(p) {
			t.Fatal("no room for a report")
		}
	}
	b.close()
	got := log.sent()
	if len(got) != 2 {
		t.Fatalf("%d signals, want one per group: %+v", len(got), got)
	}
	byGroup := map[string]recordedSignal{}
	for _, s := range got {
		if s.name != otaflow.SignalMemberReports || s.runID != batchRun {
			t.Errorf("signal %+v", s)
		}
		byGroup[s.workflowID] = s
	}
	want := []string{"dev-a:INSTALLED", "dev-b:INSTALLED", "dev-a:ROLLED_BACK"}
	if ids := devicesOf(byGroup[otaflow.GroupWorkflowID(batchGroup)]); len(ids) != 3 || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
		t.Errorf("group's reports %v, want %v in the order they came", ids, want)
	}
	if ids := devicesOf(byGroup[otaflow.GroupWorkflowID(otherGroup)]); len(ids) != 1 || ids[0] != "dev-x:FAILED" {
		t.Errorf("other group's reports %v", ids)
	}
}

// A batch Cadence cannot take is retried, and what came meanwhile follows it (in the
// same signal or the next), in order.
func TestGroupBatchesRetryInOrder(t *testing.T) {
	log := &signalLog{fail: func(n int) error {
		if n <= 2 {
			return errors.New("cadence unavailable")
		}
		return nil
	}}
	b, _ := newTestBatches(log, 10*time.Millisecond)
	b.add(memberPending(batchGroup, "dev-a", otaflow.ReportInstalled))
	time.Sleep(100 * time.Millisecond) // the first batch is being retried
	b.add(memberPending(batchGroup, "dev-a", otaflow.ReportRolledBack))
	delivered := func() []string {
		var all []string
		for _, s := range log.sent() {
			all = append(all, devicesOf(s)...)
		}
		return all
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(delivered()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	b.close()
	if got := delivered(); len(got) != 2 || got[0] != "dev-a:INSTALLED" || got[1] != "dev-a:ROLLED_BACK" {
		t.Fatalf("delivered %v", got)
	}
	if b.pending != 0 || len(b.groups) != 0 {
		t.Fatalf("left behind: %d pending, %d groups", b.pending, len(b.groups))
	}
}

// One signal carries at most maxPerSignal reports; the rest follow in order.
func TestGroupBatchesSplitLargeBatches(t *testing.T) {
	log := &signalLog{}
	b, _ := newTestBatches(log, 50*time.Millisecond)
	for range maxPerSignal + 5 {
		b.add(memberPending(batchGroup, "dev-a", otaflow.ReportInstalled))
	}
	b.close()
	got := log.sent()
	if len(got) != 2 || len(got[0].reports.Reports) != maxPerSignal || len(got[1].reports.Reports) != 5 {
		t.Fatalf("%d signals", len(got))
	}
}

// Reports for a group that has closed are dropped and counted, not retried.
func TestGroupBatchesDropReportsForAClosedGroup(t *testing.T) {
	log := &signalLog{fail: func(int) error { return &shared.EntityNotExistsError{Message: "gone"} }}
	b, m := newTestBatches(log, time.Millisecond)
	b.add(memberPending(batchGroup, "dev-a", otaflow.ReportInstalled))
	b.add(memberPending(batchGroup, "dev-b", otaflow.ReportInstalled))
	b.close()
	if log.tries != 1 {
		t.Fatalf("%d tries, want one", log.tries)
	}
	if n := testutil.ToFloat64(m.Dropped.WithLabelValues("run_closed")); n != 2 {
		t.Fatalf("%v reports counted as dropped", n)
	}
}

// Beyond maxBatched the caller keeps the report (back-pressure), and a closing feed takes none.
func TestGroupBatchesRefuseBeyondTheirBound(t *testing.T) {
	block := make(chan struct{})
	log := &signalLog{fail: func(int) error { <-block; return nil }}
	b, _ := newTestBatches(log, time.Millisecond)
	for i := range maxBatched {
		if !b.add(memberPending(batchGroup, "dev-a", otaflow.ReportInstalled)) {
			t.Fatalf("report %d refused below the bound", i)
		}
	}
	if b.add(memberPending(batchGroup, "dev-a", otaflow.ReportInstalled)) {
		t.Fatal("a report beyond the bound was taken")
	}
	close(block)
	b.close()
	if b.add(memberPending(batchGroup, "dev-a", otaflow.ReportInstalled)) {
		t.Fatal("a closed feed took a report")
	}
}
