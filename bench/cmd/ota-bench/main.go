// Command ota-bench benchmarks the OTA control plane on the real stack (see
// scripts/bench.sh and `make bench`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/otaplane/ota/bench/internal/suite"
)

func main() {
	cfg, err := suite.ParseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ota-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := suite.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "ota-bench:", err)
		os.Exit(1)
	}
}
