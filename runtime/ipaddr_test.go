package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestParseIPWords(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: "" = accepted
	}{
		{"192.0.2.10", ""},
		{"192.0.2.10/24", ""},
		{"2001:db8::10", ""},
		{"2001:db8::10/64", ""},
		{"300.1.2.3", `invalid IP address "300.1.2.3": want an IPv4 address`},
		{"example.org", `invalid IP address "example.org": want`},
		{"", `invalid IP address "": want`},
		{"192.0.2.10/33", `invalid IP address "192.0.2.10/33": the prefix length must be a number from 0 to 32`},
		{"192.0.2.10/+8", `prefix length`},
		{"fe80::1%eth0", `invalid IP address "fe80::1%eth0": want`},
		{"127.0.0.1", `invalid IP address "127.0.0.1": a loopback address`},
		{"127.8.9.1/8", `a loopback address`},
		{"::1", `a loopback address`},
		{"224.0.0.1", `a multicast address`},
		{"ff02::1", `a multicast address`},
		{"0.0.0.0", `the unspecified address`},
		{"::", `the unspecified address`},
		{"169.254.0.1", `a link-local address`},
		{"fe80::1", `a link-local address`},
		{"255.255.255.255", `the broadcast address`},
		{"::ffff:192.0.2.10", `write it as 192.0.2.10`},
	} {
		_, err := ParseIP(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ParseIP(%q): %v", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrBadIP)):
			t.Errorf("ParseIP(%q) = %v, want an ErrBadIP containing %q", tc.in, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "ParseAddr"):
			t.Errorf("ParseIP(%q): Go's words leak into the message: %v", tc.in, err)
		}
	}
}

