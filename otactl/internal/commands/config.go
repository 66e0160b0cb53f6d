package commands

import (
	"github.com/spf13/cobra"
)

// configCommand shows the settings in effect and where they came from, with the keys
// masked: the first thing to look at when a call goes to the wrong place.
func (e *env) configCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "The settings in effect (keys masked) and the config file read",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file := e.cfg.ConfigFileUsed()
			if file != "" && !e.configRead {
				file += " (not found)"
			}
			fields(e.stdout, "api_url", e.cfg.GetString("api_url"), "api_key", mask(e.cfg.GetString("api_key")),
				"admin_key", mask(e.cfg.GetString("admin_key")), "output", e.output(), "config file", file)
			return nil
		},
	}
}

// mask keeps a key's first characters, enough to tell keys apart.
func mask(key string) string {
	switch {
	case key == "":
		return "(none)"
	case len(key) <= 8:
		return "****"
	default:
		return key[:6] + "…"
	}
}
