// Command ota-runshape measures Cadence's cost per device run for a workflow per device
// and for several devices per workflow (see scripts/bench-runshape.sh and
// `make bench-runshape`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/otaplane/ota/bench/internal/runshape"
)

func main() {
	cfg, err := runshape.ParseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ota-runshape:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := runshape.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "ota-runshape:", err)
		os.Exit(1)
	}
}
