package commands

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/otaplane/ota/otactl/internal/apiclient"
)

type apiKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Prefix    string     `json:"prefix"`
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Secret    string     `json:"secret"`
}

func (e *env) keyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Aliases: []string{"keys"}, Short: "API keys (admin): create, list, rotate, revoke"}
	var role string
	var expires time.Duration
	create := &cobra.Command{
		Use:   "create NAME --role viewer|operator|admin",
		Short: "A new key; its secret is shown once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"name": args[0], "role": role}
			if expires > 0 {
				body["expires_at"] = time.Now().Add(expires).UTC().Format(time.RFC3339)
			}
			var k apiKey
			return e.call(cmd, apiclient.Request{Op: "createKey", JSON: body}, &k, func() { e.showIssuedKey(k) })
		},
	}
	create.Flags().StringVar(&role, "role", "", "viewer (read only), operator (devices, firmware, campaigns) or admin")
	create.Flags().DurationVar(&expires, "expires-in", 0, "the key stops working after this long (0: never)")
	_ = create.MarkFlagRequired("role")

	var grace time.Duration
	rotate := &cobra.Command{
		Use:   "rotate ID",
		Short: "A new secret for the key; the previous one works for --grace (default: the server's auth.key_rotation_grace)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body map[string]string
			if cmd.Flags().Changed("grace") {
				body = map[string]string{"grace": grace.String()}
			}
			var out struct {
				Key      apiKey `json:"key"`
				Previous apiKey `json:"previous"`
			}
			return e.call(cmd, apiclient.Request{Op: "rotateKey", Path: map[string]string{"id": args[0]}, JSON: body}, &out,
				func() {
					e.showIssuedKey(out.Key)
					e.note("the previous secret (" + out.Previous.Prefix + "…) is " + out.Previous.State)
				})
		},
	}
	rotate.Flags().DurationVar(&grace, "grace", 0, "how long the previous secret keeps working")

	var p pageFlags
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "The tenant's keys (never a secret)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list(e, cmd, p, "listKeys", nil, "keys", e.keyList)
		},
	}
	p.add(listCmd)
	cmd.AddCommand(create, rotate, listCmd, &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key at once, on every API replica",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var k apiKey
			return e.call(cmd, apiclient.Request{Op: "revokeKey", Path: map[string]string{"id": args[0]}}, &k,
				func() { e.keyList([]apiKey{k}) })
		},
	})
	return cmd
}

func (e *env) showIssuedKey(k apiKey) {
	fields(e.stdout, "id", k.ID, "name", k.Name, "role", k.Role, "secret", k.Secret)
	e.note("the secret is shown once")
}

func (e *env) keyList(ks []apiKey) {
	rows := make([][]string, len(ks))
	for i, k := range ks {
		expires := ""
		if k.ExpiresAt != nil {
			expires = k.ExpiresAt.UTC().Format(time.RFC3339)
		}
		rows[i] = []string{k.ID, k.Name, k.Role, k.State, k.Prefix + "…", k.CreatedAt.UTC().Format(time.RFC3339), expires}
	}
	table(e.stdout, []string{"ID", "NAME", "ROLE", "STATE", "PREFIX", "CREATED", "EXPIRES"}, rows)
}

func (e *env) settingsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "settings", Short: "The tenant's settings; set --four-eyes (admin)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var s struct {
				FourEyes bool `json:"four_eyes"`
			}
			return e.call(cmd, apiclient.Request{Op: "getSettings"}, &s,
				func() { fields(e.stdout, "four eyes", strconv.FormatBool(s.FourEyes)) })
		},
	}
	var fourEyes bool
	set := &cobra.Command{
		Use:   "set --four-eyes=true|false",
		Short: "Four eyes: a campaign's execute and approvals must come from another key than its creator's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("four-eyes") {
				return &exitError{code: exitUsage, msg: "nothing to set: --four-eyes=true or --four-eyes=false"}
			}
			var s struct {
				FourEyes bool `json:"four_eyes"`
			}
			return e.call(cmd, apiclient.Request{Op: "putSettings", JSON: map[string]bool{"four_eyes": fourEyes}}, &s,
				func() { fields(e.stdout, "four eyes", strconv.FormatBool(s.FourEyes)) })
		},
	}
	set.Flags().BoolVar(&fourEyes, "four-eyes", false, "require a second key for execute and approve")
	cmd.AddCommand(set)
	return cmd
}

