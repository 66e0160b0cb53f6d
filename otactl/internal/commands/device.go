package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/otaplane/ota/otactl/internal/apiclient"
)

func (e *env) deviceCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "device", Aliases: []string{"devices"}, Short: "MQTT devices: register, list, import, label, state, history, credentials"}
	cmd.AddCommand(e.deviceCreate(), e.deviceList(), e.deviceGet(), e.deviceDelete(), e.deviceImport(), e.deviceLabel(),
		e.deviceState(), e.deviceHistory(), e.deviceCredentials())
	return cmd
}

func (e *env) deviceCreate() *cobra.Command {
	var model, version string
	var labelFlags []string
	cmd := &cobra.Command{
		Use:   "create ID",
		Short: "Register an MQTT device; its broker credentials are shown once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := parseLabels(labelFlags)
			if err != nil {
				return err
			}
			var out struct {
				device
				Credentials *credentials `json:"credentials"`
			}
			body := map[string]any{"id": args[0], "hardware_model": model, "firmware_version": version, "labels": l}
			return e.call(cmd, apiclient.Request{Op: "createDevice", JSON: body}, &out, func() {
				fields(e.stdout, "id", out.ID, "hardware model", out.HardwareModel, "firmware", out.FirmwareVersion,
					"labels", labels(out.Labels))
				if c := out.Credentials; c != nil {
					fields(e.stdout, "mqtt username", c.Username, "mqtt password", c.Password, "mqtt client id", c.ClientID,
						"broker", c.Broker)
					e.note("the MQTT password is shown once")
				}
			})
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "hardware model (required)")
	cmd.Flags().StringVar(&version, "version", "", "firmware version it runs")
	cmd.Flags().StringArrayVarP(&labelFlags, "label", "l", nil, "label key=value (repeatable)")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

// pageFlags are --limit and --after for lists, and --all to follow every page.
type pageFlags struct {
	limit int
	after string
	all   bool
}

func (p *pageFlags) add(cmd *cobra.Command) {
	cmd.Flags().IntVar(&p.limit, "limit", 100, "items per page (1-1000)")
	cmd.Flags().StringVar(&p.after, "after", "", "start after this id (the previous page's next_after)")
	cmd.Flags().BoolVar(&p.all, "all", false, "follow every page")
}

// list pages through op; each page's items are under key. With -o json every page's
// answer is printed as one JSON document per line of output.
func list[T any](e *env, cmd *cobra.Command, p pageFlags, op string, path map[string]string, key string,
	show func([]T)) error {
	after := p.after
	for {
		q := url.Values{"limit": {strconv.Itoa(p.limit)}}
		if after != "" {
			q.Set("after", after)
		}
		var page map[string]json.RawMessage
		var items []T
		var next string
		err := e.call(cmd, apiclient.Request{Op: op, Path: path, Query: q}, &page, nil)
		if err != nil {
			return err
		}
		if err := decodeField(page, key, &items); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if err := decodeField(page, "next_after", &next); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if e.output() != "json" {
			show(items)
		}
		if !p.all || next == "" {
			if next != "" && e.output() != "json" {
				e.note("more: --after " + next + " (or --all)")
			}
			return nil
		}
		after = next
	}
}

func (e *env) deviceList() *cobra.Command {
	var p pageFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Devices, by id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list(e, cmd, p, "listDevices", nil, "devices", e.deviceTable)
		},
	}
	p.add(cmd)
	return cmd
}

func (e *env) deviceTable(ds []device) {
	rows := make([][]string, len(ds))
	for i, d := range ds {
		rows[i] = []string{d.ID, d.Transport, d.HardwareModel, d.FirmwareVersion, labels(d.Labels), since(d.LastSeenAt)}
	}
	table(e.stdout, []string{"ID", "TRANSPORT", "MODEL", "FIRMWARE", "LABELS", "LAST SEEN"}, rows)
}

func (e *env) deviceGet() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "One device",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var d device
			return e.call(cmd, apiclient.Request{Op: "getDevice", Path: map[string]string{"id": args[0]}}, &d,
				func() { e.deviceTable([]device{d}) })
		},
	}
}

