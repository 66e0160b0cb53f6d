package commands

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/otaplane/ota/otactl/internal/apiclient"
	"github.com/otaplane/ota/otactl/internal/progress"
)

func (e *env) campaignCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "campaign", Aliases: []string{"campaigns"},
		Short: "Campaigns: create, dry-run, execute, watch, pause/resume/cancel/approve, status"}
	cmd.AddCommand(e.campaignCreate(), e.campaignList(), e.campaignGet(), e.campaignDryRun(), e.campaignExecute(),
		e.campaignWatch(), e.campaignStatus(), e.campaignDevices())
	for _, c := range []struct{ name, op, short string }{
		{name: "pause", op: "pauseCampaign", short: "Pause: no new device runs start; running ones finish"},
		{name: "resume", op: "resumeCampaign", short: "Resume a paused campaign"},
		{name: "cancel", op: "cancelCampaign", short: "Cancel: no new device runs start"},
		{name: "approve", op: "approveCampaign", short: "Let a campaign waiting at a manual gate go on"},
	} {
		cmd.AddCommand(e.campaignControl(c.name, c.op, c.short))
	}
	return cmd
}

// campaignSpec is a campaign as a YAML or JSON file gives it: the API's create request.
type campaignSpec map[string]any

func (e *env) campaignCreate() *cobra.Command {
	var file, name, firmwareID, groupID, selector string
	var devices []string
	var continuous, quiet bool
	var maxInFlight int
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a campaign from flags or a YAML/JSON file (-f); flags override the file",
		Long: `Create a campaign. A file (-f) holds the API's create request in YAML or JSON:

  name: eu rollout 1.4.0
  firmware_id: 6f1c...
  selector: region=eu
  rollout:
    waves: [{percent: 5}, {percent: 50}, {percent: 100}]
    gate: {mode: manual}
    max_in_flight: 200
    abort: {rules: [{failure_type: ALL, threshold_percent: 10, min_finished: 20}]}

Flags override the file's fields.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec := campaignSpec{}
			if file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					return &exitError{code: exitUsage, msg: err.Error()}
				}
				j, err := yaml.YAMLToJSON(b)
				if err != nil {
					return &exitError{code: exitUsage, msg: fmt.Sprintf("%s: %v", file, err)}
				}
				if err := json.Unmarshal(j, &spec); err != nil || spec == nil {
					return &exitError{code: exitUsage, msg: fmt.Sprintf("%s: want a mapping of the campaign's fields", file)}
				}
			}
			f := cmd.Flags()
			set := func(flag, key string, v any) {
				if f.Changed(flag) {
					spec[key] = v
				}
			}
			set("name", "name", name)
			set("firmware", "firmware_id", firmwareID)
			set("device", "device_ids", devices)
			set("group", "group_id", groupID)
			set("selector", "selector", selector)
			set("continuous", "continuous", continuous)
			if f.Changed("max-in-flight") {
				rollout, _ := spec["rollout"].(map[string]any)
				if rollout == nil {
					rollout = map[string]any{}
				}
				rollout["max_in_flight"] = maxInFlight
				spec["rollout"] = rollout
			}
			var c campaign
			return e.call(cmd, apiclient.Request{Op: "createCampaign", JSON: spec}, &c, func() {
				if quiet {
					fmt.Fprintln(e.stdout, c.ID)
					return
				}
				e.campaignFields(c)
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "campaign file (YAML or JSON)")
	f.StringVar(&name, "name", "", "campaign name")
	f.StringVar(&firmwareID, "firmware", "", "firmware id")
	f.StringSliceVar(&devices, "device", nil, "device ids (comma-separated or repeated)")
	f.StringVar(&groupID, "group", "", "group id")
	f.StringVar(&selector, "selector", "", "label selector, e.g. region=eu")
	f.BoolVar(&continuous, "continuous", false, "keep updating devices that match later (dynamic targets)")
	f.IntVar(&maxInFlight, "max-in-flight", 0, "device runs in flight at most")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the new campaign's id (for scripts)")
	return cmd
}

func (e *env) campaignFields(c campaign) {
	fields(e.stdout, "id", c.ID, "name", c.Name, "firmware", c.FirmwareID, "target", c.Target, "state", c.State,
		"reason", c.StateReason, "devices", strconv.Itoa(c.DeviceCount), "workflow", c.WorkflowID,
		"cadence web", c.CadenceWebURL)
}

func (e *env) campaignList() *cobra.Command {
	var p pageFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Campaigns",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list(e, cmd, p, "listCampaigns", nil, "campaigns", func(cs []campaign) {
				rows := make([][]string, len(cs))
				for i, c := range cs {
					rows[i] = []string{c.ID, c.Name, c.State, strconv.Itoa(c.DeviceCount), c.StateReason}
				}
				table(e.stdout, []string{"ID", "NAME", "STATE", "DEVICES", "REASON"}, rows)
			})
		},
	}
	p.add(cmd)
	return cmd
}

func (e *env) campaignGet() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "One campaign",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var c campaign
			return e.call(cmd, apiclient.Request{Op: "getCampaign", Path: map[string]string{"id": args[0]}}, &c,
				func() { e.campaignFields(c) })
		},
	}
}

func (e *env) campaignDryRun() *cobra.Command {
	return &cobra.Command{
		Use:   "dry-run ID",
		Short: "The waves the campaign would run and the devices it would leave out, as a table",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var d dryRun
			return e.call(cmd, apiclient.Request{Op: "dryRunCampaign", Path: map[string]string{"id": args[0]}}, &d, func() {
				fmt.Fprintf(e.stdout, "%d devices, %d eligible\n\n", d.Total, d.Eligible)
				rows := make([][]string, len(d.Waves))
				for i, w := range d.Waves {
					rows[i] = []string{strconv.Itoa(w.Wave), w.Name, strconv.Itoa(len(w.Devices)), strconv.Itoa(len(w.ConfirmOnly)),
						sample(w.Devices, 5)}
				}
				table(e.stdout, []string{"WAVE", "NAME", "DEVICES", "CONFIRM ONLY", "FIRST DEVICES"}, rows)
				if len(d.Excluded) > 0 {
					fmt.Fprintln(e.stdout)
					ex := make([][]string, len(d.Excluded))
					for i, x := range d.Excluded {
						ex[i] = []string{x.DeviceID, strconv.Itoa(x.Wave), x.Reason}
					}
					table(e.stdout, []string{"EXCLUDED", "WAVE", "REASON"}, ex)
				}
			})
		},
	}
}

// sample lists the first n ids, then how many more.
func sample(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ",")
	}
	return strings.Join(ids[:n], ",") + fmt.Sprintf(",… (+%d)", len(ids)-n)
}

func (e *env) campaignExecute() *cobra.Command {
	var w watchFlags
	cmd := &cobra.Command{
		Use:   "execute ID",
		Short: "Start the campaign; --watch follows it to the end (exit 1 unless it completes)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var x execution
			err := e.call(cmd, apiclient.Request{Op: "executeCampaign", Path: map[string]string{"id": args[0]}}, &x, func() {
				fields(e.stdout, "campaign", x.CampaignID, "device runs", strconv.Itoa(x.WorkflowsSubmitted),
					"workflow", x.WorkflowID, "run", x.RunID, "cadence web", x.CadenceWebURL)
			})
			if err != nil || !w.watch {
				return err
			}
			return e.watch(cmd, args[0], w)
		},
	}
	w.add(cmd, true)
	return cmd
}

func (e *env) campaignWatch() *cobra.Command {
	var w watchFlags
	cmd := &cobra.Command{
		Use:   "watch ID",
		Short: "Live progress until the campaign ends: a bar per wave with devices by state; exit 1 unless it completes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.watch(cmd, args[0], w)
		},
	}
	w.add(cmd, false)
	return cmd
}

func (e *env) campaignStatus() *cobra.Command {
	return &cobra.Command{
		Use:   "status ID",
		Short: "Progress now: devices by state, per wave",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var s progress.Status
			return e.call(cmd, apiclient.Request{Op: "getCampaignStatus", Path: map[string]string{"id": args[0]}}, &s,
				func() {
					for _, l := range progress.View(s, 30) {
						fmt.Fprintln(e.stdout, l)
					}
				})
		},
	}
}

func (e *env) campaignControl(name, op, short string) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   name + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body any
			if reason != "" {
				body = map[string]string{"reason": reason}
			}
			var st runState
			return e.call(cmd, apiclient.Request{Op: op, Path: map[string]string{"id": args[0]}, JSON: body}, &st, func() {
				fields(e.stdout, "campaign", st.CampaignID, "state", st.State, "reason", st.Reason,
					"paused", strconv.FormatBool(st.Paused), "finished", fmt.Sprintf("%d/%d", st.Finished, st.Total),
					"in flight", strconv.Itoa(st.InFlight))
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded with the campaign)")
	return cmd
}

func (e *env) campaignDevices() *cobra.Command {
	var limit, after int
	var all bool
	cmd := &cobra.Command{
		Use:   "devices ID",
		Short: "The campaign's devices in campaign order, with their state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for {
				q := url.Values{"limit": {strconv.Itoa(limit)}, "after_seq": {strconv.Itoa(after)}}
				var page struct {
					Devices      []campaignDevice `json:"devices"`
					NextAfterSeq int              `json:"next_after_seq"`
				}
				err := e.call(cmd, apiclient.Request{Op: "listCampaignDevices", Path: map[string]string{"id": args[0]}, Query: q},
					&page, func() {
						rows := make([][]string, len(page.Devices))
						for i, d := range page.Devices {
							rows[i] = []string{strconv.Itoa(d.Seq), d.DeviceID, strconv.Itoa(d.Wave), d.State, strconv.Itoa(d.Attempts), d.Reason}
						}
						table(e.stdout, []string{"SEQ", "DEVICE", "WAVE", "STATE", "ATTEMPTS", "REASON"}, rows)
					})
				if err != nil || !all || page.NextAfterSeq == 0 {
					return err
				}
				after = page.NextAfterSeq
			}
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "devices per page (1-1000)")
	cmd.Flags().IntVar(&after, "after-seq", 0, "start after this position (the previous page's next_after_seq)")
	cmd.Flags().BoolVar(&all, "all", false, "follow every page")
	return cmd
}

// watchFlags configure a live view.
type watchFlags struct {
	watch    bool
	interval time.Duration
	timeout  time.Duration
}

func (w *watchFlags) add(cmd *cobra.Command, optional bool) {
	if optional {
		cmd.Flags().BoolVar(&w.watch, "watch", false, "follow the campaign to the end (exit 1 unless it completes)")
	} else {
		w.watch = true
	}
	cmd.Flags().DurationVar(&w.interval, "interval", time.Second, "how often to look")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 0, "give up after this long (exit 1; 0: never)")
}
