package hostiletest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Canaries is a host directory of canary files.
type Canaries struct {
	Dir   string // the host directory; it holds the canaries and nothing else
	files map[string][]byte
}

const (
	canaryDirMode  = 0o750 // modes nothing under test would set
	canaryFileMode = 0o640
)

// NewCanaries makes a new host directory (mode 0750) holding one canary
// file per name (mode 0640, content naming it), removed when the test
// ends. It is under /var/tmp, not /tmp: a tree's /tmp is a favourite
// thing to plant, and a symlink there to a canary under /tmp could not
// have an in-tree twin (the in-tree path would lead through itself).
func NewCanaries(t testing.TB, names ...string) *Canaries {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "hostile-canaries-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &Canaries{Dir: dir, files: map[string][]byte{}}
	if err := os.Chmod(c.Dir, canaryDirMode); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		c.Set(t, n, []byte("host canary "+n+": must not change\n"))
	}
	return c
}

// Set makes name a canary holding data (mode 0640): content that code
// following a link to it would show by what it then read or did.
func (c *Canaries) Set(t testing.TB, name string, data []byte) {
	t.Helper()
	p := c.Path(name)
	if err := os.WriteFile(p, data, canaryFileMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, canaryFileMode); err != nil {
		t.Fatal(err)
	}
	c.files[name] = data
}

// Path is the host path of the canary name.
func (c *Canaries) Path(name string) string { return filepath.Join(c.Dir, name) }

// Check fails the test unless the directory and every canary in it are
// as NewCanaries made them: same type, mode and content, none removed,
// nothing added.
func (c *Canaries) Check(t testing.TB) {
	t.Helper()
	st, err := os.Lstat(c.Dir)
	if err != nil || !st.IsDir() || st.Mode().Perm() != canaryDirMode {
		t.Errorf("host canary directory %s changed: %v, %v", c.Dir, st.Mode(), err)
		return
	}
	ents, err := os.ReadDir(c.Dir)
	if err != nil {
		t.Errorf("host canary directory %s: %v", c.Dir, err)
		return
	}
	for _, e := range ents {
		if _, ok := c.files[e.Name()]; !ok {
			t.Errorf("host canary directory %s gained %s", c.Dir, e.Name())
		}
	}
	for n, want := range c.files {
		p := c.Path(n)
		st, err := os.Lstat(p)
		if err != nil {
			t.Errorf("host canary %s: %v", p, err)
			continue
		}
		if !st.Mode().IsRegular() || st.Mode().Perm() != canaryFileMode {
			t.Errorf("host canary %s changed mode: %v", p, st.Mode())
		}
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, want) {
			t.Errorf("host canary %s changed: %q, %v", p, got, err)
		}
	}
}

// LoopDevice is a host loop device over a temporary file of known bytes.
type LoopDevice struct {
	Path         string // /dev/loopN
	Major, Minor uint32
	backing      string
	data         []byte
}

// NewLoopDevice attaches a loop device (losetup -f --show) to a new
// 64 KiB file of known bytes and detaches it when the test ends. It skips
// the test when not root or without losetup.
func NewLoopDevice(t testing.TB) *LoopDevice {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a loop device needs root")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup not installed (apt-get install mount)")
	}
	l := &LoopDevice{backing: filepath.Join(t.TempDir(), "loop-canary.img")}
	l.data = bytes.Repeat([]byte("host loop device canary: must not change\n"), 64<<10/41+1)[:64<<10]
	if err := os.WriteFile(l.backing, l.data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", l.backing).Output()
	if err != nil {
		t.Fatalf("losetup -f --show %s: %v", l.backing, err)
	}
	l.Path = strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", l.Path).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v %s", l.Path, err, out)
		}
	})
	var st unix.Stat_t
	if err := unix.Stat(l.Path, &st); err != nil {
		t.Fatal(err)
	}
	l.Major, l.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	return l
}

// Check fails the test unless the device and its backing file still hold
// the bytes they started with. The device is read too: a write through it
// may not have reached the file yet.
func (l *LoopDevice) Check(t testing.TB) {
	t.Helper()
	for _, p := range []string{l.Path, l.backing} {
		f, err := os.Open(p)
		if err != nil {
			t.Errorf("loop device canary %s: %v", p, err)
			continue
		}
		got, err := io.ReadAll(io.LimitReader(f, int64(len(l.data))))
		f.Close()
		if err != nil || !bytes.Equal(got, l.data) {
			t.Errorf("loop device canary %s changed (%v)", p, err)
		}
	}
}

