package runtime

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The state record reads back as written; anything but vzkit's own
// regular file of this schema is refused with the file named, and a FIFO
// planted in its place does not block the reader.
func TestRunStateRecord(t *testing.T) {
	s := testStore(t)
	if err := os.MkdirAll(s.ctDir(), 0o711); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.RunState("101"); ok || err != nil {
		t.Fatalf("no record: ok %v, err %v; want none and no error", ok, err)
	}
	want := &RunState{
		CTID: "101", Started: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Init: InitSystemd, InitPID: 4242,
		SandboxID: "vzkit-101", CgroupPath: "vzkit/vzkit-101", Layout: LayoutOverlay,
		Private: "/vz/private/101", Root: "/vz/root/101",
		Mounts: []StateMount{{Source: "/run/vzkit/initfs/x", Destination: "/.vzkit", ReadOnly: true}},
		Network: &NetAttachment{Mode: "routed", HostIf: "veth101.0", ContainerIf: "eth0",
			Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32"), netip.MustParsePrefix("fd00::2/128")}},
	}
	if err := s.writeState(want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.RunState("101")
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("read back: %+v %v %v\nwant %+v", got, ok, err, want)
	}
	if err := s.updateState("101", func(rs *RunState) { rs.Network.Addrs = rs.Network.Addrs[:1] }); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.RunState("101"); len(got.Network.Addrs) != 1 {
		t.Errorf("after updateState: %v", got.Network.Addrs)
	}

	rec := s.stateRecord("101")
	good, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what, content string) {
		t.Helper()
		os.Remove(rec)
		if err := os.WriteFile(rec, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.RunState("101"); err == nil || !strings.Contains(err.Error(), rec) {
			t.Errorf("%s: read with error %v, want one naming %s", what, err, rec)
		}
	}
	refused("an unknown field", strings.Replace(string(good), `"ctid"`, `"shell": "rm -rf /", "ctid"`, 1))
	refused("another version", strings.Replace(string(good), `"version": 1`, `"version": 2`, 1))
	refused("an unknown init kind", strings.Replace(string(good), `"init": "systemd"`, `"init": "upstart"`, 1))
	refused("another container's record", strings.Replace(string(good), `"ctid": "101"`, `"ctid": "102"`, 1))
	refused("two values", string(good)+string(good))
	refused("a cut record", string(good[:len(good)/2]))

	os.Remove(rec)
	if err := unix.Mkfifo(rec, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, _, err := s.RunState("101"); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a FIFO read as a state record")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO planted as the state record blocked")
	}
	os.Remove(rec)
	elsewhere := filepath.Join(t.TempDir(), "state")
	if err := os.WriteFile(elsewhere, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, rec); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RunState("101"); err == nil {
		t.Error("a symlink followed to a state record elsewhere")
	}
	os.Remove(rec)
	if err := os.WriteFile(rec, good, 0o644); err != nil {
		t.Fatal(err)
	}
	s.forgetInit("101")
	if _, err := os.Lstat(rec); !os.IsNotExist(err) {
		t.Errorf("forgetInit left the state record: %v", err)
	}
}
