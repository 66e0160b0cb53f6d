// Command ota-chaos runs the reliability benchmark on the real stack (see
// scripts/chaos.sh and `make chaos`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/otaplane/ota/bench/internal/chaos"
)

func main() {
	cfg, err := chaos.ParseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ota-chaos:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := chaos.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "ota-chaos:", err)
		os.Exit(1)
	}
}
