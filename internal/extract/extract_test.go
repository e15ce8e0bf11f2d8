package extract_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/extract"
	et "github.com/vzkit/vzkit/internal/extract/extracttest"
)

func TestCleanName(t *testing.T) {
	for _, c := range []struct {
		name, dpkg, cache string // "" = refused
	}{
		{"usr/bin/true", "usr/bin/true", "usr/bin/true"},
		{"./usr//bin/./true/", "usr/bin/true", "usr/bin/true"},
		{"./", ".", "."},
		{".", ".", "."},
		{"/etc/passwd", "etc/passwd", ""},
		{"/", ".", ""},
		{"", "", ""},
		{"a/../b", "", ""},
		{"..", "", ""},
		{"a\x00b", "", ""},
		{strings.Repeat("a/", 2049), "", ""},
	} {
		for _, pol := range policies {
			want := c.dpkg
			if pol.name == "cache" {
				want = c.cache
			}
			got, err := pol.p.CleanName(c.name)
			if want == "" && !errors.Is(err, extract.ErrUnsafePath) || want != "" && (err != nil || got != want) {
				t.Errorf("%s: CleanName(%.20q) = %q, %v; want %q", pol.name, c.name, got, err, want)
			}
		}
	}
}

// TestDirectorySemanticsDpkg: dpkg keeps a directory symlink, accepts a
// directory twice (the last entry's mode wins) and refuses to change the
// kind of a path.
func TestDirectorySemanticsDpkg(t *testing.T) {
	root := t.TempDir()
	// Merged /usr: bin -> usr/bin exists before a package ships ./bin/.
	if err := os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		t.Fatal(err)
	}
	res, err := unpack(t, root, extract.DpkgUnpack, et.Tar(t,
		et.Dir("./", 0o711),
		et.Dir("./bin/", 0o755),
		et.Reg("./bin/sh", "#!").WithMode(0o755),
		et.Dir("./d/", 0o700),
		et.Dir("./d/", 0o750), // again: fine
	), extract.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Paths, " "); got != "/. /bin /bin/sh /d /d" {
		t.Errorf("paths = %q", got)
	}
	if l, err := os.Readlink(filepath.Join(root, "bin")); err != nil || l != "usr/bin" {
		t.Errorf("bin symlink replaced: %q %v", l, err)
	}
	if got := readFile(t, filepath.Join(root, "usr/bin/sh")); got != "#!" {
		t.Errorf("usr/bin/sh = %q", got)
	}
	if st, err := os.Stat(filepath.Join(root, "d")); err != nil || st.Mode().Perm() != 0o750 {
		t.Errorf("d: %v %v, want mode 0750", st.Mode(), err)
	}
	if st, err := os.Stat(root); err != nil || st.Mode().Perm() == 0o711 {
		t.Errorf("the root took the archive's mode: %v %v", st.Mode(), err)
	}
	// A file over a directory is an error (dpkg), and so is the reverse.
	if _, err := unpack(t, root, extract.DpkgUnpack, et.Tar(t, et.Reg("d", "x")), extract.Options{}); err == nil {
		t.Error("file over directory accepted")
	}
	if err := os.WriteFile(filepath.Join(root, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := unpack(t, root, extract.DpkgUnpack, et.Tar(t, et.Dir("f/", 0o755)), extract.Options{}); err == nil {
		t.Error("directory over file accepted")
	}
}

// TestCacheReplacesMismatched: a cache restore makes the archive's tree:
// a directory over a file or symlink, a file over an empty directory, and
// the root gets the "./" entry's mode.
func TestCacheReplacesMismatched(t *testing.T) {
	s, _, err := sandboxed(t, extract.CacheRestore,
		et.Dir("./", 0o751),
		et.Reg("f", "file first"), et.Dir("f/", 0o755), et.Reg("f/in", "x"),
		et.Dir("d/", 0o755), et.Reg("d", "file over empty dir"),
		et.Sym("bin", "usr/bin"), et.Dir("bin/", 0o755),
	)
	if err != nil {
		t.Fatal(err)
	}
	s.Check(t)
	for name, want := range map[string]uint32{".": unix.S_IFDIR | 0o751, "f": unix.S_IFDIR | 0o755, "d": unix.S_IFREG | 0o644, "bin": unix.S_IFDIR | 0o755} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(s.Dst, name), &st); err != nil || st.Mode != want {
			t.Errorf("%s: mode %o %v, want %o", name, st.Mode, err, want)
		}
	}
	// A directory with content is not removed for a file.
	_, err = unpack(t, s.Dst, extract.CacheRestore, et.Tar(t, et.Reg("f", "over a full dir")), extract.Options{})
	if !errors.Is(err, unix.ENOTEMPTY) {
		t.Errorf("file over a non-empty directory: %v, want ENOTEMPTY", err)
	}
}

