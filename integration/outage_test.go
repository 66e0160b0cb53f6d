package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otaplane/ota/api/gateway"
)

// cuttableProxy forwards TCP to a target until it is cut: then it drops every open
// connection and refuses new ones, like a database or Cadence that went away.
type cuttableProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *cuttableProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cuttableProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *cuttableProxy) addr() string { return p.ln.Addr().String() }

func (p *cuttableProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cuttableProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// TestDependencyOutagesAnswer503AndRecover runs a second API whose PostgreSQL and Cadence
// connections go through proxies the test can cut.
func TestDependencyOutagesAnswer503AndRecover(t *testing.T) {
	tn := newTenant(t)
	tn.createDevices(specs("out", 1, "board-o", "1.0.0"))
	fw := tn.uploadFirmware("1.1.0", "board-o", image(10))

	pg := newProxy(t, "127.0.0.1:5432")
	cad := newProxy(t, cfg.Cadence.Address())
	port, err := freePort()
	require.NoError(t, err)
	c2 := *cfg
	_, pgPort, _ := net.SplitHostPort(pg.addr())
	_, cadPort, _ := net.SplitHostPort(cad.addr())
	c2.Database.DSN = fmt.Sprintf("host=127.0.0.1 port=%s user=postgres dbname=%s sslmode=disable connect_timeout=2",
		pgPort, dbNameOf(cfg.Database.DSN))
	c2.Database.QueryTimeout = 2 * time.Second
	fmt.Sscan(cadPort, &c2.Cadence.FrontendPort)
	c2.Cadence.RPCTimeout = 2 * time.Second
	c2.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	go func() { _ = gateway.Run(ctx, &c2, zap.NewNop(), ready) }()
	var base string
	select {
	case a := <-ready:
		base = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatal("second api did not start")
	}
	get := func(path string) response {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tn.key)
		return tn.send(req)
	}
	put := func(path string, body string) response {
		req, err := http.NewRequest(http.MethodPut, base+path, stringsReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tn.key)
		req.Header.Set("Content-Type", "application/json")
		return tn.send(req)
	}
	require.Equal(t, http.StatusOK, get("/api/v1/devices").Status, "warm up (and cache the key)")

	pg.cut()
	r := get("/api/v1/devices")
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Raw)
	assert.Equal(t, "unavailable", r.Body["error"].(map[string]any)["code"])
	assert.Contains(t, r.Body["error"].(map[string]any)["message"], "database")
	rz := get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, rz.Status)
	assert.NotEqual(t, "ok", rz.Body["checks"].(map[string]any)["postgres"])
	pg.restore()
	require.Eventually(t, func() bool { return get("/api/v1/devices").Status == http.StatusOK },
		30*time.Second, 250*time.Millisecond, "recovers by itself when the database returns")

	cad.cut()
	r = put("/api/v1/devices/out-001/ota/update", `{"firmware_id":"`+fw["id"].(string)+`"}`)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Raw)
	assert.Contains(t, r.Body["error"].(map[string]any)["message"], "Cadence")
	assert.Equal(t, "unavailable", get("/readyz").Body["status"])
	cad.restore()
	require.Eventually(t, func() bool { return get("/readyz").Status == http.StatusOK },
		60*time.Second, 500*time.Millisecond, "recovers by itself when Cadence returns")
}
