package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/btrfs"
	"github.com/vzkit/vzkit/internal/saferoot"
)

// Private areas as directories: a btrfs subvolume where the private
// areas' filesystem is btrfs (so that a qgroup can limit it), a plain
// directory elsewhere. Every function here opens the area by its one name
// in a parent that only root can write (closeParent), never following a
// symlink, and acts on descriptors: what the container keeps inside its
// area never decides what the host touches.

// tmpAreaName is an unused name for a private area being made in dir,
// with the debris prefix and the CTID whose lock guards it.
func tmpAreaName(dir, ctid string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return filepath.Join(dir, debrisPrefix+ctid+"-"+hex.EncodeToString(b))
}

// openDir opens the directory at path without following a final symlink.
func openDir(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// onBtrfs reports whether the directory at path is on btrfs.
func onBtrfs(path string) (bool, error) {
	fd, err := openDir(path)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	return btrfs.IsBtrfs(fd)
}

// isSubvolume reports whether the directory at path is a btrfs subvolume.
func isSubvolume(path string) (bool, error) {
	fd, err := openDir(path)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	return btrfs.IsSubvolume(fd)
}

// makeDirArea makes the directory of a private area at path: a subvolume
// when its parent is on btrfs, else a plain directory, mode 0700 until
// its content sets the mode it should have.
func makeDirArea(path string) (subvol bool, err error) {
	dfd, err := openDir(filepath.Dir(path))
	if err != nil {
		return false, err
	}
	defer unix.Close(dfd)
	if ok, err := btrfs.IsBtrfs(dfd); err != nil {
		return false, err
	} else if ok {
		if err := btrfs.CreateSubvolume(dfd, filepath.Base(path)); err != nil {
			return false, err
		}
		return true, os.Chmod(path, 0o700)
	}
	return false, os.Mkdir(path, 0o700)
}

// snapshotArea makes dst a writable snapshot of the subvolume src.
func snapshotArea(src, dst string) error {
	sfd, err := openDir(src)
	if err != nil {
		return err
	}
	defer unix.Close(sfd)
	dfd, err := openDir(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	return btrfs.Snapshot(sfd, dfd, filepath.Base(dst), false)
}

// removeArea deletes the private area (or debris of one) at path: a
// subvolume with everything nested in it, by ids, or a directory tree by
// saferoot's walk; a missing path is not an error.
func removeArea(path string) error {
	dfd, err := openDir(filepath.Dir(path))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	base := filepath.Base(path)
	fd, err := unix.Openat(dfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP):
		return unix.Unlinkat(dfd, base, 0) // a file where an area was
	case err != nil:
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	sub, err := btrfs.IsSubvolume(fd)
	unix.Close(fd)
	if err != nil {
		return &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	if sub {
		return btrfs.Delete(dfd, base)
	}
	return saferoot.RemoveTree(path)
}

// sameFS reports whether the directories a and b are on one filesystem
// (for btrfs, which gives each subvolume its own device number: one
// filesystem UUID), so that a snapshot or a reflink can go from one to
// the other.
func sameFS(a, b string) bool {
	fa, err := openDir(a)
	if err != nil {
		return false
	}
	defer unix.Close(fa)
	fb, err := openDir(b)
	if err != nil {
		return false
	}
	defer unix.Close(fb)
	ba, _ := btrfs.IsBtrfs(fa)
	bb, _ := btrfs.IsBtrfs(fb)
	if ba || bb {
		ua, err1 := btrfs.FSID(fa)
		ub, err2 := btrfs.FSID(fb)
		return ba && bb && err1 == nil && err2 == nil && ua == ub
	}
	var sa, sb unix.Stat_t
	return unix.Fstat(fa, &sa) == nil && unix.Fstat(fb, &sb) == nil && sa.Dev == sb.Dev
}

// reflinks reports whether the filesystem of dir clones file extents
// (FICLONE), tried on two files of its own.
func reflinks(dir string) bool {
	a, err := os.CreateTemp(dir, ".vzkit-reflink-")
	if err != nil {
		return false
	}
	defer os.Remove(a.Name())
	defer a.Close()
	b, err := os.CreateTemp(dir, ".vzkit-reflink-")
	if err != nil {
		return false
	}
	defer os.Remove(b.Name())
	defer b.Close()
	if _, err := a.Write(make([]byte, 4096)); err != nil {
		return false
	}
	return unix.IoctlFileClone(int(b.Fd()), int(a.Fd())) == nil
}

// cloneTree copies the tree src into the existing directory dst with
// cp -a --reflink=always: file data as shared extents (nothing is
// copied), owners, modes, times, hard links, device nodes, xattrs and
// file capabilities as they are. src is vzkit's own unpacked copy, never
// a container's tree.
func cloneTree(ctx context.Context, src, dst string) error {
	var stderr bytes.Buffer
	cp := exec.CommandContext(ctx, "cp", "-a", "--reflink=always", "--", src+"/.", dst)
	cp.Stderr = &stderr
	if err := cp.Run(); err != nil {
		return fmt.Errorf("clone %s into %s: cp: %w: %s", src, dst, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
