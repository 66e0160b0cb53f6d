package tcpproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers every line with the same line, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line and reads it back.
func roundTrip(c net.Conn, r *bufio.Reader, msg string) error {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if got != msg+"\n" {
		return errors.New("echo mismatch: " + got)
	}
	return nil
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c), nil
}

func TestCutClosesConnectionsAndRefusesNewOnes(t *testing.T) {
	p, err := Start("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	var conns []net.Conn
	var readers []*bufio.Reader
	for range 3 {
		c, r, err := dial(t, p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if err := roundTrip(c, r, "before"); err != nil {
			t.Fatalf("through the proxy: %v", err)
		}
		conns, readers = append(conns, c), append(readers, r)
	}

	n, err := p.Cut()
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("Cut closed %d connections, want 3", n)
	}
	for i, c := range conns {
		if err := roundTrip(c, readers[i], "during"); err == nil {
			t.Errorf("connection %d still works after Cut", i)
		}
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted while cut")
	}
	if _, err := p.Cut(); err == nil {
		t.Error("second Cut without Restore succeeded")
	}

	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	c, r, err := dial(t, p.Addr())
	if err != nil {
		t.Fatalf("dial after Restore: %v", err)
	}
	if err := roundTrip(c, r, "after"); err != nil {
		t.Errorf("through the proxy after Restore: %v", err)
	}
	if err := p.Restore(); err == nil {
		t.Error("Restore of a proxy that is not cut succeeded")
	}
}

func TestUpstreamDownClosesClient(t *testing.T) {
	// A port nothing listens on: the proxy accepts, fails to dial, and hangs up.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	p, err := Start("127.0.0.1:0", dead)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, r, err := dial(t, p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(c, r, "hello"); err == nil {
		t.Error("a connection to a dead upstream carried data")
	}
}

func TestCloseEndsEverything(t *testing.T) {
	p, err := Start("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c, r, err := dial(t, p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(c, r, "x"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := roundTrip(c, r, "y"); err == nil {
		t.Error("connection still works after Close")
	}
	for _, op := range []struct {
		name string
		fn   func() error
	}{
		{"Cut", func() error { _, err := p.Cut(); return err }},
		{"Restore", p.Restore},
	} {
		if err := op.fn(); err == nil {
			t.Errorf("%s after Close succeeded", op.name)
		}
	}
}
