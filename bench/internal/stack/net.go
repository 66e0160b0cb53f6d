package stack

import (
	"context"
	"fmt"
	"net"
	"time"
)

// FreePort asks the kernel for a loopback port that is free right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitTCP waits until addr accepts a connection, failing early when alive reports that
// the process meant to listen there has gone.
func WaitTCP(ctx context.Context, addr string, limit time.Duration, alive func() error) error {
	deadline := time.Now().Add(limit)
	for {
		if err := alive(); err != nil {
			return err
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s", addr, limit)
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
