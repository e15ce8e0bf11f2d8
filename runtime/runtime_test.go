package runtime

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"

	"github.com/klauspost/compress/zstd"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

func needRoot(t testing.TB) {
	t.Helper()
	testenv.NeedRoot(t, "unpacking a root tree sets owners and device nodes")
}

func testStore(t testing.TB) *Store {
	t.Helper()
	g, err := vzconf.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return NewStore(g)
}

type entry struct {
	hdr  tar.Header
	body string
}

func tarball(t testing.TB, entries []entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func compress(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := zstd.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// smallRoot is a tiny root tree with the entries the runtime looks at.
func smallRoot(t testing.TB) []byte {
	return tarball(t, []entry{
		{hdr: tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "./etc/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "./etc/os-release", Typeflag: tar.TypeReg}, body: "ID=test\n"},
		{hdr: tar.Header{Name: "./usr/bin/su", Typeflag: tar.TypeReg, Mode: 0o4755}, body: "#!/bin/sh\n"},
		{hdr: tar.Header{Name: "./etc/issue.net", Typeflag: tar.TypeLink, Linkname: "./etc/os-release"}},
		{hdr: tar.Header{Name: "./bin", Typeflag: tar.TypeSymlink, Linkname: "usr/bin"}},
		{hdr: tar.Header{Name: "./dev/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "./dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}},
		{hdr: tar.Header{Name: "./home/user/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 1000, Gid: 1000}},
	})
}

func TestValidCTIDAndName(t *testing.T) {
	for id, ok := range map[string]bool{"101": true, "1": true, "4294967295": true, "0": false,
		"0101": false, "-1": false, "4294967296": false, "": false, "10a": false} {
		if got := ValidCTID(id) == nil; got != ok {
			t.Errorf("ValidCTID(%q) ok=%v, want %v", id, got, ok)
		}
	}
	for n, ok := range map[string]bool{"web": true, "web-1.example_2": true, "123": false,
		"a/b": false, "": false, "a b": false} {
		if got := ValidName(n) == nil; got != ok {
			t.Errorf("ValidName(%q) ok=%v, want %v", n, got, ok)
		}
	}
}

func TestStatusString(t *testing.T) {
	cases := map[string]Status{
		"CTID 101 exist mounted running": {CTID: "101", Exist: true, Mounted: true, Running: true},
		"CTID 101 exist unmounted down":  {CTID: "101", Exist: true},
		"CTID 7 deleted unmounted down":  {CTID: "7"},
	}
	for want, st := range cases {
		if got := st.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestLock(t *testing.T) {
	s := testStore(t)
	l, err := s.LockCT("101")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LockCT("101"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: got %v, want ErrLocked", err)
	}
	other, err := s.LockCT("102")
	if err != nil {
		t.Fatalf("another container's lock: %v", err)
	}
	other.Unlock()
	l.Unlock()
	l2, err := s.LockCT("101")
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}

// writeCache installs data, a tar stream, as cache name with a manifest
// beside it, as vzpkg build leaves one.
func writeCache(t testing.TB, s *Store, name string, data []byte) string {
	t.Helper()
	os.MkdirAll(s.G.CacheDir(), 0o755)
	path := filepath.Join(s.G.CacheDir(), name+".tar.zst")
	z := compress(t, data)
	if err := os.WriteFile(path, z, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(z)
	m := &cache.Manifest{Name: name, Archive: cache.Archive{Compression: "zstd", Size: int64(len(z)), SHA256: hex.EncodeToString(sum[:])}}
	if err := cache.WriteManifest(cache.ManifestPath(path), m); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCreateDestroy(t *testing.T) {
	needRoot(t)
	s := testStore(t)
	ctx := context.Background()
	writeCache(t, s, "tiny", smallRoot(t))
	_, err := s.Create(ctx, CreateOptions{CTID: "101", OSTemplate: "missing"})
	if !errors.Is(err, ErrTemplateNotFound) {
		t.Fatalf("missing template: got %v", err)
	}
	c, err := s.Create(ctx, CreateOptions{CTID: "101", OSTemplate: "tiny", Hostname: "h.example", Name: "web", IPs: []string{"10.0.0.2"}})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"OSTEMPLATE": "tiny", "HOSTNAME": "h.example", "NAME": "web",
		"IP_ADDRESS": "10.0.0.2", "VE_LAYOUT": "plain", "ONBOOT": "no", "PHYSPAGES": "0:1G"} {
		if got := c.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(c.Private, "etc/os-release")); err != nil {
		t.Errorf("private area: %v", err)
	}
	// The private area is the root tree, as the cache had it.
	if fi, err := os.Stat(filepath.Join(c.Private, "usr/bin/su")); err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("su lost its setuid bit: %v", err)
	}
	a, _ := os.Stat(filepath.Join(c.Private, "etc/os-release"))
	b, _ := os.Stat(filepath.Join(c.Private, "etc/issue.net"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Error("hard link was not kept")
	}
	if fi, err := os.Lstat(filepath.Join(c.Private, "dev/null")); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("dev/null is not a char device: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(c.Private, "home/user")); err != nil || fi.Mode().Perm() != 0o700 || fileUID(fi) != 1000 {
		t.Errorf("home/user mode/owner not kept: %v", err)
	}
	if _, err := os.Lstat(creatingMarker(c.Private)); err == nil {
		t.Error("creating marker left beside a registered container")
	}
	if c.Get(KeyInitKind) != string(InitMinimal) {
		t.Errorf("INIT_KIND = %q, want minimal (the cache has no /sbin/init)", c.Get(KeyInitKind))
	}
	if m, err := c.IDMap(); err != nil || m == nil || m.UID < 100000 || m.Size != idRangeSize {
		t.Errorf("unprivileged by default: id map %v, %v", m, err)
	}
	if id, err := s.Resolve("web"); err != nil || id != "101" {
		t.Errorf("Resolve(web) = %q, %v", id, err)
	}
	if _, err := s.Create(ctx, CreateOptions{CTID: "101", OSTemplate: "tiny"}); !errors.Is(err, ErrPrivateExists) {
		t.Errorf("create twice: got %v, want ErrPrivateExists", err)
	}
	if _, err := s.Create(ctx, CreateOptions{CTID: "102", OSTemplate: "tiny", Name: "web"}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate name: got %v, want ErrExists", err)
	}
	if err := s.Destroy(ctx, "101"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Private); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("private area still there: %v", err)
	}
	if _, err := os.Stat(c.ConfPath + ".destroyed"); err != nil {
		t.Errorf("no CTID.conf.destroyed: %v", err)
	}
	if _, err := s.Load("101"); !errors.Is(err, ErrNotExist) {
		t.Errorf("destroyed container loads: %v", err)
	}
	assertNoDebris(t, filepath.Dir(c.Private))
}

func assertNoDebris(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), debrisPrefix) {
			t.Errorf("debris left: %s", filepath.Join(dir, e.Name()))
		}
	}
}

func TestCreateCancelledLeavesNothing(t *testing.T) {
	needRoot(t)
	s := testStore(t)
	writeCache(t, s, "tiny", smallRoot(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Create(ctx, CreateOptions{CTID: "101", OSTemplate: "tiny"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	private := s.G.Path("VE_PRIVATE", "101")
	if _, err := os.Lstat(private); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("private area exists after a cancelled create")
	}
	if _, err := os.Stat(s.ConfPath("101")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CTID.conf exists after a cancelled create")
	}
	assertNoDebris(t, filepath.Dir(private))
}

func TestDebrisOfKilledCreateIsRemoved(t *testing.T) {
	needRoot(t)
	s := testStore(t)
	writeCache(t, s, "tiny", smallRoot(t))
	private := s.G.Path("VE_PRIVATE", "101")
	parent := filepath.Dir(private)
	// What a create killed during unpacking leaves, for 101 and for 102,
	// and what one killed between the rename and CTID.conf leaves.
	os.MkdirAll(filepath.Join(parent, debrisPrefix+"101-123", "etc"), 0o755)
	os.MkdirAll(filepath.Join(parent, debrisPrefix+"102-456", "etc"), 0o755)
	os.MkdirAll(private, 0o755)
	os.WriteFile(creatingMarker(private), nil, 0o600)
	// 103 is being created right now: its debris must stay.
	busy, err := s.LockCT("103")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Unlock()
	os.MkdirAll(filepath.Join(parent, debrisPrefix+"103-789"), 0o755)

	if _, err := s.Create(context.Background(), CreateOptions{CTID: "101", OSTemplate: "tiny"}); err != nil {
		t.Fatalf("create over debris: %v", err)
	}
	ents, _ := os.ReadDir(parent)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != debrisPrefix+"103-789 101" && got != "101 "+debrisPrefix+"103-789" {
		t.Errorf("private parent holds %q; want only 101 and the busy 103 debris", got)
	}
}

func TestOverlayCreateSharesLower(t *testing.T) {
	needRoot(t)
	s := testStore(t)
	writeCache(t, s, "tiny", smallRoot(t))
	ctx := context.Background()
	a, err := s.Create(ctx, CreateOptions{CTID: "201", OSTemplate: "tiny", Layout: string(LayoutOverlay)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Create(ctx, CreateOptions{CTID: "202", OSTemplate: "tiny", Layout: string(LayoutOverlay)})
	if err != nil {
		t.Fatal(err)
	}
	if a.Get(overlayLowerKey) == "" || a.Get(overlayLowerKey) != b.Get(overlayLowerKey) {
		t.Fatalf("lower dirs differ: %q vs %q", a.Get(overlayLowerKey), b.Get(overlayLowerKey))
	}
	ents, _ := os.ReadDir(filepath.Join(s.G.Get("TEMPLATE"), "overlay"))
	if len(ents) != 1 {
		t.Errorf("want one unpacked lower, got %d", len(ents))
	}
	if err := s.Mount(ctx, "201"); err != nil {
		t.Fatal(err)
	}
	defer s.Umount(ctx, "201")
	os.WriteFile(filepath.Join(a.Root, "etc/os-release"), []byte("changed\n"), 0o644)
	if got, _ := os.ReadFile(filepath.Join(a.Private, "upper/etc/os-release")); string(got) != "changed\n" {
		t.Errorf("write did not go to the upper dir: %q", got)
	}
	lower := s.overlayLower(a.Get(overlayLowerKey))
	if got, _ := os.ReadFile(filepath.Join(lower, "etc/os-release")); string(got) != "ID=test\n" {
		t.Errorf("lower changed: %q", got)
	}
	if st, _ := s.StatusOf("201"); !st.Mounted || st.Running {
		t.Errorf("status after mount: %+v", st)
	}
	if err := s.Umount(ctx, "201"); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.StatusOf("201"); st.Mounted {
		t.Errorf("still mounted after umount")
	}
}

func TestWriteHostnameDoesNotFollowSymlinks(t *testing.T) {
	s := testStore(t)
	root := t.TempDir()
	outside := t.TempDir()
	os.Mkdir(filepath.Join(root, "etc"), 0o755)
	target := filepath.Join(outside, "victim")
	os.WriteFile(target, []byte("keep\n"), 0o644)
	os.Symlink(target, filepath.Join(root, "etc/hostname"))
	os.Symlink("../../../../"+target, filepath.Join(root, "etc/hosts"))
	c := &Container{ID: "101", Root: root, Conf: mustParse(t, `HOSTNAME="box.example.org"`+"\nPRIVILEGED=\"yes\"\n")}
	// Both are symlinks: replaced by files of the root's own, never
	// written through.
	if err := s.writeConfFiles(c); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep\n" {
		t.Fatalf("a write went through a symlink out of the root: %q", b)
	}
	os.Remove(filepath.Join(root, "etc/hosts"))
	os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("127.0.0.1 localhost\n127.0.1.1 old # vzkit: HOSTNAME\n"), 0o644)
	if err := s.writeConfFiles(c); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/hostname")); string(b) != "box.example.org\n" {
		t.Errorf("hostname = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/hosts")); string(b) != "127.0.0.1 localhost\n127.0.1.1\tbox.example.org box\t# vzkit: HOSTNAME\n" {
		t.Errorf("hosts = %q", b)
	}
}

func mustParse(t testing.TB, s string) *vzconf.File {
	f, err := vzconf.Parse(strings.NewReader(s), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDetectInit(t *testing.T) {
	root := t.TempDir()
	if k := detectInit(root); k != InitMinimal {
		t.Errorf("empty root: %s", k)
	}
	os.MkdirAll(filepath.Join(root, "usr/sbin"), 0o755)
	os.MkdirAll(filepath.Join(root, "lib/systemd"), 0o755)
	os.Symlink("usr/sbin", filepath.Join(root, "sbin"))
	os.WriteFile(filepath.Join(root, "lib/systemd/systemd"), []byte("x"), 0o755)
	// Absolute, as Debian ships it: resolved inside the root, not the host.
	os.Symlink("/lib/systemd/systemd", filepath.Join(root, "usr/sbin/init"))
	if k := detectInit(root); k != InitSystemd {
		t.Errorf("systemd root: %s", k)
	}
	os.Remove(filepath.Join(root, "usr/sbin/init"))
	os.WriteFile(filepath.Join(root, "usr/sbin/init"), []byte("x"), 0o755)
	if k := detectInit(root); k != InitSysV {
		t.Errorf("sysv root: %s", k)
	}
}

func TestSampleWrittenOnceAndKept(t *testing.T) {
	s := testStore(t)
	f, err := s.LoadSample("")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Get("CPUUNITS"); v != "1000" {
		t.Errorf("basic sample CPUUNITS = %q", v)
	}
	os.WriteFile(s.SamplePath("basic"), []byte("ONBOOT=\"yes\"\n"), 0o644)
	f, _ = s.LoadSample("basic")
	if v, _ := f.Get("ONBOOT"); v != "yes" {
		t.Error("an admin's edited sample was overwritten")
	}
	if _, err := s.LoadSample("nosuch"); err == nil {
		t.Error("missing sample accepted")
	}
}

func fileUID(fi os.FileInfo) uint32 { return fi.Sys().(*syscall.Stat_t).Uid }
