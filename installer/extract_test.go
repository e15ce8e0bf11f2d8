package installer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// entry is one tar entry for archives built by the tests.
type entry struct {
	name, link, body string
	typ              byte
	mode             int64
	uid, gid         int
	pax              map[string]string
	major, minor     int64
}

func mkTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode,
			Uid: e.uid, Gid: e.gid, PAXRecords: e.pax, Size: int64(len(e.body)),
			ModTime: time.Unix(1700000000, 0), Devmajor: e.major, Devminor: e.minor, Format: tar.FormatPAX}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func extract(t testing.TB, root string, data []byte, opts Options) (Result, error) {
	t.Helper()
	r, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if os.Geteuid() != 0 {
		opts.IgnoreOwner = true
	}
	return r.Extract(context.Background(), tar.NewReader(bytes.NewReader(data)), opts)
}

// sandboxDirs gives a root and, beside it, an "outside" directory that no
// entry may reach.
func sandboxDirs(t *testing.T) (root, outside string) {
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{root, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func mustNotExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (err=%v): extraction escaped the root", p, err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTraversalDotDotRejected(t *testing.T) {
	root, outside := sandboxDirs(t)
	for _, name := range []string{"../outside/x", "a/../../outside/x", "./../outside/x", "a/b/../../../outside/x"} {
		_, err := extract(t, root, mkTar(t, entry{name: name, typ: tar.TypeReg, body: "pwned"}), Options{})
		if !errors.Is(err, ErrUnsafePath) {
			t.Errorf("%q: err = %v, want ErrUnsafePath", name, err)
		}
	}
	mustNotExist(t, filepath.Join(outside, "x"))
}

func TestTraversalAbsoluteContained(t *testing.T) {
	root, outside := sandboxDirs(t)
	abs := filepath.Join(outside, "abs")
	data := mkTar(t, entry{name: abs, typ: tar.TypeReg, body: "contained"})
	if _, err := extract(t, root, data, Options{}); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, abs)
	if got := readFile(t, filepath.Join(root, abs)); got != "contained" {
		t.Errorf("contained copy = %q", got)
	}
}