// Node is a block device node with the loop device's numbers.
func (l *LoopDevice) Node() Thing {
	return Thing{Kind: BlockDevice, Major: l.Major, Minor: l.Minor}
}

// Kind is the type of a planted Thing.
type Kind string

const (
	Symlink     Kind = "symlink"
	FIFO        Kind = "FIFO"
	CharDevice  Kind = "character device"
	BlockDevice Kind = "block device"
)

// Thing is something hostile to leave at a name inside a tree.
type Thing struct {
	Kind         Kind
	Target       string // of a Symlink
	Major, Minor uint32 // of a device
}

// Link is a symlink to target.
func Link(target string) Thing { return Thing{Kind: Symlink, Target: target} }

// Fifo is a named pipe: opening it for reading or writing waits for the
// other end.
func Fifo() Thing { return Thing{Kind: FIFO} }

// Zero is the character device 1:5 (/dev/zero): it reads without end.
func Zero() Thing { return Thing{Kind: CharDevice, Major: 1, Minor: 5} }

// Escaping is a relative symlink target that, put anywhere inside a tree
// and followed on the host, climbs out of it to hostPath ("/.." is "/").
func Escaping(hostPath string) string {
	return strings.Repeat("../", 64) + strings.TrimPrefix(hostPath, "/")
}

func (th Thing) String() string {
	switch th.Kind {
	case Symlink:
		return "symlink to " + th.Target
	case CharDevice, BlockDevice:
		return fmt.Sprintf("%s %d:%d", th.Kind, th.Major, th.Minor)
	}
	return string(th.Kind)
}

// Plant puts th at name inside root (from the host: the test's own tree),
// creating the parent directories and replacing what was there.
func (th Thing) Plant(t testing.TB, root, name string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	var err error
	switch th.Kind {
	case Symlink:
		err = os.Symlink(th.Target, p)
	case FIFO:
		err = unix.Mkfifo(p, 0o644)
	case CharDevice:
		err = unix.Mknod(p, unix.S_IFCHR|0o644, int(unix.Mkdev(th.Major, th.Minor)))
	case BlockDevice:
		err = unix.Mknod(p, unix.S_IFBLK|0o644, int(unix.Mkdev(th.Major, th.Minor)))
	default:
		err = fmt.Errorf("unknown kind %q", th.Kind)
	}
	if err != nil {
		t.Fatalf("plant %v at %s: %v", th, p, err)
	}
}

// Shell is a sh command that plants th at the absolute name, for a script
// running inside the tree (a maintainer script, a template script):
// parent directories are created, what was there is removed.
func (th Thing) Shell(name string) string {
	q := shellQuote(name)
	var mk string
	switch th.Kind {
	case Symlink:
		mk = "ln -s " + shellQuote(th.Target) + " " + q
	case FIFO:
		mk = "mkfifo " + q
	case CharDevice:
		mk = fmt.Sprintf("mknod %s c %d %d", q, th.Major, th.Minor)
	case BlockDevice:
		mk = fmt.Sprintf("mknod %s b %d %d", q, th.Major, th.Minor)
	}
	return fmt.Sprintf("mkdir -p %s && rm -rf %s && %s", shellQuote(filepath.Dir(name)), q, mk)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// At reports whether name inside root (not followed) is th.
func (th Thing) At(root, name string) bool {
	var st unix.Stat_t
	p := filepath.Join(root, name)
	if unix.Lstat(p, &st) != nil {
		return false
	}
	switch th.Kind {
	case Symlink:
		target, err := os.Readlink(p)
		return err == nil && target == th.Target
	case FIFO:
		return st.Mode&unix.S_IFMT == unix.S_IFIFO
	case CharDevice, BlockDevice:
		typ := uint32(unix.S_IFCHR)
		if th.Kind == BlockDevice {
			typ = unix.S_IFBLK
		}
		return st.Mode&unix.S_IFMT == typ && unix.Major(st.Rdev) == th.Major && unix.Minor(st.Rdev) == th.Minor
	}
	return false
}

// Within fails the test when f has not returned after d: a liveness bound
// (a FIFO or device must not hang the code under test), not a speed
// assertion. f runs on another goroutine, so it must not call t.FailNow
// or t.Fatal; the stacks of all goroutines are logged when it hangs.
func Within(t testing.TB, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("did not return within %v; goroutines:\n%s", d, buf)
	}
}