func TestChangeIPsMatchesByAddress(t *testing.T) {
	o := &SetOptions{IPDel: []string{"192.0.2.10", "198.51.100.9"}, IPAdd: []string{"192.0.2.11/24", "192.0.2.12"}}
	got, err := changeIPs([]string{"192.0.2.10/24", "192.0.2.11", "300.1.2.3"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "300.1.2.3 192.0.2.11/24 192.0.2.12" {
		t.Errorf("IP_ADDRESS after the change: %q", got)
	}
	// The saved entry, and the unsaved one for a live removal.
	if strings.Join(o.IPDel, " ") != "192.0.2.10/24 198.51.100.9" {
		t.Errorf("removed: %q", o.IPDel)
	}
	// A broken saved entry can be removed by name; garbage cannot be added.
	o = &SetOptions{IPDel: []string{"300.1.2.3"}}
	if got, err := changeIPs([]string{"300.1.2.3"}, o); err != nil || len(got) != 0 {
		t.Errorf("--ipdel of a broken saved entry: %q %v", got, err)
	}
	if _, err := changeIPs(nil, &SetOptions{IPDel: []string{"bogus"}}); !errors.Is(err, ErrBadIP) {
		t.Errorf("--ipdel bogus: %v", err)
	}
	if _, err := changeIPs(nil, &SetOptions{IPAdd: []string{"127.0.0.2"}}); !errors.Is(err, ErrBadIP) || !strings.Contains(err.Error(), "--ipadd") {
		t.Errorf("--ipadd 127.0.0.2: %v", err)
	}
}

func TestParseResolvConf(t *testing.T) {
	ns, search := parseResolvConf([]byte("# generated\nnameserver 127.0.0.53\noptions edns0\nnameserver 192.0.2.53\n" +
		"nameserver not-an-address\nnameserver 2001:db8::53\nsearch example.org corp.example\n"))
	if strings.Join(ns, " ") != "127.0.0.53 192.0.2.53 2001:db8::53" || strings.Join(search, " ") != "example.org corp.example" {
		t.Errorf("nameservers %q, search %q", ns, search)
	}
	ok, lo := usableResolvers(ns)
	if strings.Join(ok, " ") != "192.0.2.53 2001:db8::53" || strings.Join(lo, " ") != "127.0.0.53" {
		t.Errorf("usable %q, loopback %q", ok, lo)
	}
}

// withHostResolvers points the host's resolv.conf files at test copies.
func withHostResolvers(t *testing.T, resolv, upstream string) {
	dir := t.TempDir()
	old1, old2 := hostResolvConf, resolvedUpstream
	hostResolvConf, resolvedUpstream = filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "upstream.conf")
	t.Cleanup(func() { hostResolvConf, resolvedUpstream = old1, old2 })
	os.WriteFile(hostResolvConf, []byte(resolv), 0o644)
	if upstream != "" {
		os.WriteFile(resolvedUpstream, []byte(upstream), 0o644)
	}
}

func TestNameserverInherit(t *testing.T) {
	s := testStore(t)
	c := newTestContainer(t, s, "101", "")
	c.Conf.Set("NAMESERVER", "inherit")
	c.Conf.Set("SEARCHDOMAIN", "inherit")
	var warned []string
	warn := func(msg string, _ ...any) { warned = append(warned, msg) }

	withHostResolvers(t, "nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.org\n", "")
	ns, search, err := s.dnsOf(c, warn)
	if err != nil || strings.Join(ns, " ") != "192.0.2.53" || strings.Join(search, " ") != "example.org" {
		t.Errorf("inherit: %q %q %v", ns, search, err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "skipping the host's resolver 127.0.0.53: a loopback address") {
		t.Errorf("warnings: %q", warned)
	}

	// Only the systemd-resolved stub: its upstream servers are used.
	warned = nil
	withHostResolvers(t, "nameserver 127.0.0.53\n", "nameserver 198.51.100.53\n")
	if ns, _, err := s.dnsOf(c, warn); err != nil || strings.Join(ns, " ") != "198.51.100.53" {
		t.Errorf("inherit behind systemd-resolved: %q %v", ns, err)
	}
	if len(warned) != 2 || !strings.Contains(warned[1], "systemd-resolved") {
		t.Errorf("warnings: %q", warned)
	}

	// Nothing usable: refused, naming what was skipped.
	withHostResolvers(t, "nameserver 127.0.0.1\n", "")
	_, _, err = s.dnsOf(c, warn)
	if !errors.Is(err, ErrBadNameserver) || !strings.Contains(err.Error(), "only loopback ones: 127.0.0.1") {
		t.Errorf("inherit without a usable resolver: %v", err)
	}
	if err := checkNameservers([]string{"inherit", "192.0.2.53"}); !errors.Is(err, ErrBadNameserver) {
		t.Errorf("inherit with an address: %v", err)
	}
	if err := checkNameservers([]string{"300.1.2.3"}); !errors.Is(err, ErrBadNameserver) || !strings.Contains(err.Error(), `"300.1.2.3"`) {
		t.Errorf("bad nameserver: %v", err)
	}
}

// newTestContainer writes a minimal CTID.conf (privileged, so that no id
// range is needed) with IP_ADDRESS ips.
func newTestContainer(t *testing.T, s *Store, ctid, ips string) *Container {
	t.Helper()
	if err := os.MkdirAll(s.G.Get("CONFDIR"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("PRIVILEGED=\"yes\"\nINIT_KIND=\"minimal\"\nIP_ADDRESS=%q\n", ips)
	if err := os.WriteFile(s.ConfPath(ctid), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := s.Load(ctid)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeNet is a Network whose host holds fixed addresses.
type fakeNet struct{ host []HostAddr }

func (f *fakeNet) Attach(context.Context, string, string, []string) (*NetAttachment, error) {
	return nil, nil
}

func (f *fakeNet) SetIPs(context.Context, string, string, []string, []string) (*NetAttachment, error) {
	return nil, nil
}
func (f *fakeNet) Detach(context.Context, string) error { return nil }
func (f *fakeNet) HostAddrs(_ context.Context, ctids []string) ([]HostAddr, error) {
	return f.host, nil
}

func TestCheckIPsFree(t *testing.T) {
	s := testStore(t)
	s.Net = &fakeNet{host: []HostAddr{
		{Addr: netip.MustParseAddr("192.0.2.2"), Dev: "eth0"},
		{Addr: netip.MustParseAddr("10.9.0.7"), Dev: "veth101.0", Routed: true, CTID: "101"},
		{Addr: netip.MustParseAddr("10.9.0.8"), Dev: "veth103.0", Routed: true, CTID: "103"},
		{Addr: netip.MustParseAddr("10.9.0.9"), Dev: "vzab12.0", Routed: true}, // another vzkit's
	}}
	newTestContainer(t, s, "101", "10.9.0.1 10.9.0.2/24")
	newTestContainer(t, s, "102", "2001:db8::2")
	for _, tc := range []struct {
		ip, want string
	}{
		{"10.9.0.3", ""},
		{"10.9.0.9", ""}, // routed to no container of this store
		{"10.9.0.1", ""}, // its own
		{"10.9.0.7", ""}, // its own, live
		{"192.0.2.2", "192.0.2.2 is already used by the host on eth0"},
		{"2001:db8::2/64", "2001:db8::2 is already used by container 102"},
		{"10.9.0.8", "10.9.0.8 is already used by running container 103 (routed to its veth103.0)"},
	} {
		err := s.checkIPsFree(context.Background(), "101", []netip.Prefix{netip.MustParsePrefix(tc.ip + map[bool]string{true: "", false: "/32"}[strings.Contains(tc.ip, "/")])}, true)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want || !errors.Is(err, ErrIPInUse)) {
			t.Errorf("%s: %v, want %q", tc.ip, err, tc.want)
		}
	}
	// Another container's saved address, seen from 102.
	err := s.checkIPsFree(context.Background(), "102", []netip.Prefix{netip.MustParsePrefix("10.9.0.2/32")}, true)
	if err == nil || err.Error() != "10.9.0.2 is already used by container 101" {
		t.Errorf("10.9.0.2 from 102: %v", err)
	}
}

// TestConcurrentSetOneAddress: of containers given one address at the same
// moment, exactly one gets it.
func TestConcurrentSetOneAddress(t *testing.T) {
	s := testStore(t)
	const n = 8
	for i := range n {
		newTestContainer(t, s, fmt.Sprint(201+i), "")
	}
	for round := range 5 {
		ip := fmt.Sprintf("10.77.0.%d", round+1)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Set(context.Background(), fmt.Sprint(201+i), SetOptions{IPAdd: []string{ip}, Save: true})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrIPInUse):
				t.Fatalf("set --ipadd %s: %v", ip, err)
			}
		}
		holders := 0
		cts, _ := s.List()
		for _, c := range cts {
			if strings.Contains(" "+c.Get("IP_ADDRESS")+" ", " "+ip+" ") {
				holders++
			}
		}
		if won != 1 || holders != 1 {
			t.Errorf("%s: %d sets succeeded, %d CTID.conf list it; want 1 and 1", ip, won, holders)
		}
	}
}
