package saferoot

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hostile makes a root with a host canary outside it and returns both.
func hostile(t *testing.T) (root, canary string) {
	t.Helper()
	dir := t.TempDir()
	canary = filepath.Join(dir, "canary")
	if err := os.WriteFile(canary, []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root = filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root, canary
}

func checkCanary(t *testing.T, canary string) {
	t.Helper()
	b, err := os.ReadFile(canary)
	if err != nil || string(b) != "host secret\n" {
		t.Fatalf("host canary changed: %q, %v", b, err)
	}
	st, err := os.Lstat(canary)
	if err != nil || st.Mode() != 0o600 {
		t.Fatalf("host canary mode changed: %v, %v", st.Mode(), err)
	}
}

func open(t *testing.T, root string, opts ...Option) *Root {
	t.Helper()
	r, err := Open(root, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// within fails the test when f does not return in time: a FIFO or device
// node must never make a host-side read hang.
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s hangs", what)
		return nil
	}
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (mknod, mounts, other owners)")
	}
}

func TestSymlinksStayInside(t *testing.T) {
	root, canary := hostile(t)
	// An absolute symlink to the host file, a relative one climbing out,
	// and a directory symlink pointing at the host directory.
	os.Symlink(canary, filepath.Join(root, "etc/abs"))
	os.Symlink("../../../../../../"+canary, filepath.Join(root, "etc/climb"))
	os.Symlink(filepath.Dir(canary), filepath.Join(root, "hostdir"))
	r := open(t, root)

	for _, name := range []string{"etc/abs", "etc/climb"} {
		if _, err := r.ReadFile(name, 1<<20); !errors.Is(err, ErrNotRegular) {
			t.Errorf("ReadFile(%s) = %v, want ErrNotRegular (a symlink is never read through)", name, err)
		}
		if err := r.Truncate(name, 0); !errors.Is(err, ErrNotRegular) {
			t.Errorf("Truncate(%s) = %v, want ErrNotRegular", name, err)
		}
		if err := r.Chmod(name, 0o777); err == nil {
			t.Errorf("Chmod(%s) followed a symlink", name)
		}
		if err := r.WriteFile(name, []byte("replaced\n"), 0o644); err != nil {
			t.Errorf("WriteFile(%s): %v", name, err)
		}
		if b, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(b) != "replaced\n" {
			t.Errorf("%s after WriteFile: %q, %v (want the symlink replaced by a file)", name, b, err)
		}
	}
	// hostdir/canary resolves to root/<host dir>/canary, which does not exist.
	name := "hostdir/canary"
	if _, err := r.ReadFile(name, 1<<20); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(%s) = %v, want not found inside the root", name, err)
	}
	if err := r.WriteFile("../../../"+canary, []byte("x"), 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile through .. = %v, want a missing directory inside the root", err)
	}
	if err := r.RemoveAll("hostdir"); err != nil {
		t.Errorf("RemoveAll(hostdir): %v", err)
	}
	os.Symlink(canary, filepath.Join(root, "etc/excl"))
	if _, err := r.Create("etc/excl", 0o644); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over a symlink = %v, want it to exist", err)
	}
	checkCanary(t, canary)
}

func TestDevicesAndFIFOsNeverOpened(t *testing.T) {
	needRoot(t)
	root, canary := hostile(t)
	must(t, unix.Mkfifo(filepath.Join(root, "etc/fifo"), 0o644))
	must(t, unix.Mknod(filepath.Join(root, "etc/zero"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5))))
	r := open(t, root)
	for _, name := range []string{"etc/fifo", "etc/zero"} {
		err := within(t, "ReadFile "+name, func() error { _, err := r.ReadFile(name, 1<<20); return err })
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("ReadFile(%s) = %v, want ErrNotRegular", name, err)
		}
		err = within(t, "Truncate "+name, func() error { return r.Truncate(name, 0) })
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("Truncate(%s) = %v, want ErrNotRegular", name, err)
		}
		err = within(t, "WriteFile "+name, func() error { return r.WriteFile(name, []byte("x\n"), 0o644) })
		if err != nil {
			t.Errorf("WriteFile(%s): %v", name, err)
		}
		var st unix.Stat_t
		must(t, unix.Lstat(filepath.Join(root, name), &st))
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			t.Errorf("%s after WriteFile is a %s, want a regular file", name, FileKind(st.Mode))
		}
	}
	checkCanary(t, canary)
}