func (e *env) auditCommand() *cobra.Command {
	var from, to time.Duration
	var actor, target, action string
	var limit int
	var before int64
	var all bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Who did what, newest first (--since 24h, --actor KEY, --target ID, --action campaign.execute)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			now := time.Now().UTC()
			if from > 0 {
				q.Set("from", now.Add(-from).Format(time.RFC3339))
			}
			if to > 0 {
				q.Set("to", now.Add(-to).Format(time.RFC3339))
			}
			for k, v := range map[string]string{"actor": actor, "target": target, "action": action} {
				if v != "" {
					q.Set(k, v)
				}
			}
			for {
				if before > 0 {
					q.Set("before", strconv.FormatInt(before, 10))
				}
				var page struct {
					Entries []struct {
						At         time.Time       `json:"at"`
						ActorName  string          `json:"actor_name"`
						ActorKeyID string          `json:"actor_key_id"`
						WorkflowID string          `json:"workflow_id"`
						Action     string          `json:"action"`
						TargetIDs  []string        `json:"target_ids"`
						Summary    json.RawMessage `json:"summary"`
						Result     string          `json:"result"`
					} `json:"entries"`
					NextBefore int64 `json:"next_before"`
				}
				err := e.call(cmd, apiclient.Request{Op: "listAudit", Query: q}, &page, func() {
					rows := make([][]string, len(page.Entries))
					for i, a := range page.Entries {
						who := a.ActorName
						if a.WorkflowID != "" {
							who += " (" + a.WorkflowID + ")"
						}
						rows[i] = []string{a.At.UTC().Format(time.RFC3339), who, a.Action, strings.Join(a.TargetIDs, ","), a.Result,
							string(a.Summary)}
					}
					table(e.stdout, []string{"AT", "WHO", "ACTION", "TARGETS", "RESULT", "SUMMARY"}, rows)
				})
				if err != nil || !all || page.NextBefore == 0 {
					return err
				}
				before = page.NextBefore
			}
		},
	}
	f := cmd.Flags()
	f.DurationVar(&from, "since", 0, "entries from this long ago")
	f.DurationVar(&to, "until", 0, "entries up to this long ago")
	f.StringVar(&actor, "actor", "", "an API key id")
	f.StringVar(&target, "target", "", "a device, campaign, key … id")
	f.StringVar(&action, "action", "", "e.g. campaign.execute, key.revoke")
	f.IntVar(&limit, "limit", 100, "entries per page (1-1000)")
	f.Int64Var(&before, "before", 0, "start before this entry (the previous page's next_before)")
	f.BoolVar(&all, "all", false, "follow every page")
	return cmd
}

type webhook struct {
	ID         string   `json:"id"`
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
	Enabled    bool     `json:"enabled"`
	Secret     string   `json:"secret"`
}

func (e *env) webhookCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "webhook", Aliases: []string{"webhooks"},
		Short: "Signed webhooks (admin): endpoints, their events and delivery attempts"}
	var events []string
	var disabled bool
	create := &cobra.Command{
		Use:   "create URL --event campaign.state_changed …",
		Short: "Register an endpoint; its signing secret is shown once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"url": args[0], "event_types": events, "enabled": !disabled}
			var w webhook
			return e.call(cmd, apiclient.Request{Op: "createWebhook", JSON: body}, &w, func() {
				fields(e.stdout, "id", w.ID, "url", w.URL, "events", strings.Join(w.EventTypes, ","),
					"enabled", strconv.FormatBool(w.Enabled), "secret", w.Secret)
				e.note("the secret is shown once; receivers verify each request with it (docs/webhooks.md)")
			})
		},
	}
	create.Flags().StringSliceVar(&events, "event", nil, "event types (repeatable or comma-separated)")
	create.Flags().BoolVar(&disabled, "disabled", false, "register it without delivering yet")

	var newURL string
	var newEvents []string
	var enable bool
	update := &cobra.Command{
		Use:   "update ID",
		Short: "Change an endpoint's URL (--url), events (--event) or --enabled",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{}
			if cmd.Flags().Changed("url") {
				body["url"] = newURL
			}
			if cmd.Flags().Changed("event") {
				body["event_types"] = newEvents
			}
			if cmd.Flags().Changed("enabled") {
				body["enabled"] = enable
			}
			var w webhook
			return e.call(cmd, apiclient.Request{Op: "updateWebhook", Path: map[string]string{"id": args[0]}, JSON: body}, &w,
				func() { e.webhookTable([]webhook{w}) })
		},
	}
	update.Flags().StringVar(&newURL, "url", "", "new URL")
	update.Flags().StringSliceVar(&newEvents, "event", nil, "new event types")
	update.Flags().BoolVar(&enable, "enabled", true, "deliver (true) or hold (false)")

	var p pageFlags
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "The tenant's endpoints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list(e, cmd, p, "listWebhooks", nil, "webhooks", e.webhookTable)
		},
	}
	p.add(listCmd)

	deliveries := &cobra.Command{
		Use:   "deliveries ID",
		Short: "Delivery attempts to an endpoint, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var page struct {
				Deliveries []struct {
					At         time.Time `json:"at"`
					EventID    string    `json:"event_id"`
					Attempt    int       `json:"attempt"`
					StatusCode int       `json:"status_code"`
					Error      string    `json:"error"`
					DurationMS int       `json:"duration_ms"`
					Delivered  bool      `json:"delivered"`
				} `json:"deliveries"`
			}
			return e.call(cmd, apiclient.Request{Op: "listWebhookDeliveries", Path: map[string]string{"id": args[0]}}, &page,
				func() {
					rows := make([][]string, len(page.Deliveries))
					for i, d := range page.Deliveries {
						rows[i] = []string{d.At.UTC().Format(time.RFC3339), d.EventID, strconv.Itoa(d.Attempt),
							strconv.Itoa(d.StatusCode), strconv.FormatBool(d.Delivered), fmt.Sprintf("%d ms", d.DurationMS), d.Error}
					}
					table(e.stdout, []string{"AT", "EVENT", "ATTEMPT", "STATUS", "DELIVERED", "TOOK", "ERROR"}, rows)
				})
		},
	}
	cmd.AddCommand(create, update, listCmd, deliveries, &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an endpoint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.call(cmd, apiclient.Request{Op: "deleteWebhook", Path: map[string]string{"id": args[0]}}, nil,
				func() { fmt.Fprintf(e.stdout, "deleted webhook %s\n", args[0]) })
		},
	})
	return cmd
}

func (e *env) webhookTable(ws []webhook) {
	rows := make([][]string, len(ws))
	for i, w := range ws {
		rows[i] = []string{w.ID, w.URL, strings.Join(w.EventTypes, ","), strconv.FormatBool(w.Enabled)}
	}
	table(e.stdout, []string{"ID", "URL", "EVENTS", "ENABLED"}, rows)
}
