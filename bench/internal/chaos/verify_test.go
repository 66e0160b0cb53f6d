package chaos

import (
	"reflect"
	"testing"
	"time"

	"github.com/otaplane/ota/bench/internal/otaapi"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
)

func TestHistoryProblems(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	row := func(id int64, outcome, to, running string, at time.Duration) otaapi.HistoryRow {
		return otaapi.HistoryRow{ID: id, Outcome: outcome, FromVersion: "1.0.0", ToVersion: to, RunningVersion: running,
			RunID: "r", CreatedAt: t0.Add(at)}
	}
	for _, tc := range []struct {
		name              string
		running, recorded string
		hist              []otaapi.HistoryRow
		ended             bool
		want              int
	}{
		{name: "succeeded and consistent", running: "2.0.0", recorded: "2.0.0",
			hist: []otaapi.HistoryRow{row(1, "SUCCEEDED", "2.0.0", "2.0.0", 0)}, ended: true, want: 0},
		{name: "record lags behind the device", running: "2.0.0", recorded: "1.0.0",
			hist: []otaapi.HistoryRow{row(1, "TIMED_OUT", "2.0.0", "", 0)}, ended: true, want: 1},
		{name: "succeeded row but device still on the old image", running: "1.0.0", recorded: "2.0.0",
			hist: []otaapi.HistoryRow{row(1, "SUCCEEDED", "2.0.0", "", 0)}, ended: true, want: 2},
		{name: "rolled back, device on the old image", running: "1.0.0", recorded: "1.0.0",
			hist: []otaapi.HistoryRow{row(1, "ROLLED_BACK", "2.0.0", "1.0.0", 0)}, ended: true, want: 0},
		{name: "running version in the row is wrong", running: "1.0.0", recorded: "1.0.0",
			hist: []otaapi.HistoryRow{row(1, "FAILED", "2.0.0", "2.0.0", 0)}, ended: true, want: 1},
		{name: "ended run without a row", running: "1.0.0", recorded: "1.0.0", ended: true, want: 1},
		{name: "never dispatched, no row", running: "1.0.0", recorded: "1.0.0", ended: false, want: 0},
		{name: "the newest row counts whatever the order", running: "2.0.0", recorded: "2.0.0",
			hist:  []otaapi.HistoryRow{row(1, "FAILED", "2.0.0", "1.0.0", 0), row(2, "SUCCEEDED", "2.0.0", "2.0.0", time.Second)},
			ended: true, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := historyProblems(tc.running, tc.recorded, tc.hist, tc.ended)
			if len(got) != tc.want {
				t.Errorf("got %d problems %q, want %d", len(got), got, tc.want)
			}
		})
	}
}

func TestCountCommands(t *testing.T) {
	cmd := func(typ devicev1.CommandType, id string) *devicev1.Command {
		return &devicev1.Command{Type: typ, CommandId: id}
	}
	upd, st, rb := devicev1.CommandType_COMMAND_TYPE_UPDATE, devicev1.CommandType_COMMAND_TYPE_STATUS_REQUEST,
		devicev1.CommandType_COMMAND_TYPE_ROLLBACK
	for _, tc := range []struct {
		name string
		cmds []*devicev1.Command
		want commandCounts
	}{
		{name: "none", want: commandCounts{}},
		{name: "one update", cmds: []*devicev1.Command{cmd(upd, "a")},
			want: commandCounts{updateDeliveries: 1, distinctUpdates: 1, updateIDs: []string{"a"}}},
		{name: "redelivered update and probes", cmds: []*devicev1.Command{cmd(upd, "a"), cmd(st, "s1"), cmd(upd, "a"), cmd(st, "s2")},
			want: commandCounts{updateDeliveries: 2, distinctUpdates: 1, updateIDs: []string{"a"}, statusRequests: 2}},
		{name: "two updates and a rollback", cmds: []*devicev1.Command{cmd(upd, "a"), cmd(rb, "r"), cmd(upd, "b")},
			want: commandCounts{updateDeliveries: 2, distinctUpdates: 2, updateIDs: []string{"a", "b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := countCommands(tc.cmds); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
