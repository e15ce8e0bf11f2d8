package cache

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/testenv"
)

// sharedDir holds what the tests of one run share (the mmdebstrap root);
// TestMain removes it.
var sharedDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vzkit-cache-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(tb, "needs root: creates device nodes, sets owners and file capabilities")
	}
}

func needTool(tb testing.TB, names ...string) {
	tb.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			testenv.Missing(tb, "needs %s in PATH (Debian package providing it must be installed)", n)
		}
	}
}

func run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// hostMirror returns the first archive URI the host's apt sources use for
// suite, read at run time: deb822 .sources files first, then sources.list.
func hostMirror(suite string) (string, error) {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for stanza := range strings.SplitSeq(string(data), "\n\n") {
			fields := map[string]string{}
			for line := range strings.SplitSeq(stanza, "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, " ") {
					fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
				}
			}
			if slices.Contains(strings.Fields(fields["types"]), "deb") &&
				slices.Contains(strings.Fields(fields["suites"]), suite) && fields["uris"] != "" {
				return strings.Fields(fields["uris"])[0], nil
			}
		}
	}
	if f, err := os.Open("/etc/apt/sources.list"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			// deb [options] URI suite components...
			for len(fs) > 1 && strings.HasPrefix(fs[1], "[") {
				fs = append(fs[:1], fs[2:]...)
			}
			if len(fs) >= 3 && fs[0] == "deb" && fs[2] == suite {
				return fs[1], nil
			}
		}
	}
	return "", fmt.Errorf("no deb source for %s in the host's apt sources", suite)
}

type essential struct {
	root      string // extracted root filesystem
	mmTarZst  string // mmdebstrap's own tar.zst of it
	buildTime time.Duration
}

var (
	essentialOnce sync.Once
	essentialVal  essential
	essentialErr  error
)

// essentialRoot builds a Debian bookworm root with mmdebstrap once per test
// run (about 20 s) and shares it between tests and benchmarks.
func essentialRoot(tb testing.TB) essential {
	tb.Helper()
	needRoot(tb)
	needTool(tb, "mmdebstrap", "tar", "zstd")
	essentialOnce.Do(func() {
		mirror, err := hostMirror("bookworm")
		if err != nil {
			essentialErr = err
			return
		}
		dir := filepath.Join(sharedDir, "essential")
		out := dir + ".tar.zst"
		start := time.Now()
		cmd := exec.Command("mmdebstrap", "--quiet", "--variant=essential", "--mode=root",
			"bookworm", out, "deb "+mirror+" bookworm main")
		if msg, err := cmd.CombinedOutput(); err != nil {
			essentialErr = fmt.Errorf("mmdebstrap: %v\n%s", err, msg)
			return
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			essentialErr = err
			return
		}
		if msg, err := exec.Command("tar", "--zstd", "--xattrs", "--xattrs-include=*", "--numeric-owner",
			"-xpf", out, "-C", dir).CombinedOutput(); err != nil {
			essentialErr = fmt.Errorf("extract mmdebstrap tarball: %v\n%s", err, msg)
			return
		}
		essentialVal = essential{root: dir, mmTarZst: out, buildTime: time.Since(start)}
	})
	if essentialErr != nil {
		tb.Fatalf("building the bookworm essential root: %v", essentialErr)
	}
	return essentialVal
}

