package commands

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/otaplane/ota/otactl/internal/apiclient"
)

type lorawanDevice struct {
	device
	LoRaWAN struct {
		DevEUI          string `json:"dev_eui"`
		DeviceProfileID string `json:"device_profile_id"`
	} `json:"lorawan"`
}

// stillRunning is a LoRaWAN operation's 202: it finishes (or undoes itself) on its own.
type stillRunning struct {
	WorkflowID string `json:"workflow_id"`
	Status     string `json:"status"`
	Message    string `json:"message"`
}

func (e *env) lorawanCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "lorawan", Short: "LoRaWAN: the tenant's ChirpStack, its devices, reconcile"}
	var s struct {
		address, token, chirpTenant, application, encoding string
		fport                                              int
	}
	put := &cobra.Command{
		Use:   "settings-set",
		Short: "Save the tenant's ChirpStack settings (checked against ChirpStack first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body := map[string]any{"api_address": s.address, "chirpstack_tenant_id": s.chirpTenant, "application_id": s.application}
			if s.token != "" {
				body["api_token"] = s.token
			}
			if s.encoding != "" {
				body["event_encoding"] = s.encoding
			}
			if cmd.Flags().Changed("version-fport") {
				body["version_fport"] = s.fport
			}
			return e.call(cmd, apiclient.Request{Op: "putLoRaWANSettings", JSON: body}, nil,
				func() { fmt.Fprintln(e.stdout, "saved") })
		},
	}
	f := put.Flags()
	f.StringVar(&s.address, "api-address", "", "ChirpStack gRPC API address, host:port")
	f.StringVar(&s.token, "api-token", "", "ChirpStack API token (kept sealed, never shown again)")
	f.StringVar(&s.chirpTenant, "chirpstack-tenant", "", "ChirpStack tenant id")
	f.StringVar(&s.application, "application", "", "ChirpStack application id")
	f.StringVar(&s.encoding, "event-encoding", "", "json or protobuf")
	f.IntVar(&s.fport, "version-fport", 0, "the fPort devices report their version on")

	var d struct {
		devEUI, joinEUI, appKey, profile, model, version, name string
		labels                                                 []string
	}
	create := &cobra.Command{
		Use:   "create ID",
		Short: "Register a LoRaWAN device here and in ChirpStack, or neither",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := parseLabels(d.labels)
			if err != nil {
				return err
			}
			body := map[string]any{"id": args[0], "dev_eui": d.devEUI, "join_eui": d.joinEUI, "app_key": d.appKey,
				"device_profile_id": d.profile, "hardware_model": d.model, "firmware_version": d.version, "labels": l, "name": d.name}
			var out struct {
				lorawanDevice
				stillRunning
			}
			return e.call(cmd, apiclient.Request{Op: "createLoRaWANDevice", JSON: body}, &out, func() {
				if out.Status == "running" {
					fmt.Fprintln(e.stdout, out.Message, "("+out.WorkflowID+")")
					return
				}
				e.lorawanTable([]lorawanDevice{out.lorawanDevice})
			})
		},
	}
	cf := create.Flags()
	cf.StringVar(&d.devEUI, "dev-eui", "", "DevEUI, 16 hex digits")
	cf.StringVar(&d.joinEUI, "join-eui", "", "JoinEUI, 16 hex digits")
	cf.StringVar(&d.appKey, "app-key", "", "AppKey, 32 hex digits")
	cf.StringVar(&d.profile, "profile", "", "ChirpStack device profile id")
	cf.StringVar(&d.model, "model", "", "hardware model")
	cf.StringVar(&d.version, "version", "", "firmware version it runs")
	cf.StringVar(&d.name, "name", "", "name in ChirpStack")
	cf.StringArrayVarP(&d.labels, "label", "l", nil, "label key=value (repeatable)")

	var p pageFlags
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "LoRaWAN devices",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list(e, cmd, p, "listLoRaWANDevices", nil, "devices", e.lorawanTable)
		},
	}
	p.add(listCmd)

	var reportOnly bool
	reconcile := &cobra.Command{
		Use:   "reconcile",
		Short: "Compare the devices here with ChirpStack's and repair the drift (--report-only leaves it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{"report_only": {strconv.FormatBool(reportOnly)}}
			var r struct {
				Checked int `json:"checked"`
				Counts  struct {
					MissingInChirpStack int `json:"missing_in_chirpstack"`
					MissingInDB         int `json:"missing_in_db"`
					ProfileMismatch     int `json:"profile_mismatch"`
					Repaired            int `json:"repaired"`
				} `json:"counts"`
				stillRunning
			}
			return e.call(cmd, apiclient.Request{Op: "reconcileLoRaWAN", Query: q}, &r, func() {
				if r.Status == "running" {
					fmt.Fprintln(e.stdout, r.Message, "("+r.WorkflowID+")")
					return
				}
				fields(e.stdout, "checked", strconv.Itoa(r.Checked), "missing in ChirpStack", strconv.Itoa(r.Counts.MissingInChirpStack),
					"missing here", strconv.Itoa(r.Counts.MissingInDB), "profile mismatch", strconv.Itoa(r.Counts.ProfileMismatch),
					"repaired", strconv.Itoa(r.Counts.Repaired))
			})
		},
	}
	reconcile.Flags().BoolVar(&reportOnly, "report-only", false, "report the drift, repair nothing")

	cmd.AddCommand(put, create, listCmd, reconcile, &cobra.Command{
		Use:   "settings",
		Short: "The tenant's ChirpStack settings (the token is never shown)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				APIAddress    string `json:"api_address"`
				ChirpTenant   string `json:"chirpstack_tenant_id"`
				ApplicationID string `json:"application_id"`
				EventEncoding string `json:"event_encoding"`
				VersionFPort  int    `json:"version_fport"`
				APITokenSet   bool   `json:"api_token_set"`
			}
			return e.call(cmd, apiclient.Request{Op: "getLoRaWANSettings"}, &out, func() {
				fields(e.stdout, "api address", out.APIAddress, "chirpstack tenant", out.ChirpTenant, "application", out.ApplicationID,
					"event encoding", out.EventEncoding, "version fport", strconv.Itoa(out.VersionFPort),
					"api token set", strconv.FormatBool(out.APITokenSet))
			})
		},
	}, &cobra.Command{
		Use:   "get ID",
		Short: "One LoRaWAN device",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out lorawanDevice
			return e.call(cmd, apiclient.Request{Op: "getLoRaWANDevice", Path: map[string]string{"id": args[0]}}, &out,
				func() { e.lorawanTable([]lorawanDevice{out}) })
		},
	}, &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a LoRaWAN device here and in ChirpStack",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r stillRunning
			return e.call(cmd, apiclient.Request{Op: "deleteLoRaWANDevice", Path: map[string]string{"id": args[0]}}, &r, func() {
				if r.Status == "running" {
					fmt.Fprintln(e.stdout, r.Message)
					return
				}
				fmt.Fprintf(e.stdout, "deleted %s\n", args[0])
			})
		},
	})
	return cmd
}

func (e *env) lorawanTable(ds []lorawanDevice) {
	rows := make([][]string, len(ds))
	for i, d := range ds {
		rows[i] = []string{d.ID, d.LoRaWAN.DevEUI, d.LoRaWAN.DeviceProfileID, d.HardwareModel, d.FirmwareVersion, labels(d.Labels)}
	}
	table(e.stdout, []string{"ID", "DEV EUI", "PROFILE", "MODEL", "FIRMWARE", "LABELS"}, rows)
}
