// Package tcpproxy forwards TCP connections to one upstream address and can cut them
// all at once: a dependency (PostgreSQL) disappears for the processes behind the proxy
// while the dependency itself, and everyone else using it, carries on.
package tcpproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

const dialTimeout = 5 * time.Second

// Proxy listens on one loopback address and forwards every connection to Target.
type Proxy struct {
	target string
	addr   string // fixed at Start: Restore listens on the same port

	mu     sync.Mutex
	ln     net.Listener // nil while cut or closed
	links  map[*link]struct{}
	closed bool
	wg     sync.WaitGroup
}

// link is one client connection and its upstream connection.
type link struct {
	client, upstream net.Conn
	once             sync.Once
}

func (l *link) close() {
	l.once.Do(func() {
		l.client.Close()
		l.upstream.Close()
	})
}

// Start listens on listen (e.g. "127.0.0.1:0") and forwards to target.
func Start(listen, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("proxy listen: %w", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), ln: ln, links: map[*link]struct{}{}}
	p.wg.Go(func() { p.serve(ln) })
	return p, nil
}

// Addr is the proxy's listening address (host:port).
func (p *Proxy) Addr() string { return p.addr }

// Cut closes every forwarded connection and stops listening, so new connections are
// refused as if the upstream were down. It returns how many connections it closed.
func (p *Proxy) Cut() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errors.New("proxy closed")
	}
	if p.ln == nil {
		return 0, errors.New("proxy already cut")
	}
	err := p.ln.Close()
	p.ln = nil
	n := len(p.links)
	for l := range p.links {
		l.close()
		delete(p.links, l)
	}
	return n, err
}

// Restore listens again on the same address after a Cut.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("proxy closed")
	}
	if p.ln != nil {
		return errors.New("proxy not cut")
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("proxy listen again on %s: %w", p.addr, err)
	}
	p.ln = ln
	p.wg.Go(func() { p.serve(ln) })
	return nil
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	var err error
	if p.ln != nil {
		err = p.ln.Close()
		p.ln = nil
	}
	for l := range p.links {
		l.close()
		delete(p.links, l)
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// serve accepts on one listener until a Cut or Close closes it.
func (p *Proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.forward(ln, c) })
	}
}

func (p *Proxy) forward(ln net.Listener, c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		c.Close()
		return
	}
	l := &link{client: c, upstream: up}
	p.mu.Lock()
	// A Cut between Accept and here must not leave this connection through.
	if p.ln != ln {
		p.mu.Unlock()
		l.close()
		return
	}
	p.links[l] = struct{}{}
	p.mu.Unlock()

	var copies sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Either side ending ends the link: PostgreSQL's protocol has no half-close.
		l.close()
	}
	copies.Go(func() { pipe(up, c) })
	copies.Go(func() { pipe(c, up) })
	copies.Wait()
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}
