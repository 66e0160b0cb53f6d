package commands

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/otaplane/ota/otactl/internal/apiclient"
)

func (e *env) tenantCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Tenants (create needs the admin key)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "create NAME",
		Short: "Create a tenant; its first API key is shown once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			admin := e.cfg.GetString("admin_key")
			if admin == "" {
				return &exitError{code: exitUsage, msg: "no admin key: set --admin-key or OTA_ADMIN_KEY"}
			}
			var out struct {
				Tenant tenant `json:"tenant"`
				APIKey string `json:"api_key"`
			}
			return e.call(cmd, apiclient.Request{Op: "createTenant", Key: admin, JSON: map[string]string{"name": args[0]}},
				&out, func() {
					fields(e.stdout, "id", out.Tenant.ID, "name", out.Tenant.Name, "cadence domain", out.Tenant.CadenceDomain,
						"api key", out.APIKey)
					e.note("the API key is shown once; keep it (export OTA_API_KEY=...)")
				})
		},
	}, &cobra.Command{
		Use:   "show",
		Short: "The tenant of the API key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var t struct {
				tenant
				FourEyes bool `json:"four_eyes"`
				Key      struct {
					ID   string `json:"id"`
					Name string `json:"name"`
					Role string `json:"role"`
				} `json:"key"`
			}
			return e.call(cmd, apiclient.Request{Op: "getTenant"}, &t, func() {
				fields(e.stdout, "id", t.ID, "name", t.Name, "cadence domain", t.CadenceDomain,
					"four eyes", strconv.FormatBool(t.FourEyes), "key", t.Key.Name+" ("+t.Key.ID+")", "role", t.Key.Role)
			})
		},
	})
	return cmd
}

// note writes a remark for the person at the terminal, kept off stdout so pipes stay clean.
func (e *env) note(msg string) { _, _ = e.stderr.Write([]byte(msg + "\n")) }