func TestTopEntryMustBeDirectory(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		for _, e := range []et.Entry{et.Reg(".", ""), et.Sym(".", "/etc")} {
			s, _, err := sandboxed(t, p, e)
			if !errors.Is(err, extract.ErrUnsafePath) {
				t.Errorf("%q of type %c: %v, want ErrUnsafePath", e.Name, e.Typeflag, err)
			}
			s.Check(t)
		}
	})
}

func TestLimits(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		root := t.TempDir()
		big := et.Tar(t, et.Reg("big", strings.Repeat("x", 1000)))
		if _, err := unpack(t, root, p, big, extract.Options{MaxFileBytes: 999}); !errors.Is(err, extract.ErrLimit) {
			t.Errorf("file limit: %v", err)
		}
		two := et.Tar(t, et.Reg("a", "123"), et.Reg("b", "456"))
		if _, err := unpack(t, root, p, two, extract.Options{MaxTotalBytes: 5}); !errors.Is(err, extract.ErrLimit) {
			t.Errorf("total limit: %v", err)
		}
		if _, err := unpack(t, root, p, two, extract.Options{MaxEntries: 1}); !errors.Is(err, extract.ErrLimit) || !strings.Contains(err.Error(), "entry limit") {
			t.Errorf("entry limit: %v", err)
		}
		// Every byte of the stream counts: headers, padding, end marker.
		if _, err := unpack(t, root, p, two, extract.Options{MaxStreamBytes: int64(len(two)) - 1}); !errors.Is(err, extract.ErrLimit) || !strings.Contains(err.Error(), "exceeds the limit") {
			t.Errorf("stream limit: %v", err)
		}
		if _, err := unpack(t, root, p, two, extract.Options{MaxStreamBytes: int64(len(two))}); err != nil {
			t.Errorf("stream at the limit: %v", err)
		}
		// A PAX global header is not an entry.
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "x"}})
		tw.Close()
		global := append(buf.Bytes()[:buf.Len()-1024], two...)
		if res, err := unpack(t, root, p, global, extract.Options{MaxTotalBytes: 6, MaxEntries: 2}); err != nil || res.Bytes != 6 {
			t.Errorf("with a global header: %v %+v", err, res)
		}
		if res, err := unpack(t, root, p, two, extract.Options{MaxTotalBytes: 6, MaxEntries: 2}); err != nil || res.Bytes != 6 {
			t.Errorf("at the limits: %v %+v", err, res)
		}
	})
}

// TestPathsInArchiveOrder: files are written by parallel workers, the
// paths are still those of the archive in its order, and List agrees.
func TestPathsInArchiveOrder(t *testing.T) {
	var ents []et.Entry
	var want []string
	for d := range 5 {
		ents = append(ents, et.Dir(fmt.Sprintf("./d%d/", d), 0o755))
		want = append(want, fmt.Sprintf("/d%d", d))
		for f := range 100 {
			ents = append(ents, et.Reg(fmt.Sprintf("./d%d/f%03d", d, f), strings.Repeat("y", f)))
			want = append(want, fmt.Sprintf("/d%d/f%03d", d, f))
		}
	}
	data := et.Tar(t, ents...)
	root := t.TempDir()
	res, err := unpack(t, root, extract.DpkgUnpack, data, extract.Options{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Paths, want) {
		t.Errorf("Paths out of archive order:\n%v", res.Paths)
	}
	listed, err := extract.List(context.Background(), bytes.NewReader(data), extract.DpkgUnpack, extract.Options{})
	if err != nil || !slices.Equal(listed, want) {
		t.Errorf("List = %v, %v", listed, err)
	}
	if got := readFile(t, filepath.Join(root, "d4/f099")); got != strings.Repeat("y", 99) {
		t.Errorf("d4/f099 = %q", got)
	}
	// A cache restore does not keep a list nobody reads.
	if res, err := unpack(t, t.TempDir(), extract.CacheRestore, data, extract.Options{}); err != nil || res.Paths != nil {
		t.Errorf("cache restore: paths %d, %v", len(res.Paths), err)
	}
}

// TestLargeSparseFile: a file over the in-memory size is streamed and its
// zero blocks become holes.
func TestLargeSparseFile(t *testing.T) {
	body := "head" + strings.Repeat("\x00", 8<<20) + "tail"
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		s, res, err := sandboxed(t, p, et.Reg("disk.img", body))
		if err != nil {
			t.Fatal(err)
		}
		s.Check(t)
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(s.Dst, "disk.img"), &st); err != nil || st.Size != int64(len(body)) || st.Blocks*512 > 1<<20 {
			t.Errorf("disk.img: size %d, %d bytes allocated, %v; want %d bytes with holes", st.Size, st.Blocks*512, err, len(body))
		}
		if got := readFile(t, filepath.Join(s.Dst, "disk.img")); got != body || res.Bytes != int64(len(body)) {
			t.Errorf("content differs or Bytes = %d", res.Bytes)
		}
	})
}

