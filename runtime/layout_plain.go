package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/btrfs"
	"github.com/vzkit/vzkit/runtime/idmap"
	"github.com/vzkit/vzkit/runtime/resource"
)

// plainLayout keeps the root tree itself in the private area (OpenVZ's
// simfs) and bind-mounts it at VE_ROOT. On btrfs the area is a subvolume
// limited by a qgroup, made by snapshotting a read-only unpacked copy of
// the cache; elsewhere a directory, its files reflinked from such a copy
// where the filesystem can, else unpacked.
type plainLayout struct{ s *Store }

// reflinkOnBtrfs makes plain create reflink files on btrfs too, instead
// of snapshotting: tests use it to cover the reflink path, which
// otherwise needs a filesystem such as XFS.
var reflinkOnBtrfs = false

func (l plainLayout) populate(ctx context.Context, n *newArea) (string, func(), error) {
	s := l.s
	parent := filepath.Dir(n.path)
	bt, err := onBtrfs(parent)
	if err != nil {
		return "", nil, err
	}
	fast, err := s.fastPlainCreate()
	if err != nil {
		return "", nil, err
	}
	switch {
	case fast && bt && !reflinkOnBtrfs:
		seed, err := s.ensureSeed(ctx, n.ctid, n.cache, parent, true)
		if err != nil {
			return "", nil, err
		}
		if err := snapshotArea(seed, n.path); err != nil {
			return "", nil, err
		}
	case fast && (bt || reflinks(parent)):
		seed, err := s.ensureSeed(ctx, n.ctid, n.cache, parent, false)
		if err != nil {
			return "", nil, err
		}
		if _, err := makeDirArea(n.path); err != nil {
			return "", nil, err
		}
		if err := cloneTree(ctx, seed, n.path); err != nil {
			return "", nil, err
		}
	default:
		if _, err := makeDirArea(n.path); err != nil {
			return "", nil, err
		}
		os.Chmod(n.path, 0o755) // the root directory of the container, until the cache says
		if err := s.unpackCache(ctx, n.cache, n.path); err != nil {
			return "", nil, err
		}
	}
	if err := s.limitDirArea(n.ctid, n.path, n.disk); err != nil {
		return "", nil, err
	}
	return n.path, func() {}, nil
}

func (l plainLayout) mount(c *Container, m *idmap.Map) error {
	return idmap.Bind(c.Private, c.Root, m)
}

func (l plainLayout) setQuota(ctx context.Context, c *Container, d resource.Disk, mounted bool) error {
	return l.s.limitDirArea(c.ID, c.Private, d)
}

func (l plainLayout) usage(c *Container, d resource.Disk, mounted bool) (DiskUsage, error) {
	return dirAreaUsage(c.Private, d)
}

// fastPlainCreate is FAST_PLAIN_CREATE of vz.conf.
func (s *Store) fastPlainCreate() (bool, error) {
	switch v := s.G.Get(keyFastPlainCreate); v {
	case "", "yes":
		return true, nil
	case "no":
		return false, nil
	default:
		return false, fmt.Errorf("%w: %s=%q in %s: want yes or no", ErrBadParam, keyFastPlainCreate, v, s.G.File)
	}
}

const keyFastPlainCreate = "FAST_PLAIN_CREATE"

// seedDir is where the unpacked copies of caches live for private areas
// in parent: TEMPLATE/unpacked when TEMPLATE is on the same filesystem
// (a snapshot or reflink cannot leave one), else a directory beside the
// private areas. Either is in a 0700 directory no container reaches.
func (s *Store) seedDir(parent string) string {
	if tmpl := s.G.Get("TEMPLATE"); sameFS(tmpl, parent) {
		return filepath.Join(tmpl, "unpacked")
	}
	return filepath.Join(parent, ".vzkit-unpacked")
}

