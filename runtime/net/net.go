package vznet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Host is the network namespace that plays the host's part: the bridge, the
// host sides of the veth pairs and the routed-mode routes live there. The
// zero Host is the calling process's own namespace; tests and nested setups
// name another one by path (/run/netns/NAME, /proc/PID/ns/net).
type Host struct {
	NSPath string
}

// Attachment describes a container attached by Setup.
type Attachment struct {
	CTID       string
	NSPath     string // container network namespace
	Mode       Mode
	Bridge     string // bridged mode only
	HostIfName string
	IfName     string
	IPs        []netip.Prefix
}

// Setup attaches the container whose network namespace is nsPath, in the
// calling process's namespace. See Host.Setup.
func Setup(ctx context.Context, nsPath, ctid string, cfg Config) (*Attachment, error) {
	return Host{}.Setup(ctx, nsPath, ctid, cfg)
}

// Teardown detaches container ctid in the calling process's namespace. See Host.Teardown.
func Teardown(ctx context.Context, ctid string) error { return Host{}.Teardown(ctx, ctid) }

// AddIP adds one address to a running container. See Host.AddIP.
func AddIP(ctx context.Context, nsPath, ctid string, cfg Config, ip netip.Prefix) error {
	return Host{}.AddIP(ctx, nsPath, ctid, cfg, ip)
}

// DelIP removes one address from a running container. See Host.DelIP.
func DelIP(ctx context.Context, nsPath, ctid string, cfg Config, ip netip.Prefix) error {
	return Host{}.DelIP(ctx, nsPath, ctid, cfg, ip)
}

// Setup creates the veth pair of container ctid, plugs or routes its host
// side according to cfg.Mode, and configures lo, the addresses and the
// default routes inside the namespace at nsPath. On error nothing it created
// is left behind (the bridge, shared by all containers, stays).
func (h Host) Setup(ctx context.Context, nsPath, ctid string, cfg Config) (*Attachment, error) {
	cfg, err := cfg.withDefaults(ctid)
	if err != nil {
		return nil, fmt.Errorf("network setup of container %s: %w", ctid, err)
	}
	s, err := h.open(nsPath)
	if err != nil {
		return nil, fmt.Errorf("network setup of container %s: %w", ctid, err)
	}
	defer s.close()

	att, err := h.setup(ctx, s, ctid, cfg)
	if err != nil {
		return nil, fmt.Errorf("network setup of container %s (%s mode, host side %s, netns %s): %w",
			ctid, cfg.Mode, cfg.HostIfName, nsPath, err)
	}
	att.NSPath = nsPath
	return att, nil
}

func (h Host) setup(ctx context.Context, s *session, ctid string, cfg Config) (_ *Attachment, err error) {
	var master netlink.Link
	if cfg.Mode == Bridged {
		br, err := ensureBridge(s.host, cfg)
		if err != nil {
			return nil, err
		}
		master = br
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := s.host.LinkByName(cfg.HostIfName); err == nil {
		// Refuse rather than reuse: it may belong to a container that was
		// never torn down, and deleting it here would cut that one off.
		return nil, fmt.Errorf("host interface %s already exists", cfg.HostIfName)
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: cfg.HostIfName, MTU: cfg.MTU, HardwareAddr: hostMAC(ctid)},
		PeerName:      cfg.IfName,
		PeerNamespace: netlink.NsFd(int(s.ctNS)),
	}
	if master != nil {
		veth.MasterIndex = master.Attrs().Index
	}
	if err := s.host.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("creating veth pair %s/%s: %w", cfg.HostIfName, cfg.IfName, err)
	}
	defer func() {
		if err == nil {
			return
		}
		// Deleting our host side removes the peer too.
		if l, lerr := s.host.LinkByName(cfg.HostIfName); lerr == nil {
			if derr := s.host.LinkDel(l); derr != nil {
				slog.Warn("cleaning up host veth after failed setup", "ctid", ctid, "if", cfg.HostIfName, "err", derr)
			}
		}
	}()
	hostLink, err := s.host.LinkByName(cfg.HostIfName)
	if err != nil {
		return nil, fmt.Errorf("looking up %s after creation: %w", cfg.HostIfName, err)
	}
	if err := s.host.LinkSetUp(hostLink); err != nil {
		return nil, fmt.Errorf("bringing %s up: %w", cfg.HostIfName, err)
	}
	if cfg.Mode == Routed {
		// proxy_arp on the host side lets a container whose own distro config
		// puts a wider prefix on eth0 still reach its "neighbours" via the host.
		if err := h.sysctl(fmt.Sprintf("net/ipv4/conf/%s/proxy_arp", cfg.HostIfName), "1"); err != nil {
			return nil, err
		}
		if err := h.sysctl("net/ipv4/ip_forward", "1"); err != nil {
			return nil, err
		}
		if cfg.UplinkDev != "" {
			if err := h.sysctl(fmt.Sprintf("net/ipv4/conf/%s/proxy_arp", cfg.UplinkDev), "1"); err != nil {
				return nil, err
			}
		}
	}

	lo, err := s.ct.LinkByName("lo")
	if err != nil {
		return nil, fmt.Errorf("container lo: %w", err)
	}
	if err := s.ct.LinkSetUp(lo); err != nil {
		return nil, fmt.Errorf("bringing container lo up: %w", err)
	}
	ctLink, err := s.ct.LinkByName(cfg.IfName)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", cfg.IfName, err)
	}
	if err := s.ct.LinkSetUp(ctLink); err != nil {
		return nil, fmt.Errorf("bringing container %s up: %w", cfg.IfName, err)
	}
	for _, ip := range cfg.IPs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := h.addIP(s, cfg, hostLink, ctLink, ip); err != nil {
			return nil, err
		}
	}
	att := &Attachment{CTID: ctid, Mode: cfg.Mode, HostIfName: cfg.HostIfName, IfName: cfg.IfName, IPs: cfg.IPs}
	if cfg.Mode == Bridged {
		att.Bridge = cfg.Bridge
	}
	return att, nil
}

