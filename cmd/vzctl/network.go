package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vzkit/vzkit/runtime"
	vznet "github.com/vzkit/vzkit/runtime/net"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

// network adapts package runtime/net to runtime.Network. NETWORK_MODE in
// vz.conf picks "routed" (the default, OpenVZ's venet way), "bridged"
// (veth on BRIDGE, default vzbr0) or "none" (loopback only). A container
// without IP_ADDRESS gets no veth pair.
type network struct {
	cfg  vznet.Config
	root string // VZKIT_ROOT prefix: host-side names must not clash across prefixes
}

// newNetwork returns the configured backend, or nil for NETWORK_MODE=none.
func newNetwork(g *vzconf.Global) (*network, error) {
	n := &network{root: g.Root}
	switch m := g.Get("NETWORK_MODE"); m {
	case "none":
		return nil, nil
	case "", string(vznet.Routed):
		n.cfg.Mode = vznet.Routed
	case string(vznet.Bridged):
		n.cfg.Mode = vznet.Bridged
		n.cfg.Bridge = g.Get("BRIDGE")
	default:
		return nil, fmt.Errorf("%s: NETWORK_MODE=%q: want routed, bridged or none", g.File, m)
	}
	return n, nil
}

// id is the name of a container for package vznet, which derives global
// host-side names (veth<ID>.0, MAC addresses) from it: the CTID on a host,
// a hash of prefix and CTID under a VZKIT_ROOT prefix, so that two prefixes
// using the same CTID (parallel test runs) do not clash.
func (n *network) id(ctid string) string {
	if n.root == "" {
		return ctid
	}
	sum := sha256.Sum256([]byte(n.root + "\x00" + ctid))
	return "r" + hex.EncodeToString(sum[:8])
}

func (n *network) config(ctid string) vznet.Config {
	c := n.cfg
	c.HostIfName = vznet.HostIfName(n.id(ctid))
	return c
}

func parseIPs(ips []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ips))
	for _, s := range ips {
		p, err := vznet.ParseIP(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (n *network) Attach(ctx context.Context, ctid, nsPath string, ips []string) (*runtime.NetAttachment, error) {
	if len(ips) == 0 {
		return nil, nil
	}
	cfg := n.config(ctid)
	var err error
	if cfg.IPs, err = parseIPs(ips); err != nil {
		return nil, err
	}
	att, err := vznet.Setup(ctx, nsPath, n.id(ctid), cfg)
	if err != nil {
		return nil, err
	}
	return netAttachment(att), nil
}

// netAttachment is att as the runtime records it.
func netAttachment(att *vznet.Attachment) *runtime.NetAttachment {
	return &runtime.NetAttachment{
		Mode: string(att.Mode), Bridge: att.Bridge, HostIf: att.HostIfName, ContainerIf: att.IfName, Addrs: att.IPs,
	}
}

func (n *network) SetIPs(ctx context.Context, ctid, nsPath string, add, del []string) (*runtime.NetAttachment, error) {
	cfg := n.config(ctid)
	if _, err := net.InterfaceByName(cfg.HostIfName); err != nil {
		// Not attached yet: it had no address when it started.
		return n.Attach(ctx, ctid, nsPath, add)
	}
	adds, err := parseIPs(add)
	if err != nil {
		return nil, err
	}
	dels, err := parseIPs(del)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ip := range dels {
		errs = append(errs, vznet.DelIP(ctx, nsPath, n.id(ctid), cfg, ip))
	}
	for _, ip := range adds {
		errs = append(errs, vznet.AddIP(ctx, nsPath, n.id(ctid), cfg, ip))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	att, err := vznet.Host{}.Attached(ctx, nsPath, n.id(ctid), cfg)
	if err != nil {
		return nil, err
	}
	return netAttachment(att), nil
}

// HostAddrs reads the host's addresses and routed container addresses
// (vznet.Host.Addrs); a route is credited to one of ctids by its host side's
// name, which only this network's naming can tell.
func (n *network) HostAddrs(ctx context.Context, ctids []string) ([]runtime.HostAddr, error) {
	addrs, err := vznet.Host{}.Addrs(ctx)
	if err != nil {
		return nil, err
	}
	owner := map[string]string{}
	for _, id := range ctids {
		owner[n.config(id).HostIfName] = id
	}
	out := make([]runtime.HostAddr, 0, len(addrs))
	for _, a := range addrs {
		h := runtime.HostAddr{Addr: a.Addr, Dev: a.Dev, Routed: a.Routed}
		if a.Routed {
			h.CTID = owner[a.Dev]
		}
		out = append(out, h)
	}
	return out, nil
}

func (n *network) Detach(ctx context.Context, ctid string) error {
	return vznet.Host{}.TeardownIf(ctx, n.config(ctid).HostIfName)
}
