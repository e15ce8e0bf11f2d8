package vznet

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Mode selects how a container is attached to the host.
type Mode string

const (
	// Bridged plugs the host side of the veth pair into a host bridge.
	Bridged Mode = "bridged"
	// Routed routes each container address to the host side of the veth pair.
	Routed Mode = "routed"
)

// Defaults used when a Config leaves a field empty.
const (
	DefaultBridge = "vzbr0"
	DefaultIfName = "eth0"
)

// Gateways used inside the container in routed mode (see doc.go).
var (
	RoutedGateway4 = netip.MustParseAddr("169.254.0.1")
	RoutedGateway6 = netip.MustParseAddr("fe80::1")
)

// ifNameMax is IFNAMSIZ (16) minus the terminating NUL.
const ifNameMax = 15

// Config says how to attach one container.
type Config struct {
	Mode Mode
	// Bridge is the host bridge in bridged mode (DefaultBridge when empty).
	Bridge string
	// BridgeAddr, when valid, is put on the bridge (idempotently) in bridged mode.
	BridgeAddr netip.Prefix
	// HostIfName overrides HostIfName(ctid) for the host side.
	HostIfName string
	// IfName is the interface name inside the container (DefaultIfName when empty).
	IfName string
	// IPs are the container addresses. In routed mode only the address is
	// used: it becomes a host address (/32 or /128) inside.
	IPs []netip.Prefix
	// Gateway and Gateway6 give the default routes inside in bridged mode;
	// an invalid (zero) address means no default route of that family.
	Gateway  netip.Addr
	Gateway6 netip.Addr
	// MTU of both ends; 0 keeps the kernel default.
	MTU int
	// UplinkDev, in routed mode, is the host interface facing the LAN the
	// container addresses belong to; proxy_arp is switched on there so
	// neighbours reach the containers as if they were on the LAN (IPv4 only).
	UplinkDev string
}

func (c Config) withDefaults(ctid string) (Config, error) {
	switch c.Mode {
	case "":
		c.Mode = Bridged
	case Bridged, Routed:
	default:
		return c, fmt.Errorf("network mode %q: want %q or %q", c.Mode, Bridged, Routed)
	}
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if c.IfName == "" {
		c.IfName = DefaultIfName
	}
	if c.HostIfName == "" {
		c.HostIfName = HostIfName(ctid)
	}
	if c.UplinkDev != "" {
		if err := validIfName(c.UplinkDev); err != nil {
			return c, err
		}
	}
	for _, n := range []string{c.Bridge, c.IfName, c.HostIfName} {
		if err := validIfName(n); err != nil {
			return c, err
		}
	}
	if c.MTU < 0 || c.MTU > 65535 {
		return c, fmt.Errorf("MTU %d out of range", c.MTU)
	}
	for _, p := range c.IPs {
		if !p.IsValid() {
			return c, fmt.Errorf("invalid container address %v", p)
		}
	}
	return c, nil
}

// HostIfName derives the host-side interface name of a container's veth
// pair: "veth<CTID>.0" as in OpenVZ when that fits IFNAMSIZ and the CTID is
// made of safe characters, else "vz" + 11 hex digits of SHA-256(CTID) + ".0"
// (the "vz" prefix keeps hashed names apart from plain ones).
func HostIfName(ctid string) string {
	plain := "veth" + ctid + ".0"
	if len(plain) <= ifNameMax && ctid != "" && safeIDChars(ctid) {
		return plain
	}
	sum := sha256.Sum256([]byte(ctid))
	return "vz" + hex.EncodeToString(sum[:])[:11] + ".0"
}

func safeIDChars(s string) bool {
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
		if !ok {
			return false
		}
	}
	return true
}

// hostMAC derives a stable locally administered MAC for the host side. The
// leading 0xfe keeps it above any real NIC's address, so a bridge, which
// takes the lowest port MAC, does not change its address as containers come
// and go.
func hostMAC(ctid string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("vzkit-host-veth:" + ctid))
	return net.HardwareAddr{0xfe, sum[0], sum[1], sum[2], sum[3], sum[4]}
}

func validIfName(n string) error {
	if n == "" || len(n) > ifNameMax || n == "." || n == ".." || strings.ContainsAny(n, "/: \t\n") {
		return fmt.Errorf("interface name %q: must be 1-%d characters without '/', ':' or spaces", n, ifNameMax)
	}
	return nil
}

// NSPathOfPID is the network namespace path of process pid, such as a
// container's init.
func NSPathOfPID(pid int) string { return fmt.Sprintf("/proc/%d/ns/net", pid) }

// ParseIPAddress parses an OpenVZ IP_ADDRESS value: addresses separated by
// spaces, each with an optional /prefix. A bare address becomes a host
// prefix (/32 or /128), as OpenVZ's venet treats it.
func ParseIPAddress(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Fields(s) {
		p, err := ParseIP(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseIP parses one address with an optional /prefix (see ParseIPAddress).
// Its errors name the value as given, in an admin's words.
func ParseIP(s string) (netip.Prefix, error) {
	addr, bits, hasBits := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid IP address %q", s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid IP address %q: zones (%%%s) are not allowed", s, a.Zone())
	}
	if !hasBits {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	n, err := strconv.Atoi(bits)
	if err != nil || n < 0 || n > a.BitLen() || bits != strconv.Itoa(n) {
		return netip.Prefix{}, fmt.Errorf("invalid IP address %q: prefix length %q: want 0 to %d", s, bits, a.BitLen())
	}
	return netip.PrefixFrom(a, n), nil
}
