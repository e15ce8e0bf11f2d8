package runtime

import (
	"context"
	"net/netip"
)

// Network connects containers to the host's network. Package runtime/net
// implements it (veth pairs, bridge or routed); vzctl wires it into
// Store.Net. Without one a container has only its loopback interface.
type Network interface {
	// Attach gives the container whose network namespace is at nsPath its
	// interface and addresses (OpenVZ's IP_ADDRESS, each "A" or "A/P")
	// and says how; nil when there was nothing to attach.
	Attach(ctx context.Context, ctid, nsPath string, ips []string) (*NetAttachment, error)
	// SetIPs adds and removes addresses of a running container and says
	// how it is attached afterwards.
	SetIPs(ctx context.Context, ctid, nsPath string, add, del []string) (*NetAttachment, error)
	// Detach removes what Attach made on the host side; a container that
	// was never attached is not an error.
	Detach(ctx context.Context, ctid string) error
	// HostAddrs lists the addresses in use on the host: those of its
	// interfaces, and those it routes to the host side of a container
	// (CTID set when that container is one of ctids). It only reads.
	HostAddrs(ctx context.Context, ctids []string) ([]HostAddr, error)
}

// HostAddr is an address in use on the host.
type HostAddr struct {
	Addr netip.Addr
	// Dev is the host interface that carries it, or for a Routed address
	// the container host side it is routed to.
	Dev string
	// Routed: a running container's address, routed to its host side.
	Routed bool
	// CTID is the container of a Routed address, when known.
	CTID string
}
