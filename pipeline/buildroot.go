package pipeline

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/saferoot"
)

// buildRoot is the directory a root is built in: TEMPLATE/build/NAME-PID-*,
// beside the template area and never inside the cache directory, so
// nothing in it can look like a cache.
//
// When memory allows, it is a tmpfs: dpkg's many small writes then never
// wait for the disk, and removing the finished root is an unmount instead
// of deleting thousands of files (seconds on a disk mounted with discard).
type buildRoot struct {
	Path  string
	tmpfs bool
}

// TmpfsMode says when a build root is a tmpfs: TmpfsAuto (when memory
// allows), TmpfsAlways or TmpfsNever. It is a flag value (pflag.Value).
type TmpfsMode string

const (
	TmpfsAuto   TmpfsMode = "auto"
	TmpfsAlways TmpfsMode = "always"
	TmpfsNever  TmpfsMode = "never"
)

func (m *TmpfsMode) String() string { return string(*m) }
func (m *TmpfsMode) Type() string   { return "auto|always|never" }
func (m *TmpfsMode) Set(v string) error {
	switch TmpfsMode(v) {
	case TmpfsAuto, TmpfsAlways, TmpfsNever:
		*m = TmpfsMode(v)
		return nil
	}
	return fmt.Errorf("want auto, always or never, got %q", v)
}

// newBuildRoot makes the build directory for template name; installed is
// the expected size of the root (the packages' Installed-Size).
func newBuildRoot(base, name string, installed int64, mode TmpfsMode) (*buildRoot, error) {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	removeStaleBuildRoots(base)
	dir, err := os.MkdirTemp(base, fmt.Sprintf("%s-%d-", name, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	// MkdirTemp makes it 0700, but it becomes the container's "/", which
	// every user must be able to traverse (base stays 0700).
	if err := os.Chmod(dir, 0o755); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("build: %w", err)
	}
	r := &buildRoot{Path: dir}
	// Room for the root, maintainer scripts' temporary files and dpkg's
	// backups; tmpfs takes memory only for what is written.
	size := 2*installed + 512<<20
	use := mode == TmpfsAlways || (mode == TmpfsAuto || mode == "") && memAvailable() > 2*size
	if use {
		err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NODEV, fmt.Sprintf("mode=0755,size=%d", size))
		switch {
		case err == nil:
			r.tmpfs = true
		case mode == TmpfsAlways:
			os.Remove(dir)
			return nil, fmt.Errorf("build: mount tmpfs on %s: %w", dir, err)
		}
	}
	return r, nil
}

// Remove unmounts (a tmpfs) and deletes the build directory.
func (r *buildRoot) Remove() error {
	if r.tmpfs {
		if err := unix.Unmount(r.Path, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount build root %s: %w", r.Path, err)
		}
		r.tmpfs = false
	}
	return saferoot.RemoveTree(r.Path)
}

// removeStaleBuildRoots cleans up after builds that were killed outright
// (SIGKILL, power loss): directories whose builder process is gone.
func removeStaleBuildRoots(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		parts := strings.Split(e.Name(), "-")
		if len(parts) < 3 {
			continue
		}
		pid, err := strconv.Atoi(parts[len(parts)-2])
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		unix.Unmount(dir, unix.MNT_DETACH) // fails harmlessly when not a mount
		saferoot.RemoveTree(dir)
	}
}

func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// memAvailable is MemAvailable from /proc/meminfo in bytes (0 if unknown).
func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
