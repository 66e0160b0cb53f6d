// Package commands is otactl's command tree: one file per resource of the API.
package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/otaplane/ota/otactl/internal/apiclient"
)

// Exit codes: a command that ran but whose outcome is not success (a campaign that did
// not complete) exits 1; a refused or failed call exits 2; bad usage exits 64.
const (
	exitNotCompleted = 1
	exitFailed       = 2
	exitUsage        = 64
)

// exitError ends a command with a code and, unless empty, a message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// env is what every command shares: configuration, streams and the API client.
type env struct {
	cfg    *viper.Viper
	stdout io.Writer
	stderr io.Writer
	// isTerminal says whether stdout is a terminal (live views redraw in place).
	isTerminal bool
	// configRead says whether a config file was read.
	configRead bool
}

// Execute runs otactl with args and returns its exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer, isTerminal bool) int {
	e := &env{cfg: viper.New(), stdout: stdout, stderr: stderr, isTerminal: isTerminal}
	root := e.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit *exitError
	if errors.As(err, &exit) {
		if exit.msg != "" {
			fmt.Fprintln(stderr, "otactl:", exit.msg)
		}
		return exit.code
	}
	var api *apiclient.Error
	if errors.As(err, &api) {
		fmt.Fprintln(stderr, "otactl: the API refused:", api.Error())
		return exitFailed
	}
	fmt.Fprintln(stderr, "otactl:", err)
	if strings.HasPrefix(err.Error(), "unknown") || strings.Contains(err.Error(), "flag") ||
		strings.Contains(err.Error(), "arg(s)") {
		return exitUsage
	}
	return exitFailed
}

func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "otactl",
		Short: "Fleet tool for the otaplane OTA control plane",
		Long: `otactl drives the otaplane API: tenants, devices, groups, firmware, campaigns and
single-device updates, with live campaign progress.

Configuration, highest first: flags; the environment (OTA_API_URL, OTA_API_KEY,
OTA_ADMIN_KEY, OTA_OUTPUT); a config file (--config, else $XDG_CONFIG_HOME/otactl/config.yaml
or ~/.config/otactl/config.yaml) with keys api_url, api_key, admin_key, output.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return e.loadConfig(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.String("api-url", "http://127.0.0.1:8080", "the API's base URL")
	pf.String("api-key", "", "the tenant's API key")
	pf.String("admin-key", "", "the operator's admin key (tenant creation only)")
	pf.StringP("output", "o", "table", "output: table or json")
	pf.String("config", "", "config file (YAML)")
	for _, name := range []string{"api-url", "api-key", "admin-key", "output"} {
		_ = e.cfg.BindPFlag(strings.ReplaceAll(name, "-", "_"), pf.Lookup(name))
	}
	e.cfg.SetEnvPrefix("OTA")
	for _, key := range []string{"api_url", "api_key", "admin_key", "output"} {
		_ = e.cfg.BindEnv(key)
	}
	root.AddCommand(e.tenantCommand(), e.deviceCommand(), e.groupCommand(), e.firmwareCommand(),
		e.campaignCommand(), e.updateCommand(), e.lorawanCommand(), e.signingCommand(), e.keyCommand(), e.settingsCommand(),
		e.auditCommand(), e.webhookCommand(), e.configCommand())
	return root
}

func (e *env) loadConfig(cmd *cobra.Command) error {
	path, _ := cmd.Flags().GetString("config")
	explicit := path != ""
	if !explicit {
		path = defaultConfigPath()
	}
	if path != "" {
		e.cfg.SetConfigFile(path)
		e.cfg.SetConfigType("yaml")
		err := e.cfg.ReadInConfig()
		var missing *os.PathError
		switch {
		case err == nil:
			e.configRead = true
		case explicit || !errors.As(err, &missing):
			return &exitError{code: exitUsage, msg: fmt.Sprintf("config file %s: %v", path, err)}
		}
	}
	switch o := e.output(); o {
	case "table", "json":
	default:
		return &exitError{code: exitUsage, msg: fmt.Sprintf("--output %q: want table or json", o)}
	}
	return nil
}

func defaultConfigPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "otactl", "config.yaml")
}

func (e *env) output() string { return e.cfg.GetString("output") }

// client is the API client with the tenant's key; commands that need none still get one.
func (e *env) client() (*apiclient.Client, error) {
	c, err := apiclient.New(e.cfg.GetString("api_url"), e.cfg.GetString("api_key"))
	if err != nil {
		return nil, &exitError{code: exitUsage, msg: err.Error()}
	}
	return c, nil
}

// needKey refuses a tenant command without a key before any call.
func (e *env) needKey() error {
	if e.cfg.GetString("api_key") == "" {
		return &exitError{code: exitUsage, msg: "no API key: set --api-key, OTA_API_KEY or api_key in the config file"}
	}
	return nil
}

// call runs one API call and prints its answer: raw JSON with -o json, else table(out).
func (e *env) call(cmd *cobra.Command, r apiclient.Request, out any, table func()) error {
	if r.Key == "" {
		if err := e.needKey(); err != nil {
			return err
		}
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	raw, err := c.Do(cmd.Context(), r, out)
	if err != nil {
		return err
	}
	if e.output() == "json" {
		return writeJSON(e.stdout, raw)
	}
	if table != nil {
		table()
	}
	return nil
}