func TestMetadata(t *testing.T) {
	needRoot(t)
	// cap_net_raw+ep, VFS_CAP_REVISION_2, as setcap writes it.
	capv := string([]byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	data := et.Tar(t,
		et.Reg("suid", "s").WithMode(0o4755),
		et.Reg("sgid", "g").WithMode(0o2755).WithOwner(1234, 5678),
		et.Dir("sticky", 0o1777),
		et.Reg("ping", "p").WithMode(0o755).WithXattr("security.capability", capv).WithXattr("user.note", "hello"),
		et.Hard("hard", "sgid"),
		et.Sym("sym", "/does/not/exist").WithOwner(42, 43),
		et.Node("null", tar.TypeChar, 1, 3).WithMode(0o666),
		et.Node("fifo", tar.TypeFifo, 0, 0).WithMode(0o620),
	)
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		root := t.TempDir()
		if _, err := unpack(t, root, p, data, extract.Options{}); err != nil {
			t.Fatal(err)
		}
		st := func(name string) unix.Stat_t {
			var s unix.Stat_t
			if err := unix.Lstat(filepath.Join(root, name), &s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		for _, c := range []struct {
			name     string
			mode     uint32
			uid, gid uint32
		}{
			{"suid", unix.S_IFREG | 0o4755, 0, 0},
			{"sgid", unix.S_IFREG | 0o2755, 1234, 5678},
			{"sticky", unix.S_IFDIR | 0o1777, 0, 0},
			{"ping", unix.S_IFREG | 0o755, 0, 0},
			{"null", unix.S_IFCHR | 0o666, 0, 0},
			{"fifo", unix.S_IFIFO | 0o620, 0, 0},
		} {
			s := st(c.name)
			if s.Mode != c.mode || s.Uid != c.uid || s.Gid != c.gid {
				t.Errorf("%s: mode %o %d:%d, want %o %d:%d", c.name, s.Mode, s.Uid, s.Gid, c.mode, c.uid, c.gid)
			}
			if s.Mtim.Sec != et.Epoch.Unix() {
				t.Errorf("%s: mtime %d", c.name, s.Mtim.Sec)
			}
		}
		if s := st("null"); unix.Major(s.Rdev) != 1 || unix.Minor(s.Rdev) != 3 {
			t.Errorf("null: dev %d:%d", unix.Major(s.Rdev), unix.Minor(s.Rdev))
		}
		if a, b := st("hard"), st("sgid"); a.Ino != b.Ino {
			t.Error("hard is not a hardlink of sgid")
		}
		if s := st("sym"); s.Uid != 42 || s.Gid != 43 || s.Mtim.Sec != et.Epoch.Unix() {
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
	})
}

// TestUnsupportedXattr: an xattr namespace no file system knows fails a
// dpkg unpack and costs a cache restore a warning.
func TestUnsupportedXattr(t *testing.T) {
	needRoot(t)
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		log := captureLog(t)
		s, _, err := sandboxed(t, p, et.Reg("f", "x").WithXattr("vzkitbogus.attr", "v"))
		s.Check(t)
		if p.SkipUnsupportedXattrs {
			if err != nil || !strings.Contains(log.String(), "vzkitbogus.attr") {
				t.Errorf("cache: %v, log %q; want a warning naming the xattr", err, log)
			}
			if got := readFile(t, filepath.Join(s.Dst, "f")); got != "x" {
				t.Errorf("f = %q", got)
			}
		} else if !errors.Is(err, unix.EOPNOTSUPP) {
			t.Errorf("dpkg: %v, want EOPNOTSUPP", err)
		}
	})
}
