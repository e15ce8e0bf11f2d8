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
// the same for every container.
//
// Host-wide sysctls: routed mode needs net.ipv4.ip_forward=1 (and
// net.ipv6.conf.all.forwarding=1 once an IPv6 address is routed),
// net.ipv4.conf.<host side>.proxy_arp=1, and proxy_arp on Config.UplinkDev
// when given, so that the LAN reaches the containers. They are written only
// by Setup and AddIP, that is when a container with an address is
// attached, never by reading calls (Addrs, Teardown) or by a host whose
// containers have no address; each change is logged with its old value,
// and nothing is switched back on teardown (other containers, or the
// admin, may rely on it). For a named Host they are the only
// thread-switching part.
//
// Addrs reads, without changing anything, the addresses of the host's
// interfaces and the single-address routes to veths (routed containers'
// live addresses), for the caller's check that an address is free.
//
// Static IPv6 addresses are added with IFA_F_NODAD: they are assigned by the
// admin, and DAD would only delay first use by a couple of seconds.
package vznet