// syntheticTree makes a small root holding every kind of entry the cache
// must carry, with mtimes on both sides of epoch.
func syntheticTree(tb testing.TB, epoch time.Time) string {
	tb.Helper()
	needRoot(tb)
	needTool(tb, "setcap")
	root := filepath.Join(tb.TempDir(), "root")
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	// Modes are raw st_mode bits (os.FileMode keeps setuid elsewhere);
	// chmod after chown, which clears setuid and setgid.
	write := func(rel string, data string, mode uint32, owner ...int) {
		p := filepath.Join(root, rel)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte(data), 0o600))
		if owner != nil {
			must(os.Lchown(p, owner[0], owner[1]))
		}
		must(unix.Chmod(p, mode))
	}
	must(os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "etc/secret"), 0o750))
	must(os.Chmod(filepath.Join(root, "etc/secret"), 0o750))
	must(os.MkdirAll(filepath.Join(root, "tmp"), 0o755))
	must(unix.Chmod(filepath.Join(root, "tmp"), 0o1777))
	must(os.MkdirAll(filepath.Join(root, "dev"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "empty"), 0o700))

	write("usr/bin/su", "#!/bin/sh\necho setuid\n", 0o4755)
	write("usr/bin/wall", "#!/bin/sh\necho setgid\n", 0o2755, 0, 5)
	write("usr/bin/ping", "#!/bin/sh\necho ping\n", 0o755)
	run(tb, "setcap", "cap_net_raw+ep", filepath.Join(root, "usr/bin/ping"))
	write("etc/secret/key", "top secret\n", 0o600, 1000, 42)
	must(os.Lchown(filepath.Join(root, "etc/secret"), 0, 42))
	write("etc/hosts", "127.0.0.1 localhost\n", 0o644)
	must(unix.Setxattr(filepath.Join(root, "etc/hosts"), "user.vzkit.test", []byte("value\x00with NUL"), 0))
	must(unix.Setxattr(filepath.Join(root, "etc/secret"), "trusted.vzkit", []byte("dir-xattr"), 0))
	write("usr/bin/gzip", "gzip body\n", 0o755)
	must(os.Link(filepath.Join(root, "usr/bin/gzip"), filepath.Join(root, "usr/bin/gunzip")))
	must(os.Link(filepath.Join(root, "usr/bin/gzip"), filepath.Join(root, "usr/bin/zcat")))
	must(os.Symlink("gzip", filepath.Join(root, "usr/bin/uncompress")))
	must(os.Symlink("/usr/bin", filepath.Join(root, "bin")))
	must(os.Lchown(filepath.Join(root, "bin"), 7, 8))
	must(unix.Mkfifo(filepath.Join(root, "dev/initctl"), 0o600))
	must(unix.Mknod(filepath.Join(root, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(os.Chmod(filepath.Join(root, "dev/null"), 0o666))
	long := strings.Repeat("long-directory-name-", 6) + "/" + strings.Repeat("f", 120)
	write(long, "long name needs PAX\n", 0o644)
	write("home/big-uid", "owner beyond ustar\n", 0o640, 3000000, 3000001)
	write("empty-file", "", 0o644)
	// A 64 MiB sparse file with data at both ends.
	sp, err := os.Create(filepath.Join(root, "var/lib/sparse.img"))
	if os.IsNotExist(err) {
		must(os.MkdirAll(filepath.Join(root, "var/lib"), 0o755))
		sp, err = os.Create(filepath.Join(root, "var/lib/sparse.img"))
	}
	must(err)
	_, err = sp.WriteString("head")
	must(err)
	_, err = sp.WriteAt([]byte("tail"), 64<<20-4)
	must(err)
	must(sp.Close())
	// A larger file with varied content, written by the streaming path.
	var big strings.Builder
	for i := range 200000 {
		fmt.Fprintf(&big, "line %d of a file larger than one MiB\n", i)
	}
	write("usr/share/big.txt", big.String(), 0o644)
	// A socket is skipped by Pack.
	ln, err := net.Listen("unix", filepath.Join(root, "tmp/socket"))
	must(err)
	ln.Close()

	// mtimes: some before epoch, some after (to be clamped).
	old := epoch.Add(-48 * time.Hour)
	newer := epoch.Add(72 * time.Hour)
	must(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		t := old
		if strings.Contains(p, "usr") {
			t = newer
		}
		ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	}))
	return root
}

// node is what a user compares between two trees.
type node struct {
	Type   string
	Mode   uint32 // permissions incl. setuid/setgid/sticky
	UID    uint32
	GID    uint32
	Target string // symlink target
	SHA256 string
	Xattrs string
	Mtime  int64 // seconds; not for symlinks
	Rdev   uint64
	Link   string // for multiply linked files: first path of the inode
}

// snapshot describes every entry below root except sockets.
func snapshot(tb testing.TB, root string) map[string]node {
	tb.Helper()
	out := map[string]node{}
	firstOf := map[[2]uint64]string{}
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(paths)
	for _, p := range paths {
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			tb.Fatal(err)
		}
		n := node{Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Sec}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			n.Type = "dir"
		case unix.S_IFREG:
			n.Type = "file"
			f, err := os.Open(p)
			if err != nil {
				tb.Fatal(err)
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				tb.Fatal(err)
			}
			n.SHA256 = hex.EncodeToString(h.Sum(nil))
			if st.Nlink > 1 {
				id := [2]uint64{st.Dev, st.Ino}
				if _, ok := firstOf[id]; !ok {
					firstOf[id] = rel
				}
				n.Link = firstOf[id]
			}
		case unix.S_IFLNK:
			n.Type = "symlink"
			n.Target, _ = os.Readlink(p)
			n.Mode, n.Mtime = 0, 0
		case unix.S_IFCHR:
			n.Type, n.Rdev = "char", st.Rdev
		case unix.S_IFBLK:
			n.Type, n.Rdev = "block", st.Rdev
		case unix.S_IFIFO:
			n.Type = "fifo"
		case unix.S_IFSOCK:
			continue
		}
		x, err := readXattrs(p)
		if err != nil {
			tb.Fatal(err)
		}
		var kv []string
		for k, v := range x {
			kv = append(kv, fmt.Sprintf("%s=%q", k, v))
		}
		slices.Sort(kv)
		n.Xattrs = strings.Join(kv, " ")
		out[rel] = n
	}
	return out
}

// sameTree reports every difference between two snapshots.
func sameTree(tb testing.TB, want, got map[string]node, what string) {
	tb.Helper()
	bad := 0
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			tb.Errorf("%s: %s missing", what, p)
			bad++
		case w != g:
			tb.Errorf("%s: %s differs:\nwant %+v\n got %+v", what, p, w, g)
			bad++
		}
		if bad > 20 {
			tb.Fatalf("%s: too many differences", what)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			tb.Errorf("%s: unexpected %s", what, p)
		}
	}
}

// packFile packs root into dir/name.tar.zst with Pack and returns its path.
func packFile(tb testing.TB, root, path string, opts PackOptions) Archive {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	arch, err := Pack(context.Background(), root, f, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return arch
}
