// Command otactl is the fleet tool for the otaplane API.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/mattn/go-isatty"

	"github.com/otaplane/ota/otactl/internal/commands"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := commands.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr, isatty.IsTerminal(os.Stdout.Fd()))
	stop()
	os.Exit(code)
}
