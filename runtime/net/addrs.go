package vznet

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// HostAddr is an address in use in the host namespace.
type HostAddr struct {
	Addr netip.Addr
	// Dev is the interface that carries it, or for a Routed address the
	// veth the host routes it to (a container's host side).
	Dev string
	// Routed marks a host route of one address (/32, /128, scope link)
	// to a veth: a routed container's address, live whether or not its
	// CTID.conf lists it.
	Routed bool
}

// Addrs lists the addresses of the host's interfaces and the addresses
// routed to veth host sides, so that an address is never given to a
// container while the host or another container holds it. It only reads.
func (h Host) Addrs(ctx context.Context) ([]HostAddr, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hh, err := h.handle()
	if err != nil {
		return nil, err
	}
	defer hh.Close()
	links, err := hh.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing host interfaces: %w", err)
	}
	name := map[int]string{}
	veth := map[int]bool{}
	for _, l := range links {
		name[l.Attrs().Index] = l.Attrs().Name
		_, veth[l.Attrs().Index] = l.(*netlink.Veth)
	}
	addrs, err := hh.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("listing host addresses: %w", err)
	}
	var out []HostAddr
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, HostAddr{Addr: ip.Unmap(), Dev: name[a.LinkIndex]})
		}
	}
	routes, err := hh.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("listing host routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || !veth[r.LinkIndex] || r.Scope != netlink.SCOPE_LINK {
			continue
		}
		ones, bits := r.Dst.Mask.Size()
		ip, ok := netip.AddrFromSlice(r.Dst.IP)
		if !ok || ones != bits {
			continue
		}
		out = append(out, HostAddr{Addr: ip.Unmap(), Dev: name[r.LinkIndex], Routed: true})
	}
	return out, nil
}
