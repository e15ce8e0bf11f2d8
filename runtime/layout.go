package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/runtime/idmap"
	"github.com/vzkit/vzkit/runtime/resource"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

// Layout is how a private area holds a container's files: the VE_LAYOUT
// value CTID.conf keeps. What each one does is a layout (below).
type Layout string

// Storage layouts of a private area.
const (
	LayoutPlain   Layout = "plain"   // the private area is the root tree (OpenVZ's simfs)
	LayoutOverlay Layout = "overlay" // private area holds upper/ and work/ over a shared lower
	LayoutImage   Layout = "image"   // private area holds an ext4 image file (OpenVZ's ploop)
)

// overlayLowerKey is the CTID.conf key naming the shared lower directory of
// an overlay container (the SHA-256 of its cache).
const overlayLowerKey = "VE_OVERLAY_LOWER"

// ParseLayout reads a VE_LAYOUT or --layout value. OpenVZ's names are
// accepted for what they mean: simfs is the plain layout, ploop (an image
// file per container) the image layout.
func ParseLayout(v string) (Layout, error) {
	switch v {
	case "plain", "simfs":
		return LayoutPlain, nil
	case "overlay":
		return LayoutOverlay, nil
	case "image", "ploop":
		return LayoutImage, nil
	}
	return "", fmt.Errorf("%w: layout %q: want plain (simfs), overlay or image (ploop)", ErrBadParam, v)
}

// layout is what a storage layout does with a private area. Removing one
// needs no layout: removeArea tells a subvolume from a directory itself.
type layout interface {
	// populate makes the private area of a new container at n.path (a
	// name that does not exist yet, renamed into place by create) from
	// the cache, and sets in n.conf what it needs to find the files
	// again. It returns where the new root tree can be read (to tell its
	// init) and what releases that view.
	populate(ctx context.Context, n *newArea) (tree string, release func(), err error)
	// mount mounts the private area at VE_ROOT, nodev, idmapped by m
	// when m is not nil; VE_ROOT exists and is not mounted.
	mount(c *Container, m *idmap.Map) error
	// setQuota enforces d on c (see applyDiskQuota); mounted tells
	// whether VE_ROOT is mounted.
	setQuota(ctx context.Context, c *Container, d resource.Disk, mounted bool) error
	// usage measures c's disk use and the limits the layout enforces.
	usage(c *Container, d resource.Disk, mounted bool) (DiskUsage, error)
}

// newArea is a private area being made by create.
type newArea struct {
	ctid  string
	cache string // the template cache file
	path  string // where to make it (does not exist yet)
	conf  *vzconf.File
	disk  resource.Disk
}

// layoutOf is the layout that handles l.
func (s *Store) layoutOf(l Layout) layout {
	switch l {
	case LayoutOverlay:
		return overlayLayout{s}
	case LayoutImage:
		return imageLayout{s}
	}
	return plainLayout{s}
}

// IsMounted reports whether the container's root is mounted at VE_ROOT.
func (s *Store) IsMounted(c *Container) (bool, error) {
	ok, err := mountinfo.Mounted(c.Root)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("container %s: check mount %s: %w", c.ID, c.Root, err)
	}
	return ok, nil
}

// mount mounts the private area at VE_ROOT (a bind, an overlayfs or the
// image's ext4, as its layout does it), nodev, and idmapped for an
// unprivileged container. Mounting a mounted container is
// not an error.
func (s *Store) mount(c *Container) error {
	m, err := c.IDMap()
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(c.Private); err != nil || !fi.IsDir() {
		return fmt.Errorf("container %s: %s: %w", c.ID, c.Private, ErrPrivateMissing)
	}
	if ok, err := s.IsMounted(c); err != nil || ok {
		return err
	}
	for _, p := range []string{c.Root, c.Private} {
		if err := closeParent(p); err != nil {
			return fmt.Errorf("container %s: %w", c.ID, err)
		}
	}
	if err := os.MkdirAll(c.Root, 0o755); err != nil {
		return fmt.Errorf("container %s: %w", c.ID, err)
	}
	l, err := c.Layout()
	if err != nil {
		return err
	}
	if err := s.layoutOf(l).mount(c, m); err != nil {
		return fmt.Errorf("container %s: %w", c.ID, err)
	}
	// Private propagation: mounts made inside the root (by start) must not
	// leak to the host's mount table.
	if err := unix.Mount("", c.Root, "", unix.MS_PRIVATE, ""); err != nil {
		unix.Unmount(c.Root, unix.MNT_DETACH)
		return fmt.Errorf("container %s: make %s private: %w", c.ID, c.Root, err)
	}
	return nil
}

// closeParent makes the directory holding p (VE_ROOT's, VE_PRIVATE's, the
// overlay lowers') mode 0700: the trees below hold setuid binaries and,
// for privileged containers, files owned by host root, which no other host
// user may reach.
func closeParent(p string) error {
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	return nil
}

// umount unmounts VE_ROOT; not mounted is not an error.
func (s *Store) umount(c *Container) error {
	ok, err := s.IsMounted(c)
	if err != nil || !ok {
		return err
	}
	if err := unix.Unmount(c.Root, 0); err != nil {
		if !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("container %s: unmount %s: %w", c.ID, c.Root, err)
		}
		// A busy root (a shell of the admin in it) goes away lazily.
		s.log().Warn("root busy, detaching", "ctid", c.ID, "root", c.Root)
		if err := unix.Unmount(c.Root, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("container %s: unmount %s: %w", c.ID, c.Root, err)
		}
	}
	return nil
}

func (s *Store) overlayLower(sum string) string {
	return filepath.Join(s.G.Get("TEMPLATE"), "overlay", sum)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