// Teardown deletes the host side of container ctid's veth pair, which
// removes the peer and every route through it. A pair that is already gone
// is not an error, so stop can always call it.
func (h Host) Teardown(ctx context.Context, ctid string) error {
	return h.TeardownIf(ctx, HostIfName(ctid))
}

// TeardownIf is Teardown for a host side named explicitly (Config.HostIfName).
func (h Host) TeardownIf(ctx context.Context, hostIfName string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	hh, err := h.handle()
	if err != nil {
		return fmt.Errorf("network teardown of %s: %w", hostIfName, err)
	}
	defer hh.Close()
	l, err := hh.LinkByName(hostIfName)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("network teardown: looking up %s: %w", hostIfName, err)
	}
	if _, ok := l.(*netlink.Veth); !ok {
		return fmt.Errorf("network teardown: %s is a %s, not a veth; not deleting it", hostIfName, l.Type())
	}
	if err := hh.LinkDel(l); err != nil {
		return fmt.Errorf("network teardown: deleting %s: %w", hostIfName, err)
	}
	return nil
}

// AddIP adds ip to the running container ctid (vzctl set --ipadd): the
// address inside, plus in routed mode the host route and, for the first
// address of a family, the gateway parts. It is idempotent.
func (h Host) AddIP(ctx context.Context, nsPath, ctid string, cfg Config, ip netip.Prefix) error {
	cfg, err := cfg.withDefaults(ctid)
	if err == nil && !ip.IsValid() {
		err = fmt.Errorf("invalid address %v", ip)
	}
	if err != nil {
		return fmt.Errorf("adding IP to container %s: %w", ctid, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := h.open(nsPath)
	if err != nil {
		return fmt.Errorf("adding IP %s to container %s: %w", ip, ctid, err)
	}
	defer s.close()
	hostLink, ctLink, err := s.links(cfg)
	if err == nil {
		err = h.addIP(s, cfg, hostLink, ctLink, ip)
	}
	if err != nil {
		return fmt.Errorf("adding IP %s to container %s: %w", ip, ctid, err)
	}
	return nil
}

// Attached reads how the running container ctid is attached now: its
// veth pair and the global addresses on its side, in the kernel's order
// (which is the order they were added in).
func (h Host) Attached(ctx context.Context, nsPath, ctid string, cfg Config) (*Attachment, error) {
	cfg, err := cfg.withDefaults(ctid)
	if err != nil {
		return nil, fmt.Errorf("network of container %s: %w", ctid, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := h.open(nsPath)
	if err != nil {
		return nil, fmt.Errorf("network of container %s: %w", ctid, err)
	}
	defer s.close()
	_, ctLink, err := s.links(cfg)
	if err != nil {
		return nil, fmt.Errorf("network of container %s: %w", ctid, err)
	}
	addrs, err := s.ct.AddrList(ctLink, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("network of container %s: addresses of %s: %w", ctid, cfg.IfName, err)
	}
	att := &Attachment{CTID: ctid, NSPath: nsPath, Mode: cfg.Mode, HostIfName: cfg.HostIfName, IfName: cfg.IfName}
	if cfg.Mode == Bridged {
		att.Bridge = cfg.Bridge
	}
	for _, a := range addrs {
		if a.Scope != int(netlink.SCOPE_UNIVERSE) {
			continue // the link-local address IPv6 gives every link
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		att.IPs = append(att.IPs, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return att, nil
}

// DelIP removes ip from the running container ctid (vzctl set --ipdel) and,
// in routed mode, its host route. Removing an absent address is not an error.
func (h Host) DelIP(ctx context.Context, nsPath, ctid string, cfg Config, ip netip.Prefix) error {
	cfg, err := cfg.withDefaults(ctid)
	if err == nil && !ip.IsValid() {
		err = fmt.Errorf("invalid address %v", ip)
	}
	if err != nil {
		return fmt.Errorf("removing IP from container %s: %w", ctid, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := h.open(nsPath)
	if err != nil {
		return fmt.Errorf("removing IP %s from container %s: %w", ip, ctid, err)
	}
	defer s.close()
	hostLink, ctLink, err := s.links(cfg)
	if err != nil {
		return fmt.Errorf("removing IP %s from container %s: %w", ip, ctid, err)
	}
	addr := ctAddr(cfg, ip)
	if err := s.ct.AddrDel(ctLink, addr); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("removing IP %s from container %s: %w", ip, ctid, err)
	}
	if cfg.Mode == Routed {
		r := hostRoute(hostLink, ip)
		if err := s.host.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("removing host route %s dev %s: %w", r.Dst, cfg.HostIfName, err)
		}
	}
	return nil
}

// addIP configures one address; every step replaces, so it is idempotent.
func (h Host) addIP(s *session, cfg Config, hostLink, ctLink netlink.Link, ip netip.Prefix) error {
	if err := s.ct.AddrReplace(ctLink, ctAddr(cfg, ip)); err != nil {
		return fmt.Errorf("adding %s on container %s: %w", ip, cfg.IfName, err)
	}
	v6 := ip.Addr().Is6() && !ip.Addr().Is4In6()
	var gw netip.Addr
	onlink := false
	switch {
	case cfg.Mode == Bridged && v6:
		gw = cfg.Gateway6
	case cfg.Mode == Bridged:
		gw = cfg.Gateway
	case v6:
		gw = RoutedGateway6
		if err := s.host.AddrReplace(hostLink, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(gw, 64)), Flags: unix.IFA_F_NODAD}); err != nil {
			return fmt.Errorf("adding gateway %s on host %s: %w", gw, cfg.HostIfName, err)
		}
		if err := h.sysctl("net/ipv6/conf/all/forwarding", "1"); err != nil {
			return err
		}
	default:
		gw, onlink = RoutedGateway4, true
		if err := s.host.AddrReplace(hostLink, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(gw, 32))}); err != nil {
			return fmt.Errorf("adding gateway %s on host %s: %w", gw, cfg.HostIfName, err)
		}
	}
	if cfg.Mode == Routed {
		r := hostRoute(hostLink, ip)
		if err := s.host.RouteReplace(r); err != nil {
			return fmt.Errorf("adding host route %s dev %s: %w", r.Dst, cfg.HostIfName, err)
		}
	}
	if !gw.IsValid() {
		return nil
	}
	def := &netlink.Route{LinkIndex: ctLink.Attrs().Index, Dst: ipNet(netip.PrefixFrom(netip.IPv4Unspecified(), 0)), Gw: net.IP(gw.AsSlice())}
	if v6 {
		def.Dst = ipNet(netip.PrefixFrom(netip.IPv6Unspecified(), 0))
	}
	if onlink {
		def.Flags = int(netlink.FLAG_ONLINK)
	}
	if err := s.ct.RouteReplace(def); err != nil {
		return fmt.Errorf("adding default route via %s in container: %w", gw, err)
	}
	return nil
}

// ctAddr is the address as configured inside: as given in bridged mode, a
// host address in routed mode (the host routes each address separately).
func ctAddr(cfg Config, ip netip.Prefix) *netlink.Addr {
	p := ip
	if cfg.Mode == Routed {
		p = netip.PrefixFrom(ip.Addr(), ip.Addr().BitLen())
	}
	a := &netlink.Addr{IPNet: ipNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

func hostRoute(hostLink netlink.Link, ip netip.Prefix) *netlink.Route {
	a := ip.Addr()
	return &netlink.Route{LinkIndex: hostLink.Attrs().Index, Scope: netlink.SCOPE_LINK, Dst: ipNet(netip.PrefixFrom(a, a.BitLen()))}
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// ensureBridge finds or creates the bridge, gives it cfg.BridgeAddr when
// set, and brings it up. Concurrent callers may race to create it; the loser
// just uses the winner's bridge.
func ensureBridge(h *netlink.Handle, cfg Config) (netlink.Link, error) {
	br, err := h.LinkByName(cfg.Bridge)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("looking up bridge %s: %w", cfg.Bridge, err)
		}
		attrs := netlink.LinkAttrs{Name: cfg.Bridge, MTU: cfg.MTU}
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("creating bridge %s: %w", cfg.Bridge, err)
		}
		if br, err = h.LinkByName(cfg.Bridge); err != nil {
			return nil, fmt.Errorf("looking up bridge %s after creation: %w", cfg.Bridge, err)
		}
	}
	if br.Type() != "bridge" {
		return nil, fmt.Errorf("%s exists but is a %s, not a bridge", cfg.Bridge, br.Type())
	}
	if cfg.BridgeAddr.IsValid() {
		a := &netlink.Addr{IPNet: ipNet(cfg.BridgeAddr)}
		if cfg.BridgeAddr.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrReplace(br, a); err != nil {
			return nil, fmt.Errorf("adding %s on bridge %s: %w", cfg.BridgeAddr, cfg.Bridge, err)
		}
	}
	if err := h.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("bringing bridge %s up: %w", cfg.Bridge, err)
	}
	return br, nil
}

// session holds netlink handles in the host and container namespaces.
type session struct {
	host, ct *netlink.Handle
	ctNS     netns.NsHandle
}

func (h Host) handle() (*netlink.Handle, error) {
	if h.NSPath == "" {
		hh, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netlink in host namespace: %w", err)
		}
		return hh, nil
	}
	ns, err := netns.GetFromPath(h.NSPath)
	if err != nil {
		return nil, fmt.Errorf("opening host netns %s: %w", h.NSPath, err)
	}
	defer ns.Close()
	hh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in host netns %s: %w", h.NSPath, err)
	}
	return hh, nil
}

