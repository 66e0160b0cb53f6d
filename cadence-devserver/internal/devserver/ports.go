package devserver

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// requiredPorts are the listeners the onebox opens for cluster 0; other clusters add
// their shift. Any bind failure on them ends the process from deep inside Cadence (a
// fatal log or a panic), so they are probed up front.
var requiredPorts = []struct {
	host string
	port int
	what string
}{
	{"127.0.0.1", 7104, "frontend tchannel"},
	{"127.0.0.1", 7114, "frontend gRPC"},
	{"127.0.0.1", 7106, "matching tchannel"},
	{"127.0.0.1", 7116, "matching gRPC"},
	{"127.0.0.1", 7201, "history tchannel"},
	{"127.0.0.1", 7211, "history gRPC"},
	{"127.0.0.1", 7108, "worker tchannel"},
	{"127.0.0.1", 7118, "worker gRPC"},
	// Matching's Prometheus reporter listens on all interfaces and panics if
	// the port is taken.
	{"", 7306, "matching prometheus"},
}

// ErrPortsInUse reports that another process holds one of the fixed ports.
var ErrPortsInUse = errors.New("ports in use")

// CheckPorts returns ErrPortsInUse (wrapped, with the busy ports listed) when
// any of the cluster's onebox ports cannot be bound.
func CheckPorts(cluster int) error {
	var busy []string
	for _, p := range requiredPorts {
		addr := net.JoinHostPort(p.host, strconv.Itoa(p.port+cluster*portShift))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			busy = append(busy, fmt.Sprintf("%s (%s)", addr, p.what))
			continue
		}
		_ = l.Close()
	}
	if len(busy) > 0 {
		return fmt.Errorf("%w: %s; is another Cadence dev server running on this cluster number?", ErrPortsInUse, strings.Join(busy, ", "))
	}
	return nil
}
