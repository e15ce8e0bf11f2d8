package extracttest

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/extract"
)

// Epoch is the mtime of every entry Tar writes, unless set otherwise.
var Epoch = time.Unix(1700000000, 0)

// Entry is one archive member: a header and, for a regular file, its
// content.
type Entry struct {
	tar.Header
	Body string
}

// Reg is a regular file holding body.
func Reg(name, body string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeReg}, Body: body}
}

// Dir is a directory with mode perm.
func Dir(name string, perm int64) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: perm}}
}

// Sym is a symlink to target.
func Sym(name, target string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}}
}

// Hard is a hardlink to the archive path target.
func Hard(name, target string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target}}
}

// Node is a device node or FIFO of tar type typ.
func Node(name string, typ byte, major, minor int64) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: typ, Devmajor: major, Devminor: minor}}
}

// WithMode returns e with permission bits mode (setuid and friends too).
func (e Entry) WithMode(mode int64) Entry { e.Mode = mode; return e }

// WithOwner returns e owned by uid:gid.
func (e Entry) WithOwner(uid, gid int) Entry { e.Uid, e.Gid = uid, gid; return e }

// WithXattr returns e with the extended attribute name set to value.
func (e Entry) WithXattr(name, value string) Entry {
	e.PAXRecords = maps.Clone(e.PAXRecords) // e is a copy; its map is shared
	if e.PAXRecords == nil {
		e.PAXRecords = map[string]string{}
	}
	e.PAXRecords["SCHILY.xattr."+name] = value
	return e
}

// Tar writes entries as a tar stream, in PAX format unless an entry says
// otherwise. A mode of 0 becomes 0644, a zero mtime Epoch.
func Tar(tb testing.TB, entries ...Entry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.Header
		if h.Format == tar.FormatUnknown {
			h.Format = tar.FormatPAX
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.ModTime.IsZero() {
			h.ModTime = Epoch
		}
		h.Size = 0
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			tb.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// secretData and secretMode are the canary's content and mode.
const (
	secretData = "untouched"
	secretMode = 0o640
)

// Sandbox is a destination with a sibling directory Outside holding one
// canary file, Secret; nothing an archive does may change Outside or put
// anything beside Dst.
type Sandbox struct {
	Base    string // the directory holding Dst and Outside
	Dst     string // the destination, not created
	Outside string
	Secret  string
	keep    []string // names in Base besides Dst and Outside
}

// NewSandbox makes a sandbox below a test temporary directory.
func NewSandbox(tb testing.TB) *Sandbox {
	tb.Helper()
	base := tb.TempDir()
	s := &Sandbox{Base: base, Dst: filepath.Join(base, "dst"), Outside: filepath.Join(base, "outside")}
	s.Secret = filepath.Join(s.Outside, "secret")
	if err := os.Mkdir(s.Outside, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(s.Secret, []byte(secretData), secretMode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(s.Secret, secretMode); err != nil { // whatever the umask
		tb.Fatal(err)
	}
	return s
}

// WriteFile puts a file of the test's own (an archive to unpack) beside
// Dst, where Check accepts it, and returns its path.
func (s *Sandbox) WriteFile(tb testing.TB, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(s.Base, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	s.keep = append(s.keep, name)
	return p
}

// Check fails the test when anything beside Dst changed: a new name in Base
// or Outside, Outside gone, or the canary's content, mode or link count.
func (s *Sandbox) Check(tb testing.TB) {
	tb.Helper()
	// Dst itself may be missing: a caller can fail before creating it.
	allowed := append([]string{filepath.Base(s.Dst), filepath.Base(s.Outside)}, s.keep...)
	got := names(tb, s.Base)
	if !slices.Contains(got, filepath.Base(s.Outside)) || slices.ContainsFunc(got, func(n string) bool { return !slices.Contains(allowed, n) }) {
		tb.Errorf("beside the destination: %v, want only %v", got, allowed)
	}
	if got := names(tb, s.Outside); !slices.Equal(got, []string{"secret"}) {
		tb.Errorf("outside holds %v", got)
	}
	data, err := os.ReadFile(s.Secret)
	var st unix.Stat_t
	if err == nil {
		err = unix.Lstat(s.Secret, &st)
	}
	if err != nil || string(data) != secretData || st.Nlink != 1 || st.Mode != unix.S_IFREG|secretMode {
		tb.Errorf("outside/secret changed: %q nlink %d mode %o err %v", data, st.Nlink, st.Mode, err)
	}
}

func names(tb testing.TB, dir string) []string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// SmallTree is a root any user can create: directories, files, a symlink,
// a hardlink pair.
func SmallTree(tb testing.TB) string {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "small")
	for _, d := range []string{"etc/apt", "usr/bin", "var/empty"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	files := map[string]string{"etc/hostname": "ct101\n", "etc/apt/sources.list": "# none\n", "usr/bin/true": "#!/bin/sh\n"}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(root, "usr/bin/true"), filepath.Join(root, "usr/bin/yes")); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		tb.Fatal(err)
	}
	return root
}

// CheckTree fails the test for more than limit bytes of regular files below
// dst (each inode counted once) or for a device node there outside
// extract's standard set.
func CheckTree(tb testing.TB, dst string, limit int64) {
	tb.Helper()
	var total int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		switch typ := st.Mode & unix.S_IFMT; typ {
		case unix.S_IFREG:
			if !seen[st.Ino] {
				seen[st.Ino] = true
				total += st.Size
			}
		case unix.S_IFCHR, unix.S_IFBLK:
			if !extract.StandardDevice(typ == unix.S_IFCHR, unix.Major(st.Rdev), unix.Minor(st.Rdev)) {
				tb.Errorf("%s: device %d:%d is not standard", p, unix.Major(st.Rdev), unix.Minor(st.Rdev))
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) { // Unpack may fail before making dst
		tb.Fatal(err)
	}
	if total > limit {
		tb.Errorf("unpacked %d bytes of files, limit %d", total, limit)
	}
}