func (e *env) deviceDelete() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an MQTT device; its broker credentials stop working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.call(cmd, apiclient.Request{Op: "deleteDevice", Path: map[string]string{"id": args[0]}}, nil,
				func() { fmt.Fprintf(e.stdout, "deleted %s\n", args[0]) })
		},
	}
}

func (e *env) deviceImport() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Register many devices from CSV (id,hardware_model,firmware_version,labels) or a JSON array; all or nothing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			if format == "" {
				format = strings.TrimPrefix(strings.ToLower(filepath.Ext(args[0])), ".")
			}
			contentType := map[string]string{"csv": "text/csv", "json": "application/json"}[format]
			if contentType == "" {
				return &exitError{code: exitUsage, msg: "--format: want csv or json (or a .csv/.json file)"}
			}
			var out struct {
				Imported int `json:"imported"`
			}
			return e.call(cmd, apiclient.Request{Op: "importDevices", Body: bytes.NewReader(b), ContentType: contentType},
				&out, func() {
					fmt.Fprintf(e.stdout, "imported %d devices\n", out.Imported)
					e.note("imported devices have no broker credentials yet: otactl device credentials issue ID...")
				})
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "csv or json (default: from the file name)")
	return cmd
}

func (e *env) deviceLabel() *cobra.Command {
	var set, remove []string
	cmd := &cobra.Command{
		Use:   "label ID...",
		Short: "Set (--set k=v) and remove (--remove k) labels on devices",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := parseLabels(set)
			if err != nil {
				return err
			}
			var out struct {
				Updated int `json:"updated"`
			}
			body := map[string]any{"device_ids": args, "set": s, "remove": remove}
			return e.call(cmd, apiclient.Request{Op: "labelDevices", JSON: body}, &out,
				func() { fmt.Fprintf(e.stdout, "updated %d devices\n", out.Updated) })
		},
	}
	cmd.Flags().StringArrayVar(&set, "set", nil, "label key=value to set (repeatable)")
	cmd.Flags().StringArrayVar(&remove, "remove", nil, "label key to remove (repeatable)")
	return cmd
}

func (e *env) deviceState() *cobra.Command {
	return &cobra.Command{
		Use:   "state ID",
		Short: "The device's current or last update, live, with every transition",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var st deviceRun
			return e.call(cmd, apiclient.Request{Op: "getDeviceUpdateState", Path: map[string]string{"id": args[0]}}, &st,
				func() { e.showRun(st) })
		},
	}
}

func (e *env) showRun(st deviceRun) {
	fields(e.stdout, "device", st.DeviceID, "state", st.State, "reason", st.Reason, "campaign", st.CampaignID,
		"from", st.FromVersion, "target", st.TargetVersion, "progress", fmt.Sprintf("%d%%", st.ProgressPercent),
		"cadence web", st.CadenceWebURL)
	rows := make([][]string, len(st.History))
	for i, h := range st.History {
		rows[i] = []string{h.At.UTC().Format(time.RFC3339), h.State, h.Detail}
	}
	if len(rows) > 0 {
		fmt.Fprintln(e.stdout)
		table(e.stdout, []string{"AT", "STATE", "DETAIL"}, rows)
	}
}

func (e *env) deviceHistory() *cobra.Command {
	return &cobra.Command{
		Use:   "history ID",
		Short: "Every finished update of the device, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				History []historyRow `json:"history"`
			}
			return e.call(cmd, apiclient.Request{Op: "getDeviceFirmwareHistory", Path: map[string]string{"id": args[0]}},
				&out, func() {
					rows := make([][]string, len(out.History))
					for i, h := range out.History {
						rows[i] = []string{h.CreatedAt.UTC().Format(time.RFC3339), h.FromVersion, h.ToVersion, h.Outcome,
							h.Reason, h.CampaignID}
					}
					table(e.stdout, []string{"AT", "FROM", "TO", "OUTCOME", "REASON", "CAMPAIGN"}, rows)
				})
		},
	}
}

// decodeField decodes one field of an answer, if present.
func decodeField(m map[string]json.RawMessage, key string, v any) error {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return nil
	}
	return json.Unmarshal(raw, v)
}
