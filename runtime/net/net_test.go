package vznet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/vzkit/vzkit/internal/testenv"
)

// testNS creates a named network namespace that is deleted (with every
// interface in it) when the test ends, pass or fail.
func testNS(t *testing.T, role string) (name, path string) {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name = "vzt-" + role + "-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return name, "/run/netns/" + name
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root: creates network namespaces, veth pairs and bridges")
	}
	for _, tool := range []string{"ip", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "needs %s (apt-get install iproute2 iputils-ping)", tool)
		}
	}
}

// ping runs one ping from namespace ns and reports whether it was answered.
func ping(t *testing.T, ns string, dst string) bool {
	t.Helper()
	args := []string{"netns", "exec", ns, "ping", "-n", "-c1", "-W2"}
	if strings.Contains(dst, ":") {
		args = append(args, "-6")
	}
	out, err := exec.Command("ip", append(args, dst)...).CombinedOutput()
	if err != nil {
		t.Logf("ping %s from %s: %v\n%s", dst, ns, err, out)
	}
	return err == nil
}

func mustPing(t *testing.T, ns, dst string) {
	t.Helper()
	if !ping(t, ns, dst) {
		t.Errorf("ping %s from namespace %s failed", dst, ns)
	}
}

func handleAt(t *testing.T, path string) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func linkNames(t *testing.T, h *netlink.Handle) []string {
	t.Helper()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	slices.Sort(names)
	return names
}

func hasAddr(t *testing.T, h *netlink.Handle, ifname, addr string) bool {
	t.Helper()
	l, err := h.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	as, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if a.IPNet.String() == addr {
			return true
		}
	}
	return false
}

func defaultGw(t *testing.T, h *netlink.Handle, family int) string {
	t.Helper()
	rs, err := h.RouteList(nil, family)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if (r.Dst == nil || r.Dst.IP.IsUnspecified()) && r.Gw != nil {
			return r.Gw.String()
		}
	}
	return ""
}

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		p, err := ParseIP(x)
		if err != nil {
			panic(err)
		}
		out = append(out, p)
	}
	return out
}

