// Package vznet gives containers their network: a veth pair per container,
// either plugged into a host bridge (bridged mode) or routed by the host
// (routed mode, OpenVZ venet style), with the container's IP_ADDRESS list
// configured inside its network namespace.
//
// How: everything is done over netlink (vishvananda/netlink) with one
// handle opened in the host namespace and one in the container namespace,
// so no goroutine ever switches its own thread's namespace for netlink
// work. The veth pair is created with its peer born directly inside the
// container namespace under its final name (eth0), which avoids a
// temporary name in the host and a rename race. The host side name is a
// pure function of the CTID (veth<CTID>.0, or a hash when that would not
// fit IFNAMSIZ), so later processes (vzctl set, vzctl stop) find the pair
// again without any state file; deleting the host side removes both ends
// and every route through it.
//
// Routed mode: the host side carries the link-local address 169.254.0.1/32
// (and fe80::1/64 for IPv6) and a /32 (/128) route per container address;
// the container gets its addresses as host addresses and a default route
// "via 169.254.0.1 dev eth0 onlink" (and "via fe80::1 dev eth0"). A fixed
// link-local gateway was chosen over the host's own address so the
// container config never depends on how the host is numbered, and it is
// the same for every container. IPv4 forwarding (IPv6 forwarding when an
// IPv6 address is routed) and proxy_arp on the host side are switched on
// in the host namespace, and proxy_arp on Config.UplinkDev when given so the
// LAN reaches the containers; those sysctls are the only thread-switching part.
//
// Static IPv6 addresses are added with IFA_F_NODAD: they are assigned by the
// admin, and DAD would only delay first use by a couple of seconds.
package vznet
