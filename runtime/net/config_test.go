package vznet

import (
	"net/netip"
	"strings"
	"testing"
)

func TestHostIfName(t *testing.T) {
	for _, tc := range []struct{ ctid, want string }{
		{"101", "veth101.0"},
		{"123456789", "veth123456789.0"}, // exactly 15 characters
		{"ct-a_1", "vethct-a_1.0"},
	} {
		if got := HostIfName(tc.ctid); got != tc.want {
			t.Errorf("HostIfName(%q) = %q, want %q", tc.ctid, got, tc.want)
		}
	}
	// Too long or unsafe IDs are hashed; distinct IDs give distinct names.
	long := HostIfName("1234567890")
	uuid := HostIfName("7f9c2d1e-4b1a-4c55-9d0e-2a6b8e4f1c3d")
	slash := HostIfName("a/b")
	for _, n := range []string{long, uuid, slash} {
		if !strings.HasPrefix(n, "vz") || len(n) != 15 || validIfName(n) != nil {
			t.Errorf("hashed name %q: want vz + 11 hex + .0, a valid interface name", n)
		}
	}
	if long == uuid || uuid == slash || long == slash {
		t.Errorf("hashed names collide: %q %q %q", long, uuid, slash)
	}
	if HostIfName("1234567890") != long {
		t.Error("HostIfName is not deterministic")
	}
}

func TestParseIPAddress(t *testing.T) {
	got, err := ParseIPAddress(" 192.0.2.5  198.51.100.7/24 fd00::1 fd00:1::2/64 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"192.0.2.5/32", "198.51.100.7/24", "fd00::1/128", "fd00:1::2/64"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("address %d: got %v, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"192.0.2.300", "192.0.2.1/33", "fe80::1%eth0", "host.example"} {
		if _, err := ParseIPAddress(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseIPAddress(%q): want an error naming the value, got %v", bad, err)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{}.withDefaults("101")
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != Bridged || c.Bridge != DefaultBridge || c.IfName != DefaultIfName || c.HostIfName != "veth101.0" {
		t.Errorf("defaults: got %+v", c)
	}
	bad := []Config{
		{Mode: "venet"},
		{Bridge: "this-name-is-too-long"},
		{IfName: "eth/0"},
		{MTU: -1},
		{IPs: []netip.Prefix{{}}},
	}
	for _, b := range bad {
		if _, err := b.withDefaults("101"); err == nil {
			t.Errorf("config %+v: want an error", b)
		}
	}
}

func FuzzHostIfName(f *testing.F) {
	for _, s := range []string{"101", "", "1234567890", "7f9c2d1e-4b1a-4c55-9d0e-2a6b8e4f1c3d", "../x", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ctid string) {
		n := HostIfName(ctid)
		if err := validIfName(n); err != nil {
			t.Fatalf("HostIfName(%q) = %q: %v", ctid, n, err)
		}
	})
}

func FuzzParseIPAddress(f *testing.F) {
	for _, s := range []string{"192.0.2.5 198.51.100.7/24", "fd00::1/64", "10.0.0.1/8 fd00::2", "", "::ffff:192.0.2.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseIPAddress(s)
		if err != nil {
			return
		}
		for _, p := range ps {
			if !p.IsValid() {
				t.Fatalf("ParseIPAddress(%q) returned invalid prefix %v", s, p)
			}
			// A parsed list must survive a round trip through its text form.
			again, err := ParseIP(p.String())
			if err != nil || again != p {
				t.Fatalf("round trip of %v: got %v, %v", p, again, err)
			}
		}
	})
}
