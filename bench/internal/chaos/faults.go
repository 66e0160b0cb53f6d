package chaos

import (
	"context"
	"fmt"
	"time"
)

// fault is one thing that goes wrong while a campaign runs, and how it is undone.
type fault struct {
	name        string
	description string
	workers     int     // worker processes of the run
	at          float64 // share of the campaign's device runs finished when it strikes
	// back says what "the faulty part is back" means for this fault.
	back   string
	inject func(ctx context.Context, e *env, t *timeline) error
}

// Faults in the order they run.
var faults = []fault{
	{
		name:        "worker-restart",
		description: "the only worker SIGKILLed at 20 %, kept down until no device is mid-update, restarted with the same MQTT client id",
		workers:     1, at: 0.2, back: "worker process started again",
		inject: killAndRestartWorker,
	},
	{
		name:        "worker-lost",
		description: "two workers; one SIGKILLed at 30 % and never restarted",
		workers:     2, at: 0.3, back: "never: measured from the kill, when the surviving worker must take over",
		inject: loseWorker,
	},
	{
		name:        "broker-restart",
		description: "the run's own Mosquitto (persistence on) SIGKILLed at 30 %, restarted on the same port and persistence directory after 5 s",
		workers:     1, at: 0.3, back: "broker process started again",
		inject: restartBroker,
	},
	{
		name:        "postgres-cut",
		description: "every connection of api and worker to PostgreSQL cut at 30 % and new ones refused for 15 s",
		workers:     1, at: 0.3, back: "proxy accepting connections again",
		inject: cutPostgres,
	},
}

func faultNames() []string {
	out := make([]string, len(faults))
	for i, f := range faults {
		out[i] = f.name
	}
	return out
}

func faultByName(name string) (fault, bool) {
	for _, f := range faults {
		if f.name == name {
			return f, true
		}
	}
	return fault{}, false
}

// timeline is what a fault records: when it struck, when the faulty part was back,
// and what it saw meanwhile.
type timeline struct {
	fault    string
	injected time.Time
	back     time.Time
	notes    []string
}

// note records an observation for the report and logs it at once, so the log's clock
// tells when it happened.
func (t *timeline) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	t.notes = append(t.notes, n)
	logf("%s: %s", t.fault, n)
}
