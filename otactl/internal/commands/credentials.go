package commands

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/otaplane/ota/otactl/internal/apiclient"
)

func (e *env) deviceCredentials() *cobra.Command {
	cmd := &cobra.Command{Use: "credentials", Short: "Devices' broker credentials: issue, rotate, list, revoke"}
	var retireAfter time.Duration
	rotate := &cobra.Command{
		Use:   "rotate ID",
		Short: "New credentials for a device; the previous ones keep working for --retire-after",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body map[string]string
			if cmd.Flags().Changed("retire-after") {
				body = map[string]string{"retire_after": retireAfter.String()}
			}
			var c credentials
			return e.call(cmd, apiclient.Request{Op: "rotateCredentials", Path: map[string]string{"id": args[0]}, JSON: body},
				&c, func() { e.showCredentials([]credentials{c}) })
		},
	}
	rotate.Flags().DurationVar(&retireAfter, "retire-after", 0, "how long the previous credentials keep working (default: the server's mqtt.rotation_grace)")
	cmd.AddCommand(&cobra.Command{
		Use:   "issue ID...",
		Short: "First credentials for imported devices; shown once",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Credentials []credentials `json:"credentials"`
			}
			return e.call(cmd, apiclient.Request{Op: "issueCredentials", JSON: map[string]any{"device_ids": args}}, &out,
				func() { e.showCredentials(out.Credentials) })
		},
	}, rotate, &cobra.Command{
		Use:   "list ID",
		Short: "A device's credential generations (never a password)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Credentials []struct {
					Generation int        `json:"generation"`
					Username   string     `json:"username"`
					State      string     `json:"state"`
					CreatedAt  time.Time  `json:"created_at"`
					RetireAt   *time.Time `json:"retire_at"`
				} `json:"credentials"`
			}
			return e.call(cmd, apiclient.Request{Op: "listCredentials", Path: map[string]string{"id": args[0]}}, &out, func() {
				rows := make([][]string, len(out.Credentials))
				for i, c := range out.Credentials {
					retire := ""
					if c.RetireAt != nil {
						retire = c.RetireAt.UTC().Format(time.RFC3339)
					}
					rows[i] = []string{fmt.Sprint(c.Generation), c.Username, c.State, c.CreatedAt.UTC().Format(time.RFC3339), retire}
				}
				table(e.stdout, []string{"GENERATION", "USERNAME", "STATE", "CREATED", "RETIRES"}, rows)
			})
		},
	}, &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke every credential of a device at once (it stays registered)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.call(cmd, apiclient.Request{Op: "revokeCredentials", Path: map[string]string{"id": args[0]}}, nil,
				func() { fmt.Fprintf(e.stdout, "revoked the credentials of %s\n", args[0]) })
		},
	})
	return cmd
}

func (e *env) showCredentials(cs []credentials) {
	rows := make([][]string, len(cs))
	for i, c := range cs {
		rows[i] = []string{c.ClientID, c.Username, c.Password, c.Broker}
	}
	table(e.stdout, []string{"CLIENT ID", "USERNAME", "PASSWORD", "BROKER"}, rows)
	e.note("passwords are shown once")
}
