// Package command is what each benchmark program's main does: read the flags, run until
// done or interrupted (SIGINT, SIGTERM), and exit 0, 1 when the run failed, or 2 when
// the flags are wrong.
package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main runs the program name and exits with its status.
func Main[C any](name string, parse func(args []string) (C, error), run func(context.Context, C) error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := Status(ctx, name, os.Args[1:], os.Stderr, parse, run)
	stop()
	os.Exit(code)
}

// Status parses args and runs; it returns the exit status and writes any error to
// stderr, prefixed with name.
func Status[C any](ctx context.Context, name string, args []string, stderr io.Writer,
	parse func(args []string) (C, error), run func(context.Context, C) error) int {
	cfg, err := parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}
