package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Container addresses: what an address may be (ParseIP), who else holds
// it (checkIPsFree, under ipLock), and the host's resolvers that
// NAMESERVER="inherit" stands for.

// ParseIP parses a container address as `set --ipadd`, `create --ipadd` and
// IP_ADDRESS take it: "A" or "A/PREFIX", IPv4 or IPv6. Its errors wrap
// ErrBadIP and say what is wrong in an admin's words. Kinds of address no
// container can have (loopback, multicast, unspecified, link-local,
// broadcast) are refused here, when the admin types them, rather than by
// the kernel at the next start.
func ParseIP(s string) (netip.Prefix, error) {
	addr, bits, hasBits := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%w %q: want an IPv4 address (192.0.2.10) or an IPv6 address (2001:db8::10), optionally with /PREFIX", ErrBadIP, s)
	}
	p := netip.PrefixFrom(a, a.BitLen())
	if hasBits {
		n, err := strconv.Atoi(bits)
		if err != nil || n < 0 || n > a.BitLen() || strconv.Itoa(n) != bits {
			return netip.Prefix{}, fmt.Errorf("%w %q: the prefix length must be a number from 0 to %d", ErrBadIP, s, a.BitLen())
		}
		p = netip.PrefixFrom(a, n)
	}
	if why := unusableAddr(a); why != "" {
		return netip.Prefix{}, fmt.Errorf("%w %q: %s", ErrBadIP, s, why)
	}
	return p, nil
}

var broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// unusableAddr says why a is no address for a container, or "".
func unusableAddr(a netip.Addr) string {
	switch {
	case a.Is4In6():
		return "an IPv4-mapped IPv6 address; write it as " + a.Unmap().String()
	case a.IsUnspecified():
		return `the unspecified address ("any address"), which no host can have`
	case a.IsLoopback():
		return "a loopback address; every container has its own loopback interface (lo) already"
	case a.IsMulticast():
		return "a multicast address, which names a group, not one host"
	case a.IsLinkLocalUnicast():
		return "a link-local address, valid on one link only (and 169.254.0.1 and fe80::1 are the gateway of routed containers)"
	case a == broadcast4:
		return "the broadcast address"
	}
	return ""
}

// confAddr is the address of an IP_ADDRESS entry, however odd: a saved
// entry that ParseIP would refuse still holds its address.
func confAddr(s string) (netip.Addr, bool) {
	addr, _, _ := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// IPInUseError is an address that another container or the host already
// uses; it matches ErrIPInUse (OpenVZ's exit code 78).
type IPInUseError struct {
	Addr netip.Addr
	// CTID is the container that holds it ("" when the host does).
	CTID string
	// Dev is the host interface that carries it, or the container's host
	// side that the host routes it to (Live).
	Dev string
	// Live: running container CTID holds it (the host routes it to its
	// host side), whether or not its CTID.conf lists it.
	Live bool
}

func (e *IPInUseError) Error() string {
	switch {
	case e.CTID != "" && e.Live:
		return fmt.Sprintf("%s is already used by running container %s (routed to its %s)", e.Addr, e.CTID, e.Dev)
	case e.CTID != "":
		return fmt.Sprintf("%s is already used by container %s", e.Addr, e.CTID)
	}
	return fmt.Sprintf("%s is already used by the host on %s", e.Addr, e.Dev)
}

func (e *IPInUseError) Is(target error) bool { return target == ErrIPInUse }

// ipLock serialises the check that an address is free with the write
// that takes it (the CTID.conf recording it, or the route of a start),
// across vzctl processes: two concurrent `set --ipadd` of one address
// cannot both see it free. It is taken after a container's lock, never
// before, and waited for (it is held for milliseconds).
func (s *Store) ipLock() (*Lock, error) { return s.lockFile(".ipaddr", true) }

// checkIPsFree returns an *IPInUseError for the first of ips that someone
// other than container ctid holds: with confs, another container whose
// IP_ADDRESS lists it; always, the host (an address of one of its
// interfaces) and a running container of this store that the host routes
// it to (Network). Routes to veths of no container here are not counted:
// they belong to another vzkit (a VZKIT_ROOT prefix, such as a parallel
// test run) or to the admin's own set-up, which this store does not
// manage. The caller holds ipLock.
func (s *Store) checkIPsFree(ctx context.Context, ctid string, ips []netip.Prefix, confs bool) error {
	if len(ips) == 0 {
		return nil
	}
	cts, err := s.List()
	if err != nil {
		return err
	}
	ids := []string{ctid}
	saved := map[netip.Addr]string{}
	for _, c := range cts {
		if c.ID == ctid {
			continue
		}
		ids = append(ids, c.ID)
		if !confs {
			continue
		}
		for _, f := range c.IPs() {
			if a, ok := confAddr(f); ok {
				if _, dup := saved[a]; !dup {
					saved[a] = c.ID
				}
			}
		}
	}
	var host []HostAddr
	if s.Net != nil {
		if host, err = s.Net.HostAddrs(ctx, ids); err != nil {
			return fmt.Errorf("container %s: check whether its addresses are free: %w", ctid, err)
		}
	}
	for _, p := range ips {
		a := p.Addr().Unmap()
		if id, ok := saved[a]; ok {
			return &IPInUseError{Addr: a, CTID: id}
		}
		for _, h := range host {
			if h.Addr != a || h.Routed && (h.CTID == "" || h.CTID == ctid) {
				continue
			}
			return &IPInUseError{Addr: a, CTID: h.CTID, Dev: h.Dev, Live: h.Routed}
		}
	}
	return nil
}

// parseIPs parses IP_ADDRESS-style entries with ParseIP.
func parseIPs(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		p, err := ParseIP(e)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// DNS: NAMESERVER and SEARCHDOMAIN may say "inherit", as in OpenVZ: the
// host's own, read from its resolv.conf whenever they are applied (at each
// start and set), so that a container follows the host's changes.

const inherit = "inherit"

// Where the host's resolvers are read. systemd-resolved's stub resolver
// (127.0.0.53 in /etc/resolv.conf) listens on the host's loopback, which
// a container's network namespace does not reach; its list of upstream
// servers is what such a container needs.
var (
	hostResolvConf   = "/etc/resolv.conf"
	resolvedUpstream = "/run/systemd/resolve/resolv.conf"
)

// parseResolvConf returns the nameserver and search entries of a
// resolv.conf, in order; nameservers that are not addresses are dropped.
func parseResolvConf(b []byte) (ns, search []string) {
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(f[1]); err == nil {
				ns = append(ns, a.String())
			}
		case "search":
			search = f[1:]
		case "domain":
			if search == nil {
				search = f[1:2]
			}
		}
	}
	return ns, search
}