func TestTraversalThroughSymlinks(t *testing.T) {
	root, outside := sandboxDirs(t)
	// Every way a symlink could point out: absolute to the outside dir,
	// relative climbing above the root, to the host's /, and a long chain.
	ents := []entry{
		{name: "abs", typ: tar.TypeSymlink, link: outside},
		{name: "abs/f1", typ: tar.TypeReg, body: "1"},
		{name: "rel", typ: tar.TypeSymlink, link: "../../../../../../../../" + outside},
		{name: "rel/f2", typ: tar.TypeReg, body: "2"},
		{name: "dir", typ: tar.TypeDir, mode: 0o755},
		{name: "dir/up", typ: tar.TypeSymlink, link: "../../outside"},
		{name: "dir/up/f3", typ: tar.TypeReg, body: "3"},
	}
	// chain0 -> chain1 -> ... -> chain29 -> outside
	const n = 30
	for i := 0; i < n; i++ {
		target := "chain" + strconv.Itoa(i+1)
		if i == n-1 {
			target = "../" + filepath.Base(outside)
		}
		ents = append(ents, entry{name: "chain" + strconv.Itoa(i), typ: tar.TypeSymlink, link: target})
	}
	ents = append(ents, entry{name: "chain0/f4", typ: tar.TypeReg, body: "4"})
	// The targets exist inside the root too, so every write resolves.
	if err := os.MkdirAll(filepath.Join(root, outside), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "outside"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := extract(t, root, mkTar(t, ents...), Options{})
	// A chain longer than the kernel's 40-link budget may be refused
	// (ELOOP); it must never resolve outside.
	if err != nil && !errors.Is(err, unix.ELOOP) {
		t.Fatalf("extract: %v", err)
	}
	for _, f := range []string{"f1", "f2", "f3", "f4"} {
		mustNotExist(t, filepath.Join(outside, f))
	}
	// Written through the symlinks, resolved as if root were "/".
	if got := readFile(t, filepath.Join(root, outside, "f1")); got != "1" {
		t.Errorf("f1 = %q", got)
	}
	if got := readFile(t, filepath.Join(root, outside, "f2")); got != "2" {
		t.Errorf("f2 = %q", got)
	}
	if got := readFile(t, filepath.Join(root, "outside", "f3")); got != "3" {
		t.Errorf("f3 = %q", got)
	}
	// Symlinks are stored as written.
	if l, _ := os.Readlink(filepath.Join(root, "rel")); !strings.HasPrefix(l, "../../") {
		t.Errorf("symlink target rewritten: %q", l)
	}
}

func TestDanglingSymlinkParentRefused(t *testing.T) {
	root, outside := sandboxDirs(t)
	data := mkTar(t,
		entry{name: "abs", typ: tar.TypeSymlink, link: outside},
		entry{name: "abs/f", typ: tar.TypeReg, body: "x"},
	)
	if _, err := extract(t, root, data, Options{}); err == nil {
		t.Log("write through a dangling symlink created its target inside the root")
		if got := readFile(t, filepath.Join(root, outside, "f")); got != "x" {
			t.Errorf("contained copy = %q", got)
		}
	}
	mustNotExist(t, filepath.Join(outside, "f"))
}

func TestFileReplacesSymlinkWithoutFollowing(t *testing.T) {
	root, outside := sandboxDirs(t)
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := mkTar(t,
		entry{name: "link", typ: tar.TypeSymlink, link: victim},
		entry{name: "link", typ: tar.TypeReg, body: "replaced"},
	)
	if _, err := extract(t, root, data, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, victim); got != "original" {
		t.Errorf("file outside the root was written through a symlink: %q", got)
	}
	if got := readFile(t, filepath.Join(root, "link")); got != "replaced" {
		t.Errorf("root/link = %q", got)
	}
}

func TestHardlinkOutsideRefused(t *testing.T) {
	root, outside := sandboxDirs(t)
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []string{"/etc/shadow", "../outside/secret", filepath.Join(outside, "secret")}
	for _, target := range cases {
		_, err := extract(t, root, mkTar(t, entry{name: "hl", typ: tar.TypeLink, link: target}), Options{})
		if err == nil {
			t.Errorf("hardlink to %q succeeded with no such file in the root", target)
		}
	}
	// Through a symlinked parent that points out: resolved inside.
	data := mkTar(t,
		entry{name: "etc", typ: tar.TypeDir, mode: 0o755},
		entry{name: "etc/shadow", typ: tar.TypeReg, body: "root's own"},
		entry{name: "up", typ: tar.TypeSymlink, link: "/etc"},
		entry{name: "hl", typ: tar.TypeLink, link: "up/shadow"},
	)
	if _, err := extract(t, root, data, Options{}); err != nil {
		t.Fatal(err)
	}
	var a, b unix.Stat_t
	if err := unix.Stat(filepath.Join(root, "hl"), &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(filepath.Join(root, "etc/shadow"), &b); err != nil {
		t.Fatal(err)
	}
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hl is not a hardlink of root/etc/shadow (ino %d vs %d, nlink %d)", a.Ino, b.Ino, a.Nlink)
	}
	var host unix.Stat_t
	if unix.Stat("/etc/shadow", &host) == nil && host.Ino == a.Ino && host.Dev == a.Dev {
		t.Error("hl links the host's /etc/shadow")
	}
}

func TestDirectorySemantics(t *testing.T) {
	root, _ := sandboxDirs(t)
	// Merged /usr: bin -> usr/bin exists before a package ships ./bin/.
	if err := os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		t.Fatal(err)
	}
	data := mkTar(t,
		entry{name: "./", typ: tar.TypeDir, mode: 0o755},
		entry{name: "./bin/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "./bin/sh", typ: tar.TypeReg, mode: 0o755, body: "#!"},
		entry{name: "./d/", typ: tar.TypeDir, mode: 0o700},
		entry{name: "./d/", typ: tar.TypeDir, mode: 0o750}, // again: fine
	)
	res, err := extract(t, root, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Paths, " "); got != "/ /bin /bin/sh /d /d" {
		t.Errorf("paths = %q", got)
	}
	if l, err := os.Readlink(filepath.Join(root, "bin")); err != nil || l != "usr/bin" {
		t.Errorf("bin symlink replaced: %q %v", l, err)
	}
	if got := readFile(t, filepath.Join(root, "usr/bin/sh")); got != "#!" {
		t.Errorf("usr/bin/sh = %q", got)
	}
	st, _ := os.Stat(filepath.Join(root, "d"))
	if st.Mode().Perm() != 0o750 {
		t.Errorf("d mode = %v", st.Mode())
	}
	// A file over a directory is an error (dpkg), and so is the reverse.
	if _, err := extract(t, root, mkTar(t, entry{name: "d", typ: tar.TypeReg, body: "x"}), Options{}); err == nil {
		t.Error("file over directory accepted")
	}
	if err := os.WriteFile(filepath.Join(root, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := extract(t, root, mkTar(t, entry{name: "f/", typ: tar.TypeDir, mode: 0o755}), Options{}); err == nil {
		t.Error("directory over file accepted")
	}
	// No temporary names left behind by the failures.
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".vzkit-tmp") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestLimits(t *testing.T) {
	root, _ := sandboxDirs(t)
	big := mkTar(t, entry{name: "big", typ: tar.TypeReg, body: strings.Repeat("x", 1000)})
	if _, err := extract(t, root, big, Options{MaxFileBytes: 999}); !errors.Is(err, ErrLimit) {
		t.Errorf("file limit: %v", err)
	}
	two := mkTar(t, entry{name: "a", typ: tar.TypeReg, body: "123"}, entry{name: "b", typ: tar.TypeReg, body: "456"})
	if _, err := extract(t, root, two, Options{MaxTotalBytes: 5}); !errors.Is(err, ErrLimit) {
		t.Errorf("total limit: %v", err)
	}
	if _, err := extract(t, root, two, Options{MaxEntries: 1}); !errors.Is(err, ErrLimit) {
		t.Errorf("entry limit: %v", err)
	}
	// A PAX global header is not an entry.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "x"}})
	tw.Close()
	global := append(buf.Bytes()[:len(buf.Bytes())-1024], two...)
	if res, err := extract(t, root, global, Options{MaxTotalBytes: 6, MaxEntries: 2}); err != nil || res.Bytes != 6 || len(res.Paths) != 2 {
		t.Errorf("with a global header: %v %+v", err, res)
	}
	if res, err := extract(t, root, two, Options{MaxTotalBytes: 6, MaxEntries: 2}); err != nil || res.Bytes != 6 {
		t.Errorf("at the limits: %v %+v", err, res)
	}
}

func TestMetadata(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: lchown, mknod and security.capability")
	}
	root, _ := sandboxDirs(t)
	// cap_net_raw+ep, VFS_CAP_REVISION_2, as setcap writes it.
	capv := string([]byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	data := mkTar(t,
		entry{name: "suid", typ: tar.TypeReg, mode: 0o4755, uid: 0, gid: 0, body: "s"},
		entry{name: "sgid", typ: tar.TypeReg, mode: 0o2755, uid: 1234, gid: 5678, body: "g"},
		entry{name: "sticky", typ: tar.TypeDir, mode: 0o1777},
		entry{name: "ping", typ: tar.TypeReg, mode: 0o755, body: "p", pax: map[string]string{
			"SCHILY.xattr.security.capability": capv, "SCHILY.xattr.user.note": "hello"}},
		entry{name: "hard", typ: tar.TypeLink, link: "sgid"},
		entry{name: "sym", typ: tar.TypeSymlink, link: "/does/not/exist", uid: 42, gid: 43},
		entry{name: "null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		entry{name: "loop", typ: tar.TypeBlock, mode: 0o660, gid: 6, major: 7, minor: 0},
		entry{name: "fifo", typ: tar.TypeFifo, mode: 0o620},
	)
	if _, err := extract(t, root, data, Options{}); err != nil {
		t.Fatal(err)
	}
	st := func(name string) unix.Stat_t {
		var s unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, name), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	checks := []struct {
		name     string
		mode     uint32
		uid, gid uint32
	}{
		{"suid", unix.S_IFREG | 0o4755, 0, 0},
		{"sgid", unix.S_IFREG | 0o2755, 1234, 5678},
		{"sticky", unix.S_IFDIR | 0o1777, 0, 0},
		{"ping", unix.S_IFREG | 0o755, 0, 0},
		{"null", unix.S_IFCHR | 0o666, 0, 0},
		{"loop", unix.S_IFBLK | 0o660, 0, 6},
		{"fifo", unix.S_IFIFO | 0o620, 0, 0},
	}
	for _, c := range checks {
		s := st(c.name)
		if s.Mode != c.mode || s.Uid != c.uid || s.Gid != c.gid {
			t.Errorf("%s: mode %o %d:%d, want %o %d:%d", c.name, s.Mode, s.Uid, s.Gid, c.mode, c.uid, c.gid)
		}
		if s.Mtim.Sec != 1700000000 {
			t.Errorf("%s: mtime %d", c.name, s.Mtim.Sec)
		}
	}
	if s := st("null"); unix.Major(s.Rdev) != 1 || unix.Minor(s.Rdev) != 3 {
		t.Errorf("null: dev %d:%d", unix.Major(s.Rdev), unix.Minor(s.Rdev))
	}
	if a, b := st("hard"), st("sgid"); a.Ino != b.Ino {
		t.Error("hard is not a hardlink of sgid")
	}
	if s := st("sym"); s.Uid != 42 || s.Gid != 43 || s.Mtim.Sec != 1700000000 {
		t.Errorf("sym: owner %d:%d mtime %d", s.Uid, s.Gid, s.Mtim.Sec)
	}
	if l, _ := os.Readlink(filepath.Join(root, "sym")); l != "/does/not/exist" {
		t.Errorf("sym -> %q", l)
	}
	buf := make([]byte, 64)
	n, err := unix.Getxattr(filepath.Join(root, "ping"), "security.capability", buf)
	if err != nil || string(buf[:n]) != capv {
		t.Errorf("security.capability = %x, %v", buf[:max(n, 0)], err)
	}
	n, err = unix.Getxattr(filepath.Join(root, "ping"), "user.note", buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Errorf("user.note = %q, %v", buf[:max(n, 0)], err)
	}
}
