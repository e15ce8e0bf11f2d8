package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// A build killed outright leaves its root; the next build removes it (and
// unmounts its tmpfs), but never the root of a build still running.
func TestStaleBuildRootsRemoved(t *testing.T) {
	base := t.TempDir()
	// A PID no process has: above pid_max.
	var pidMax int
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		fmt.Sscan(string(b), &pidMax)
	}
	dead := filepath.Join(base, fmt.Sprintf("debian-12-minimal-%d-111", pidMax+1))
	alive := filepath.Join(base, fmt.Sprintf("debian-12-minimal-%d-222", os.Getpid()))
	for _, d := range []string{dead, alive} {
		if err := os.MkdirAll(filepath.Join(d, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		if err := unix.Mount("tmpfs", dead, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Unmount(dead, unix.MNT_DETACH) })
	}
	r, err := newBuildRoot(base, "debian-12-minimal", 1<<20, "never")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Remove()
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("stale build root of a dead builder kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(alive, "etc")); err != nil {
		t.Errorf("build root of a running builder removed: %v", err)
	}
	if fi, err := os.Stat(r.Path); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("new build root %s: %v %v (want mode 0755: it becomes the container's /)", r.Path, fi, err)
	}
}

func TestBuildRootOnTmpfsIsUnmountedOnRemove(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount tmpfs")
	}
	base := t.TempDir()
	r, err := newBuildRoot(base, "t", 1<<20, "always")
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(r.Path, &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		t.Fatalf("build root is not a tmpfs: type %x, %v", st.Type, err)
	}
	os.WriteFile(filepath.Join(r.Path, "f"), []byte("x"), 0o644)
	if err := r.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.Path); !os.IsNotExist(err) {
		t.Errorf("build root still there after Remove: %v", err)
	}
}
