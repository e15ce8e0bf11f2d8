package runtime

import (
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
)

// Layout is how a private area holds a container's files.
type Layout string

// Storage layouts of a private area.
const (
	LayoutPlain   Layout = "plain"   // the private area is the root tree (OpenVZ's simfs)
	LayoutOverlay Layout = "overlay" // private area holds upper/ and work/ over a shared lower
)

// overlayLowerKey is the CTID.conf key naming the shared lower directory of
// an overlay container (the SHA-256 of its cache).
const overlayLowerKey = "VE_OVERLAY_LOWER"

// ParseLayout reads a VE_LAYOUT or --layout value. OpenVZ's names are
// accepted for what they mean: simfs is the plain layout. ploop (an image
// file per container) is OpenVZ's image layout, which this vzkit does not
// have yet: it is refused by name rather than silently made plain.
func ParseLayout(v string) (Layout, error) {
	switch v {
	case "plain", "simfs":
		return LayoutPlain, nil
	case "overlay":
		return LayoutOverlay, nil
	case "ploop", "image":
		return "", fmt.Errorf("%w: layout %q (an image file per container) is not available in this vzkit yet: use simfs (plain) or overlay", ErrBadParam, v)
	}
	return "", fmt.Errorf("%w: layout %q: want plain (simfs) or overlay", ErrBadParam, v)
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

// mount mounts the private area at VE_ROOT (bind or overlayfs), nodev, and
// idmapped for an unprivileged container. Mounting a mounted container is
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
	layout, err := c.Layout()
	if err != nil {
		return err
	}
	switch layout {
	case LayoutPlain:
		if err := idmap.Bind(c.Private, c.Root, m); err != nil {
			return fmt.Errorf("container %s: %w", c.ID, err)
		}
	case LayoutOverlay:
		lower := s.overlayLower(c.Get(overlayLowerKey))
		if _, err := os.Stat(lower); err != nil {
			return fmt.Errorf("container %s: overlay lower: %w", c.ID, err)
		}
		if err := idmap.Overlay("vzkit-"+c.ID, lower, c.Private, c.Root, m); err != nil {
			return fmt.Errorf("container %s: %w", c.ID, err)
		}
	default:
		return fmt.Errorf("container %s: layout %q", c.ID, layout)
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
