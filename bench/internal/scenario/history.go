package scenario

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/cadence/.gen/go/shared"
	"go.uber.org/cadence/client"

	"github.com/otaplane/ota/bench/internal/report"
	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/otaflow"
)

// historySample is how many device runs' histories are read, evenly spread over the
// campaign.
const historySample = 40

// historyCost reads the histories a campaign left: a sample of its device runs, and
// every execution of the campaign's own continue-as-new chain from firstRunID.
func (e *env) historyCost(ctx context.Context, campaignID, firstRunID string) *report.HistoryCost {
	h := &report.HistoryCost{EventTypesPerRun: map[string]float64{}}
	if err := e.readHistories(ctx, campaignID, firstRunID, h); err != nil {
		h.Error = err.Error()
		logf("%s: history cost: %v", e.spec.Name(), err)
	}
	return h
}

func (e *env) readHistories(ctx context.Context, campaignID, firstRunID string, h *report.HistoryCost) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	conn, err := cadenceclient.Dial(config.Cadence{FrontendHost: "127.0.0.1", FrontendPort: 7114}, "ota-bench")
	if err != nil {
		return err
	}
	defer conn.Close()
	c := client.NewClient(conn.Service, cadenceclient.DomainName("ota-", e.tenantID), &client.Options{})

	devices, err := e.client.CampaignDevices(ctx, campaignID)
	if err != nil {
		return fmt.Errorf("campaign devices: %w", err)
	}
	// A group run holds many devices: its events are shared among them.
	members := map[[2]string]int{}
	for _, d := range devices {
		if d.WorkflowID != "" && d.RunID != "" {
			members[[2]string{d.WorkflowID, d.RunID}]++
		}
	}
	read := map[[2]string]bool{}
	step := max(1, len(devices)/historySample)
	for i := 0; i < len(devices) && h.WorkflowRunsSampled < historySample; i += step {
		d := devices[i]
		k := [2]string{d.WorkflowID, d.RunID}
		if d.WorkflowID == "" || d.RunID == "" || read[k] {
			continue
		}
		read[k] = true
		events, err := cadenceclient.History(ctx, c, d.WorkflowID, d.RunID)
		if err != nil {
			return fmt.Errorf("device %s: %w", d.DeviceID, err)
		}
		h.WorkflowRunsSampled++
		h.DeviceRunsSampled += members[k]
		for _, ev := range events {
			h.EventTypesPerRun[ev.GetEventType().String()]++
		}
		h.EventsPerRun += float64(len(events))
	}
	if n := float64(h.DeviceRunsSampled); n > 0 {
		for k, v := range h.EventTypesPerRun {
			h.EventTypesPerRun[k] = round(v/n, 2)
		}
		h.EventsPerRun = round(h.EventsPerRun/n, 2)
		h.DecisionsPerRun = h.EventTypesPerRun[shared.EventTypeDecisionTaskCompleted.String()]
		h.SignalsPerRun = h.EventTypesPerRun[shared.EventTypeWorkflowExecutionSignaled.String()]
		h.TimersPerRun = h.EventTypesPerRun[shared.EventTypeTimerStarted.String()]
	}

	for runID := firstRunID; runID != ""; {
		events, err := cadenceclient.History(ctx, c, otaflow.CampaignWorkflowID(campaignID), runID)
		if err != nil {
			return fmt.Errorf("campaign history, run %s: %w", runID, err)
		}
		h.CampaignRuns++
		h.CampaignEvents += len(events)
		h.CampaignMaxRunEvents = max(h.CampaignMaxRunEvents, len(events))
		runID = ""
		for _, ev := range events {
			if ev.GetEventType() == shared.EventTypeDecisionTaskCompleted {
				h.CampaignDecisions++
			}
			if a := ev.WorkflowExecutionContinuedAsNewEventAttributes; a != nil {
				runID = a.GetNewExecutionRunId()
			}
		}
	}
	if n := float64(e.spec.Devices); n > 0 {
		h.CampaignEventsPerDevice = round(float64(h.CampaignEvents)/n, 3)
		h.CampaignDecisionsPerDevice = round(float64(h.CampaignDecisions)/n, 4)
	}
	return nil
}
