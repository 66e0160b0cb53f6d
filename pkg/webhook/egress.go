package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrForbiddenTarget: the address is loopback, link-local, private, unspecified or
// multicast, and the deployment does not allow such targets.
var ErrForbiddenTarget = errors.New("webhook target address not allowed")

const maxURLLen = 2048

// TargetAllowed says whether a webhook may connect to addr. Internal addresses are
// refused unless allowPrivate (development and tests): a tenant must not reach the
// control plane's own network through its webhooks.
func TargetAllowed(addr netip.Addr, allowPrivate bool) bool {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return false
	}
	if allowPrivate {
		return true
	}
	return !(addr.IsLoopback() || addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() ||
		addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsPrivate() || addr.IsUnspecified() ||
		sharedAddressSpace.Contains(addr))
}

// sharedAddressSpace is carrier-grade NAT space (RFC 6598), internal in practice.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// CheckURL validates a webhook URL at registration: absolute http(s), a host, no
// credentials or fragment, and, when the host is an address, an allowed one. A host
// name is checked again at every connection (DialControl), where its address is known.
func CheckURL(raw string, allowPrivate bool) (*url.URL, error) {
	if len(raw) > maxURLLen {
		return nil, fmt.Errorf("longer than %d bytes", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, errors.New("must be an http or https URL")
	case u.Hostname() == "":
		return nil, errors.New("must name a host")
	case u.User != nil:
		return nil, errors.New("must not carry credentials (use the signature to authenticate)")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, errors.New("must not have a fragment")
	}
	if p := u.Port(); p != "" {
		if _, err := netip.ParseAddrPort("0.0.0.0:" + p); err != nil {
			return nil, errors.New("bad port")
		}
	}
	host := strings.ToLower(u.Hostname())
	if addr, err := netip.ParseAddr(host); err == nil {
		if !TargetAllowed(addr, allowPrivate) {
			return nil, ErrForbiddenTarget
		}
	} else if !allowPrivate && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		return nil, ErrForbiddenTarget
	}
	return u, nil
}

// DialControl refuses, at connect time, an address TargetAllowed refuses: a host name
// that resolves (or is rebound) to an internal address is caught here. Use it as
// net.Dialer.Control.
func DialControl(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrForbiddenTarget, address)
		}
		addr, err := netip.ParseAddr(host)
		if err != nil || !TargetAllowed(addr, allowPrivate) {
			return fmt.Errorf("%w: %s", ErrForbiddenTarget, address)
		}
		return nil
	}
}