func (h Host) open(nsPath string) (*session, error) {
	if nsPath == "" {
		return nil, errors.New("no container network namespace given")
	}
	ctNS, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("opening container netns %s: %w", nsPath, err)
	}
	ct, err := netlink.NewHandleAt(ctNS)
	if err != nil {
		ctNS.Close()
		return nil, fmt.Errorf("netlink in container netns %s: %w", nsPath, err)
	}
	hh, err := h.handle()
	if err != nil {
		ct.Close()
		ctNS.Close()
		return nil, err
	}
	return &session{host: hh, ct: ct, ctNS: ctNS}, nil
}

func (s *session) close() {
	s.host.Close()
	s.ct.Close()
	s.ctNS.Close()
}

func (s *session) links(cfg Config) (hostLink, ctLink netlink.Link, err error) {
	if hostLink, err = s.host.LinkByName(cfg.HostIfName); err != nil {
		return nil, nil, fmt.Errorf("host side %s (is the container's network set up?): %w", cfg.HostIfName, err)
	}
	if ctLink, err = s.ct.LinkByName(cfg.IfName); err != nil {
		return nil, nil, fmt.Errorf("container %s: %w", cfg.IfName, err)
	}
	return hostLink, ctLink, nil
}

// sysctl sets /proc/sys/<key> to val in the host namespace, logging when it
// changes a value. /proc/sys/net follows the namespace of the thread that
// opens it, so for a named Host the write happens on a locked thread that
// has joined that namespace; if the thread cannot get back to its own
// namespace it stays locked and dies with its goroutine.
func (h Host) sysctl(key, val string) error {
	if h.NSPath == "" {
		return writeSysctl(key, val, "")
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("sysctl %s: current netns: %w", key, err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(h.NSPath)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("sysctl %s: opening netns %s: %w", key, h.NSPath, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("sysctl %s: joining netns %s: %w", key, h.NSPath, err)
			return
		}
		err = writeSysctl(key, val, h.NSPath)
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func writeSysctl(key, val, ns string) error {
	p := "/proc/sys/" + key
	cur, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("sysctl %s: %w", p, err)
	}
	if strings.TrimSpace(string(cur)) == val {
		return nil
	}
	if err := os.WriteFile(p, []byte(val), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", p, val, err)
	}
	slog.Info("changed host sysctl for container networking", "key", strings.ReplaceAll(key, "/", "."), "from", strings.TrimSpace(string(cur)), "to", val, "netns", ns)
	return nil
}