func TestReadLimit(t *testing.T) {
	root, _ := hostile(t)
	must(t, os.WriteFile(filepath.Join(root, "etc/big"), make([]byte, 4097), 0o644))
	r := open(t, root)
	if _, err := r.ReadFile("etc/big", 4096); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFile over the limit = %v, want ErrTooLarge", err)
	}
	if b, err := r.ReadFile("/etc/big", 4097); err != nil || len(b) != 4097 {
		t.Errorf("ReadFile at the limit = %d bytes, %v", len(b), err)
	}
}

func TestRemoveAllStaysOnItsFileSystem(t *testing.T) {
	needRoot(t)
	root, canary := hostile(t)
	tree := filepath.Join(root, "var/tmp/a/b")
	must(t, os.MkdirAll(tree, 0o755))
	must(t, os.WriteFile(filepath.Join(tree, "f"), []byte("x"), 0o444))
	must(t, os.Symlink(filepath.Dir(canary), filepath.Join(tree, "host")))
	must(t, os.Chmod(filepath.Join(root, "var/tmp/a"), 0o000)) // root can still remove it
	mnt := filepath.Join(root, "mnt")
	must(t, os.Mkdir(mnt, 0o755))
	must(t, unix.Mount("tmpfs", mnt, "tmpfs", 0, ""))
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	must(t, os.WriteFile(filepath.Join(mnt, "keep"), []byte("x"), 0o644))

	r := open(t, root)
	if err := r.RemoveAll("var"); err != nil {
		t.Fatalf("RemoveAll(var): %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "var")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("var still there: %v", err)
	}
	// The mount point is a dead end for lookups and for removal.
	if _, err := r.ReadFile("mnt/keep", 10); err == nil {
		t.Error("ReadFile crossed into another mount")
	}
	if err := r.RemoveAll("mnt"); err == nil {
		t.Error("RemoveAll removed a mount point")
	}
	if _, err := os.Stat(filepath.Join(mnt, "keep")); err != nil {
		t.Errorf("file on the other mount removed: %v", err)
	}
	if err := r.RemoveAll("not/there"); err != nil {
		t.Errorf("RemoveAll of a missing name: %v", err)
	}
	checkCanary(t, canary)
}

func TestIdentity(t *testing.T) {
	needRoot(t)
	root, _ := hostile(t)
	own := filepath.Join(root, "home")
	must(t, os.Mkdir(own, 0o755))
	must(t, os.Chown(own, 100000, 100000))
	must(t, os.WriteFile(filepath.Join(root, "etc/shadow"), []byte("secret"), 0o600))
	r := open(t, root, As(Identity{UID: 100000, GID: 100000}))

	if err := r.WriteFile("etc/hostname", []byte("x\n"), 0o644); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("write into a host-root directory as uid 100000 = %v, want permission denied", err)
	}
	if _, err := r.ReadFile("etc/shadow", 100); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("read of a 0600 host-root file as uid 100000 = %v, want permission denied", err)
	}
	if err := r.WriteFile("home/f", []byte("x\n"), 0o640); err != nil {
		t.Fatalf("write into its own directory: %v", err)
	}
	var st unix.Stat_t
	must(t, unix.Lstat(filepath.Join(own, "f"), &st))
	if st.Uid != 100000 || st.Gid != 100000 || st.Mode&0o7777 != 0o640 {
		t.Errorf("file written as the identity: uid %d gid %d mode %o, want 100000 100000 640", st.Uid, st.Gid, st.Mode&0o7777)
	}
	// The calling goroutine's own credentials are untouched.
	if uid, _ := unix.SetfsuidRetUid(-1); uid != 0 {
		t.Errorf("caller's fsuid changed to %d", uid)
	}
}

