package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/otaplane/ota/bench/internal/report"
	"github.com/otaplane/ota/bench/internal/stack"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store/postgres"
)

// Samples per measured call in the scale scenario, and how long the status load lasts.
const (
	scaleAggregateSamples = 30
	scaleDryRunSamples    = 5
	scalePageSamples      = 40
	scaleStatusLoad       = 20 * time.Second
	scaleMarkChunk        = 10000
)

// scaleMix is the share of a large campaign's devices given each state: a campaign well
// under way, with every kind of row the status aggregate and the dry run read.
var scaleMix = []struct {
	state  model.DeviceState
	perMil int
}{
	{model.StateSucceeded, 500}, {model.StateFailed, 30}, {model.StateRolledBack, 20}, {model.StateTimedOut, 20},
	{model.StateDownloading, 80}, {model.StateCommanded, 50}, {model.StatePending, 300},
}

// scale measures the queries that grow with a campaign, with one campaign of every
// device in the database and no device runs (report.Scale).
func (e *env) scale(ctx context.Context, res *report.Run) error {
	name := e.spec.Name()
	if err := e.createTenant(ctx); err != nil {
		return err
	}
	ids := make([]string, e.spec.Devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("dev-%06d", i+1)
	}
	logf("%s: creating %d devices", name, len(ids))
	t0 := time.Now()
	if err := e.importDevices(ctx, ids); err != nil {
		return fmt.Errorf("create devices: %w", err)
	}
	res.CreateSeconds = round(time.Since(t0).Seconds(), 1)
	s := &report.Scale{Devices: len(ids), States: map[string]int{}}
	res.Scale = s

	t0 = time.Now()
	camp, err := e.client.CreateCampaign(ctx, "scale", e.firmware.ID, ids)
	if err != nil {
		return fmt.Errorf("create campaign: %w", err)
	}
	s.CreateSeconds = round(time.Since(t0).Seconds(), 1)
	logf("%s: campaign over %d devices created in %.1f s", name, len(ids), s.CreateSeconds)

	st, err := postgres.Open(config.Database{DSN: stack.DSN(e.appDB), MaxOpenConns: 4, QueryTimeout: time.Minute,
		ConnMaxLifetime: time.Hour})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := e.mixStates(ctx, st, camp.ID, ids, s); err != nil {
		return err
	}

	var samples []float64
	for range scaleAggregateSamples {
		t := time.Now()
		if _, err := st.CampaignStatus(ctx, e.tenantID, camp.ID); err != nil {
			return fmt.Errorf("status aggregate: %w", err)
		}
		samples = append(samples, ms(time.Since(t)))
	}
	s.Aggregate = report.Summarize(samples)

	if e.opts.StatusClients > 0 {
		l := startStatusLoad(ctx, e.client, camp.ID, e.opts.StatusClients, scaleStatusLoad)
		<-l.done
		s.Status = l.stop(0, time.Time{})
	}

	samples = nil
	for range scaleDryRunSamples {
		t := time.Now()
		if err := e.client.DryRun(ctx, camp.ID); err != nil {
			return fmt.Errorf("dry run: %w", err)
		}
		samples = append(samples, ms(time.Since(t)))
	}
	s.DryRun, s.DryRunSamples = report.Summarize(samples), len(samples)

	samples = nil
	step := max(1, len(ids)/scalePageSamples)
	for after := 0; after < len(ids); after += step {
		t := time.Now()
		if _, err := e.client.CampaignDevicesPage(ctx, camp.ID, after, 100); err != nil {
			return fmt.Errorf("devices page: %w", err)
		}
		samples = append(samples, ms(time.Since(t)))
	}
	s.DevicesPage = report.Summarize(samples)
	logf("%s: status aggregate p50 %.1f ms, dry run p50 %.0f ms, device page p50 %.1f ms", name, s.Aggregate.P50Ms,
		s.DryRun.P50Ms, s.DevicesPage.P50Ms)
	return nil
}

// mixStates gives the campaign's rows the states of scaleMix, spread over the campaign.
func (e *env) mixStates(ctx context.Context, st *postgres.Store, campaignID string, ids []string, s *report.Scale) error {
	shuffled := append([]string{}, ids...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	at := 0
	for _, m := range scaleMix {
		n := len(ids) * m.perMil / 1000
		part := shuffled[at:min(at+n, len(shuffled))]
		at += len(part)
		s.States[string(m.state)] += len(part)
		if m.state == model.StatePending {
			continue // where every row starts
		}
		for start := 0; start < len(part); start += scaleMarkChunk {
			if err := st.MarkCampaignDevices(ctx, otaflow.MarkCampaignDevicesRequest{TenantID: e.tenantID,
				CampaignID: campaignID, DeviceIDs: part[start:min(start+scaleMarkChunk, len(part))], State: m.state}); err != nil {
				return fmt.Errorf("mix states: %w", err)
			}
		}
	}
	s.States[string(model.StatePending)] += len(ids) - at
	return nil
}