// hostDNS is what "inherit" stands for: the host's resolvers without the
// loopback ones (skipped lists those, for the caller to tell the admin),
// and its search domains. When every resolver of /etc/resolv.conf is on
// loopback and systemd-resolved keeps a list of its upstream servers, that
// list is used (from says which file the resolvers came from).
func hostDNS() (ns, search, skipped []string, from string, err error) {
	b, err := os.ReadFile(hostResolvConf)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, "", fmt.Errorf("host resolvers: %w", err)
	}
	all, search := parseResolvConf(b)
	ns, skipped = usableResolvers(all)
	from = hostResolvConf
	if len(ns) == 0 && len(skipped) > 0 {
		if b, err := os.ReadFile(resolvedUpstream); err == nil {
			all, _ := parseResolvConf(b)
			if up, _ := usableResolvers(all); len(up) > 0 {
				ns, from = up, resolvedUpstream
			}
		}
	}
	return ns, search, skipped, from, nil
}

// usableResolvers splits resolvers into those a container can reach and the
// host's loopback ones, which inside the container would be its own lo.
func usableResolvers(all []string) (ok, loopback []string) {
	for _, n := range all {
		if a, err := netip.ParseAddr(n); err == nil && a.Unmap().IsLoopback() {
			loopback = append(loopback, n)
		} else {
			ok = append(ok, n)
		}
	}
	return ok, loopback
}

// dnsOf returns c's nameservers and search domains with "inherit" replaced
// by the host's. warn reports the host resolvers that were skipped.
func (s *Store) dnsOf(c *Container, warn func(msg string, args ...any)) (ns, search []string, err error) {
	ns, search = strings.Fields(c.Get("NAMESERVER")), strings.Fields(c.Get("SEARCHDOMAIN"))
	inhNS, inhSearch := len(ns) == 1 && ns[0] == inherit, len(search) == 1 && search[0] == inherit
	if !inhNS && !inhSearch {
		return ns, search, nil
	}
	hns, hsearch, skipped, from, err := hostDNS()
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	if inhNS {
		for _, n := range skipped {
			warn("nameserver inherit: skipping the host's resolver "+n+": a loopback address, which inside the container is the container's own lo",
				"ctid", c.ID, "file", hostResolvConf)
		}
		if from != hostResolvConf {
			warn("nameserver inherit: using systemd-resolved's upstream servers", "ctid", c.ID, "file", from, "nameservers", strings.Join(hns, " "))
		}
		if len(hns) == 0 {
			return nil, nil, fmt.Errorf("container %s: %w: inherit: %s names no resolver a container can reach%s; give --nameserver ADDRESS",
				c.ID, ErrBadNameserver, hostResolvConf, loopbackNote(skipped))
		}
		ns = hns
	}
	if inhSearch {
		search = hsearch
	}
	return ns, search, nil
}

func loopbackNote(skipped []string) string {
	if len(skipped) == 0 {
		return ""
	}
	return " (only loopback ones: " + strings.Join(skipped, " ") + ")"
}

// checkNameservers validates --nameserver values: addresses, or "inherit"
// alone.
func checkNameservers(ns []string) error {
	for _, n := range ns {
		if n == inherit {
			if len(ns) > 1 {
				return fmt.Errorf("%w: --nameserver inherit takes the host's resolvers and cannot be combined with addresses", ErrBadNameserver)
			}
			continue
		}
		if a, err := netip.ParseAddr(n); err != nil || a.Zone() != "" {
			return fmt.Errorf("%w %q: want an IPv4 or IPv6 address (no /PREFIX), or inherit", ErrBadNameserver, n)
		}
	}
	return nil
}