// ensureSeed returns the unpacked copy of cache for private areas in
// parent, making it once per cache content (its SHA-256): unpacked by
// the very unpack that makes a private area (unpackCache: the manifest
// checked, every path confined), then, on btrfs, a read-only subvolume, so
// that nothing written to a snapshot of it, or by mistake to it, changes
// what the next create copies.
func (s *Store) ensureSeed(ctx context.Context, ctid, cache, parent string, subvol bool) (string, error) {
	sum, err := cacheDigest(cache)
	if err != nil {
		return "", err
	}
	seed := filepath.Join(s.seedDir(parent), sum)
	if err := closeParent(seed); err != nil {
		return "", err
	}
	if ok, err := seedReady(seed, subvol); err != nil || ok {
		return seed, err
	}
	tmp := tmpAreaName(filepath.Dir(seed), ctid)
	made := false
	defer func() {
		if !made {
			removeArea(tmp)
		}
	}()
	if subvol {
		fd, err := openDir(filepath.Dir(seed))
		if err != nil {
			return "", err
		}
		err = btrfs.CreateSubvolume(fd, filepath.Base(tmp))
		unix.Close(fd)
		if err != nil {
			return "", err
		}
	} else if err := os.Mkdir(tmp, 0o700); err != nil {
		return "", err
	}
	os.Chmod(tmp, 0o755)
	s.log().Info("unpacking the cache once for fast plain creates", "cache", cache, "copy", seed)
	if err := s.unpackCache(ctx, cache, tmp); err != nil {
		return "", fmt.Errorf("unpacked copy of %s: %w", cache, err)
	}
	if subvol {
		fd, err := openDir(tmp)
		if err != nil {
			return "", err
		}
		err = btrfs.SetReadOnly(fd, true)
		unix.Close(fd)
		if err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, seed); err != nil {
		if ok, _ := seedReady(seed, subvol); ok {
			return seed, nil // another create made it first, from the same content
		}
		return "", fmt.Errorf("unpacked copy %s: %w", seed, err)
	}
	made = true
	return seed, nil
}

// seedReady reports whether seed is a usable unpacked copy: a read-only
// subvolume when subvol, else a directory. Anything else under its name
// is an error rather than something to copy.
func seedReady(seed string, subvol bool) (bool, error) {
	fd, err := openDir(seed)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	if !subvol {
		return true, nil
	}
	sub, err := btrfs.IsSubvolume(fd)
	if err == nil && sub {
		var ro bool
		if ro, err = btrfs.ReadOnly(fd); err == nil && ro {
			return true, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("unpacked copy %s: %w", seed, err)
	}
	return false, fmt.Errorf("unpacked copy %s is not a read-only btrfs subvolume: remove it (or set %s=no)", seed, keyFastPlainCreate)
}

// overlayLayout unpacks each cache once, read-only, into
// TEMPLATE/overlay/SHA256 and keeps only upper/ and work/ in the private
// area, joined with overlayfs at VE_ROOT. On btrfs the private area is a
// subvolume, so DISKSPACE limits the container's own changes (the shared
// lower is not counted).
type overlayLayout struct{ s *Store }

func (l overlayLayout) populate(ctx context.Context, n *newArea) (string, func(), error) {
	sum, err := l.s.ensureLower(ctx, n.ctid, n.cache)
	if err != nil {
		return "", nil, err
	}
	n.conf.Set(overlayLowerKey, sum)
	if _, err := makeDirArea(n.path); err != nil {
		return "", nil, err
	}
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(n.path, d), 0o755); err != nil {
			return "", nil, err
		}
	}
	if err := l.s.limitDirArea(n.ctid, n.path, n.disk); err != nil {
		return "", nil, err
	}
	return l.s.overlayLower(sum), func() {}, nil
}

func (l overlayLayout) mount(c *Container, m *idmap.Map) error {
	lower := l.s.overlayLower(c.Get(overlayLowerKey))
	if _, err := os.Stat(lower); err != nil {
		return fmt.Errorf("overlay lower: %w", err)
	}
	return idmap.Overlay("vzkit-"+c.ID, lower, c.Private, c.Root, m)
}

func (l overlayLayout) setQuota(ctx context.Context, c *Container, d resource.Disk, mounted bool) error {
	return l.s.limitDirArea(c.ID, c.Private, d)
}

func (l overlayLayout) usage(c *Container, d resource.Disk, mounted bool) (DiskUsage, error) {
	return dirAreaUsage(c.Private, d)
}

// ensureLower unpacks an overlay lower directory once per cache content.
func (s *Store) ensureLower(ctx context.Context, ctid, cache string) (string, error) {
	sum, err := cacheDigest(cache)
	if err != nil {
		return "", fmt.Errorf("container %s: %w", ctid, err)
	}
	lower := s.overlayLower(sum)
	if err := closeParent(lower); err != nil {
		return "", fmt.Errorf("container %s: %w", ctid, err)
	}
	if _, err := os.Stat(lower); err == nil {
		return sum, nil
	}
	tmp := tmpAreaName(filepath.Dir(lower), ctid)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", err
	}
	defer removeArea(tmp) // no-op after the rename
	os.Chmod(tmp, 0o755)
	if err := s.unpackCache(ctx, cache, tmp); err != nil {
		return "", fmt.Errorf("container %s: overlay lower: %w", ctid, err)
	}
	if err := os.Rename(tmp, lower); err != nil {
		if _, serr := os.Stat(lower); serr == nil {
			return sum, nil // another create won the race with the same content
		}
		return "", fmt.Errorf("container %s: overlay lower %s: %w", ctid, lower, err)
	}
	return sum, nil
}
