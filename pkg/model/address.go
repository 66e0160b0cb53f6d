package model

import (
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// LocalAddr reports whether ip reaches the connecting host itself or its link rather
// than a service on a network: loopback, unspecified, link-local (cloud metadata
// endpoints live at 169.254.169.254) and multicast. Private networks (10/8, fd00::/8)
// are not local: that is where a ChirpStack usually runs.
func LocalAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.Is4() && ip.As4()[0] == 0 { // 0.0.0.0/8 is "this host" on Linux
		return true
	}
	return ip.IsLoopback() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() || ip.IsMulticast()
}

// hostLabelRE is one label of a DNS name (underscores appear in container names).
var hostLabelRE = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`)

// numericHostRE matches the forms the C resolver reads as an IPv4 address though they
// are not dotted quads (127.1, 0x7f.0.0.1, 2130706433, 0177.0.0.1).
var numericHostRE = regexp.MustCompile(`^(0[xX][0-9A-Fa-f]*|[0-9]+)(\.(0[xX][0-9A-Fa-f]*|[0-9]+))*\.?$`)

// ValidateServiceAddress checks host:port of a service workers connect to on a tenant's
// behalf. The host is an IP address or a DNS name; unless allowLocal, an address that
// is local (LocalAddr) or a name that is by definition (localhost, *.localhost) is
// refused. Names are not resolved here: what a name resolves to can change after the
// check, so workers check the addresses they actually connect to.
func ValidateServiceAddress(field, v string, allowLocal bool) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil || host == "" {
		return Fieldf(field, "must be host:port, e.g. chirpstack:8080 (no scheme)")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return Fieldf(field, "port must be a number from 1 to 65535")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return Fieldf(field, "must not carry an IPv6 zone")
		}
		if !allowLocal && LocalAddr(ip) {
			return Fieldf(field, "%s is a loopback, link-local, unspecified or multicast address; "+
				"the operator allows those with lorawan.allow_local_addresses", ip)
		}
		return nil
	}
	if numericHostRE.MatchString(host) {
		return Fieldf(field, "%q is not an IP address in its usual form; write it as a dotted quad", host)
	}
	name := strings.TrimSuffix(host, ".")
	if len(name) > 253 {
		return Fieldf(field, "host name longer than 253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if !hostLabelRE.MatchString(label) {
			return Fieldf(field, "host must be an IP address or a DNS name of letters, digits, '-' and '.'")
		}
	}
	lower := strings.ToLower(name)
	if !allowLocal && (lower == "localhost" || strings.HasSuffix(lower, ".localhost")) {
		return Fieldf(field, "%s names this host; the operator allows local addresses with lorawan.allow_local_addresses", host)
	}
	return nil
}