func TestBridged(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	hostName, hostPath := testNS(t, "host")
	c1Name, c1Path := testNS(t, "ct1")
	_, c2Path := testNS(t, "ct2")
	host := Host{NSPath: hostPath}

	cfg1 := Config{Mode: Bridged, BridgeAddr: netip.MustParsePrefix("192.0.2.1/24"),
		IPs: pfx("192.0.2.11/24", "fd00:5::11/64"), Gateway: netip.MustParseAddr("192.0.2.1"),
		Gateway6: netip.MustParseAddr("fd00:5::1")}
	att, err := host.Setup(ctx, c1Path, "101", cfg1)
	if err != nil {
		t.Fatal(err)
	}
	if att.HostIfName != "veth101.0" || att.IfName != "eth0" || att.Bridge != "vzbr0" {
		t.Errorf("attachment: %+v", att)
	}
	// A second container on the same bridge: the bridge already exists.
	cfg2 := Config{Mode: Bridged, BridgeAddr: netip.MustParsePrefix("192.0.2.1/24"),
		IPs: pfx("192.0.2.12/24", "fd00:5::12/64"), Gateway: netip.MustParseAddr("192.0.2.1")}
	if _, err := host.Setup(ctx, c2Path, "102", cfg2); err != nil {
		t.Fatal(err)
	}

	hh, c1 := handleAt(t, hostPath), handleAt(t, c1Path)
	br, err := hh.LinkByName("vzbr0")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"veth101.0", "veth102.0"} {
		l, err := hh.LinkByName(n)
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().MasterIndex != br.Attrs().Index {
			t.Errorf("%s is not a port of vzbr0", n)
		}
	}
	if got := defaultGw(t, c1, netlink.FAMILY_V4); got != "192.0.2.1" {
		t.Errorf("container default route via %q, want 192.0.2.1", got)
	}
	if got := defaultGw(t, c1, netlink.FAMILY_V6); got != "fd00:5::1" {
		t.Errorf("container IPv6 default route via %q, want fd00:5::1", got)
	}

	mustPing(t, hostName, "192.0.2.11")
	mustPing(t, hostName, "192.0.2.12")
	mustPing(t, c1Name, "192.0.2.12") // container to container across the bridge
	mustPing(t, c1Name, "fd00:5::12") // and over IPv6
	mustPing(t, c1Name, "127.0.0.1")  // lo is up
	mustPing(t, c1Name, "192.0.2.1")  // the host's bridge address

	// Attaching the same container twice is refused and leaves it working.
	if _, err := host.Setup(ctx, c1Path, "101", cfg1); err == nil {
		t.Error("second Setup of container 101: want an error")
	}
	mustPing(t, hostName, "192.0.2.11")

	// Live --ipadd / --ipdel.
	extra := netip.MustParsePrefix("192.0.2.21/24")
	if err := host.AddIP(ctx, c1Path, "101", cfg1, extra); err != nil {
		t.Fatal(err)
	}
	mustPing(t, hostName, "192.0.2.21")
	if err := host.DelIP(ctx, c1Path, "101", cfg1, extra); err != nil {
		t.Fatal(err)
	}
	if hasAddr(t, c1, "eth0", "192.0.2.21/24") {
		t.Error("192.0.2.21 still on eth0 after DelIP")
	}
	if ping(t, hostName, "192.0.2.21") {
		t.Error("192.0.2.21 still answers after DelIP")
	}
	if err := host.DelIP(ctx, c1Path, "101", cfg1, extra); err != nil {
		t.Errorf("DelIP of an absent address: %v", err)
	}

	for _, id := range []string{"101", "102"} {
		if err := host.Teardown(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if got := linkNames(t, hh); !slices.Equal(got, []string{"lo", "vzbr0"}) {
		t.Errorf("host links after teardown: %v, want [lo vzbr0]", got)
	}
	if got := linkNames(t, c1); !slices.Equal(got, []string{"lo"}) {
		t.Errorf("container links after teardown: %v, want [lo]", got)
	}
	if err := host.Teardown(ctx, "101"); err != nil {
		t.Errorf("teardown of a detached container: %v", err)
	}
}

func TestRouted(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	hostName, hostPath := testNS(t, "host")
	c1Name, c1Path := testNS(t, "ct1")
	_, c2Path := testNS(t, "ct2")
	host := Host{NSPath: hostPath}

	cfg1 := Config{Mode: Routed, IPs: pfx("198.51.100.5", "fd00:6::5"), MTU: 1400}
	if _, err := host.Setup(ctx, c1Path, "201", cfg1); err != nil {
		t.Fatal(err)
	}
	// A prefix given in routed mode is used as a host address inside.
	cfg2 := Config{Mode: Routed, IPs: pfx("198.51.100.6/24", "fd00:6::6")}
	if _, err := host.Setup(ctx, c2Path, "202", cfg2); err != nil {
		t.Fatal(err)
	}
	hh, c1, c2 := handleAt(t, hostPath), handleAt(t, c1Path), handleAt(t, c2Path)
	if !hasAddr(t, c2, "eth0", "198.51.100.6/32") {
		t.Error("routed container 202: want 198.51.100.6/32 on eth0")
	}
	if got := defaultGw(t, c1, netlink.FAMILY_V4); got != "169.254.0.1" {
		t.Errorf("container default route via %q, want 169.254.0.1", got)
	}
	if got := defaultGw(t, c1, netlink.FAMILY_V6); got != "fe80::1" {
		t.Errorf("container IPv6 default route via %q, want fe80::1", got)
	}
	for _, e := range []struct {
		h    *netlink.Handle
		name string
	}{{hh, "veth201.0"}, {c1, "eth0"}} {
		l, err := e.h.LinkByName(e.name)
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().MTU != 1400 {
			t.Errorf("%s MTU %d, want 1400", e.name, l.Attrs().MTU)
		}
	}
	if l, _ := hh.LinkByName("vzbr0"); l != nil {
		t.Error("routed mode created a bridge")
	}

	mustPing(t, hostName, "198.51.100.5")
	mustPing(t, hostName, "fd00:6::5")
	mustPing(t, c1Name, "198.51.100.6") // through the host's routing
	mustPing(t, c1Name, "fd00:6::6")

	extra := netip.MustParsePrefix("198.51.100.9/32")
	if err := host.AddIP(ctx, c1Path, "201", cfg1, extra); err != nil {
		t.Fatal(err)
	}
	mustPing(t, hostName, "198.51.100.9")
	if err := host.DelIP(ctx, c1Path, "201", cfg1, extra); err != nil {
		t.Fatal(err)
	}
	rs, err := hh.RouteGet(extra.Addr().AsSlice())
	if err == nil && len(rs) > 0 && rs[0].LinkIndex != 0 {
		if l, _ := hh.LinkByIndex(rs[0].LinkIndex); l != nil && l.Attrs().Name == "veth201.0" {
			t.Error("host still routes 198.51.100.9 to veth201.0 after DelIP")
		}
	}

	for _, id := range []string{"201", "202"} {
		if err := host.Teardown(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if got := linkNames(t, hh); !slices.Equal(got, []string{"lo"}) {
		t.Errorf("host links after teardown: %v, want [lo]", got)
	}
	routes, err := hh.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 0 {
		t.Errorf("host routes left after teardown: %v", routes)
	}
}

// A failure after the pair exists must not leave the pair behind.
func TestSetupFailureCleansUp(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	_, hostPath := testNS(t, "host")
	_, c1Path := testNS(t, "ct1")
	host := Host{NSPath: hostPath}
	// The gateway is outside the container's subnet: the default route fails.
	cfg := Config{Mode: Bridged, IPs: pfx("192.0.2.11/24"), Gateway: netip.MustParseAddr("198.51.100.1")}
	_, err := host.Setup(ctx, c1Path, "301", cfg)
	if err == nil {
		t.Fatal("Setup with an unreachable gateway: want an error")
	}
	if !strings.Contains(err.Error(), "301") || !strings.Contains(err.Error(), "198.51.100.1") {
		t.Errorf("error should name the container and the gateway: %v", err)
	}
	if got := linkNames(t, handleAt(t, hostPath)); !slices.Equal(got, []string{"lo", "vzbr0"}) {
		t.Errorf("host links after failed setup: %v, want [lo vzbr0]", got)
	}
	if got := linkNames(t, handleAt(t, c1Path)); !slices.Equal(got, []string{"lo"}) {
		t.Errorf("container links after failed setup: %v, want [lo]", got)
	}
	// A non-bridge in the bridge's place is refused, not reused.
	if _, err := host.Setup(ctx, c1Path, "302", Config{Mode: Bridged, Bridge: "lo"}); err == nil || !strings.Contains(err.Error(), "not a bridge") {
		t.Errorf("Setup with bridge lo: want a 'not a bridge' error, got %v", err)
	}
}

// A routed container reached from a LAN neighbour through the host's uplink
// (proxy ARP), with the container found by the PID of its init.
func TestRoutedFromLANByPID(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		testenv.Missing(t, "needs unshare (util-linux)")
	}
	ctx := context.Background()
	hostName, hostPath := testNS(t, "host")
	lanName, _ := testNS(t, "lan")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	// host:up0 198.51.100.1/24 <-> lan:eth0 198.51.100.100/24
	run("-n", hostName, "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", lanName)
	run("-n", hostName, "addr", "add", "198.51.100.1/24", "dev", "up0")
	run("-n", hostName, "link", "set", "up0", "up")
	run("-n", lanName, "addr", "add", "198.51.100.100/24", "dev", "eth0")
	run("-n", lanName, "link", "set", "eth0", "up")
	run("-n", lanName, "link", "set", "lo", "up")

	// The init reports once it is in its own namespace; before that its
	// /proc/PID/ns/net would still be the real host's.
	init := exec.Command("unshare", "--net", "sh", "-c", "echo ready; exec sleep 600")
	stdout, err := init.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := init.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { init.Process.Kill(); init.Wait() })
	line := make([]byte, 6)
	if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "ready\n" {
		t.Fatalf("container init did not start: %q, %v", line, err)
	}

	host := Host{NSPath: hostPath}
	cfg := Config{Mode: Routed, IPs: pfx("198.51.100.5"), UplinkDev: "up0"}
	if _, err := host.Setup(ctx, NSPathOfPID(init.Process.Pid), "401", cfg); err != nil {
		t.Fatal(err)
	}
	mustPing(t, lanName, "198.51.100.5")
	if err := host.Teardown(ctx, "401"); err != nil {
		t.Fatal(err)
	}
	if ping(t, lanName, "198.51.100.5") {
		t.Error("198.51.100.5 still answers after teardown")
	}
}
