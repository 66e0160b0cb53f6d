package commands

import (
	"encoding/base64"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/otaplane/ota/otactl/internal/apiclient"
)

type signingKey struct {
	ID        string     `json:"id"`
	Purpose   string     `json:"purpose"`
	PublicKey []byte     `json:"public_key"`
	Managed   bool       `json:"managed"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at"`
}

func (e *env) signingCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "signing-key", Aliases: []string{"signing-keys"},
		Short: "The tenant's Ed25519 release and command keys, and what devices pin"}
	var publicKey string
	add := &cobra.Command{
		Use:   "add release|command",
		Short: "Rotate the purpose's managed key, or register an offline release key (--public-key)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]string{"purpose": args[0]}
			if publicKey != "" {
				body["public_key"] = publicKey
			}
			var k signingKey
			return e.call(cmd, apiclient.Request{Op: "addSigningKey", JSON: body}, &k, func() { e.keyTable([]signingKey{k}) })
		},
	}
	add.Flags().StringVar(&publicKey, "public-key", "", "raw 32-byte Ed25519 public key, base64 (an offline release key)")
	cmd.AddCommand(add, &cobra.Command{
		Use:   "list",
		Short: "The tenant's keys (public halves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Keys []signingKey `json:"signing_keys"`
			}
			return e.call(cmd, apiclient.Request{Op: "listSigningKeys"}, &out, func() { e.keyTable(out.Keys) })
		},
	}, &cobra.Command{
		Use:   "trust",
		Short: "What the tenant's devices pin: every public key with its id (JSON)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var raw map[string]any
			c, err := e.client()
			if err != nil {
				return err
			}
			if err := e.needKey(); err != nil {
				return err
			}
			b, err := c.Do(cmd.Context(), apiclient.Request{Op: "getTrust"}, &raw)
			if err != nil {
				return err
			}
			return writeJSON(e.stdout, b) // a device provisioning step reads this as it is
		},
	})
	return cmd
}

func (e *env) keyTable(ks []signingKey) {
	rows := make([][]string, len(ks))
	for i, k := range ks {
		retired := ""
		if k.RetiredAt != nil {
			retired = k.RetiredAt.UTC().Format(time.RFC3339)
		}
		rows[i] = []string{k.ID, k.Purpose, strconv.FormatBool(k.Managed), base64.StdEncoding.EncodeToString(k.PublicKey),
			k.CreatedAt.UTC().Format(time.RFC3339), retired}
	}
	table(e.stdout, []string{"ID", "PURPOSE", "MANAGED", "PUBLIC KEY", "CREATED", "RETIRED"}, rows)
}
