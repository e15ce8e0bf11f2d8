package runtime

import "context"

// Network connects containers to the host's network. Package runtime/net
// implements it (veth pairs, bridge or routed); vzctl wires it into
// Store.Net. Without one a container has only its loopback interface.
type Network interface {
	// Attach gives the container whose network namespace is at nsPath its
	// interface and addresses (OpenVZ's IP_ADDRESS, each "A" or "A/P").
	Attach(ctx context.Context, ctid, nsPath string, ips []string) error
	// SetIPs adds and removes addresses of a running container.
	SetIPs(ctx context.Context, ctid, nsPath string, add, del []string) error
	// Detach removes what Attach made on the host side; a container that
	// was never attached is not an error.
	Detach(ctx context.Context, ctid string) error
}