func TestMkdirAllRenameReadDir(t *testing.T) {
	root, _ := hostile(t)
	r := open(t, root)
	must(t, r.MkdirAll("/tmp/x/y", 0o1777))
	st, err := r.Lstat("tmp/x")
	if err != nil || st.Mode&0o7777 != 0o1777 {
		t.Fatalf("MkdirAll mode %o, %v", st.Mode&0o7777, err)
	}
	must(t, os.WriteFile(filepath.Join(root, "etc/a"), []byte("a"), 0o644))
	if err := r.MkdirAll("etc/a/b", 0o755); err == nil {
		t.Error("MkdirAll through a regular file succeeded")
	}
	must(t, r.Rename("etc/a", "tmp/x/a"))
	names, err := r.ReadDir("tmp/x")
	if err != nil || len(names) != 2 {
		t.Errorf("ReadDir = %v, %v", names, err)
	}
	if ok, err := r.Exists("tmp/x/a"); !ok || err != nil {
		t.Errorf("Exists after rename = %v, %v", ok, err)
	}
}

func TestReadRegularFile(t *testing.T) {
	root, canary := hostile(t)
	link := filepath.Join(root, "link")
	must(t, os.Symlink(canary, link))
	if _, err := ReadRegularFile(link, 100); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadRegularFile(symlink) = %v, want ErrNotRegular", err)
	}
	fifo := filepath.Join(root, "fifo")
	must(t, unix.Mkfifo(fifo, 0o644))
	err := within(t, "ReadRegularFile(fifo)", func() error { _, err := ReadRegularFile(fifo, 100); return err })
	if !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadRegularFile(fifo) = %v, want ErrNotRegular", err)
	}
	if _, err := ReadRegularFile(canary, 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadRegularFile over the limit = %v", err)
	}
	if b, err := ReadRegularFile(canary, 100); err != nil || string(b) != "host secret\n" {
		t.Errorf("ReadRegularFile = %q, %v", b, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TreeUsage counts what du -x counts (hard links once, no symlink
// followed, no other mount) and never leaves the tree or opens a FIFO.
func TestTreeUsageStaysInTheTree(t *testing.T) {
	needRoot(t)
	root, canary := hostile(t)
	// A large host file next to the tree: reaching it through a symlink
	// would show in the count.
	big := filepath.Join(filepath.Dir(canary), "big")
	must(t, os.WriteFile(big, make([]byte, 8<<20), 0o600))
	must(t, os.MkdirAll(filepath.Join(root, "var/lib/deep/er"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "var/lib/deep/er/data"), make([]byte, 300<<10), 0o644))
	must(t, os.Link(filepath.Join(root, "var/lib/deep/er/data"), filepath.Join(root, "etc/data-again")))
	must(t, os.Symlink(filepath.Dir(canary), filepath.Join(root, "etc/hostdir")))
	must(t, os.Symlink(big, filepath.Join(root, "etc/big")))
	must(t, unix.Mkfifo(filepath.Join(root, "etc/fifo"), 0o644))
	must(t, os.Chmod(filepath.Join(root, "var/lib/deep"), 0o000))
	mnt := filepath.Join(root, "mnt")
	must(t, os.Mkdir(mnt, 0o755))
	must(t, unix.Mount("tmpfs", mnt, "tmpfs", 0, ""))
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	must(t, os.WriteFile(filepath.Join(mnt, "other-fs"), make([]byte, 4<<20), 0o644))

	var u Usage
	err := within(t, "TreeUsage", func() (err error) { u, err = TreeUsage(root); return err })
	if err != nil {
		t.Fatal(err)
	}
	du := func(args ...string) uint64 {
		out, err := exec.Command("du", append(args, "-s", "-x", "-P", root)...).Output()
		if err != nil {
			t.Fatalf("du %v: %v", args, err)
		}
		n, err := strconv.ParseUint(strings.Fields(string(out))[0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if want := du("-k"); u.KBlocks != want {
		t.Errorf("TreeUsage = %d KB, du -k says %d", u.KBlocks, want)
	}
	if want := du("--inodes"); u.Inodes != want {
		t.Errorf("TreeUsage = %d inodes, du --inodes says %d", u.Inodes, want)
	}
	if u.KBlocks < 300 || u.KBlocks >= 4<<10 {
		t.Errorf("TreeUsage = %d KB: want the 300 KB file once, nothing of the host or the tmpfs", u.KBlocks)
	}
	if _, err := TreeUsage(filepath.Join(root, "etc/hostdir")); err == nil {
		t.Error("TreeUsage followed a symlink at the top")
	}
	checkCanary(t, canary)
}
