package runtime

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/btrfs"
	"github.com/vzkit/vzkit/internal/saferoot"
	"github.com/vzkit/vzkit/runtime/resource"
)

// Disk quota: DISKSPACE and DISKINODES (first level: the container as a
// whole) and QUOTAUGIDLIMIT (second level: its users and groups). Each
// layout enforces what its storage can:
//   - plain and overlay on btrfs: the private area is a subvolume whose
//     qgroup limits referenced bytes to DISKSPACE's hard limit (for
//     overlay: the container's changes, not the shared lower). btrfs
//     counts bytes, not inodes: DISKINODES is not enforced there.
//   - plain and overlay elsewhere: nothing is enforced, and start says
//     once why (the filesystem, and what this kernel lacks).
//   - image: the ext4 in the image file is DISKSPACE's hard limit in
//     size (and DISKINODES' inodes, made at mkfs); QUOTAUGIDLIMIT mounts
//     it with usrquota,grpquota where the kernel has the quota formats.
// Soft limits (the barriers) are shown, never enforced: neither qgroups
// nor a filesystem's size have a grace period.

// applyDiskQuota enforces d on container c through its layout: at start
// (before its init runs) and at set, live when the container is mounted
// where the layout can (a btrfs qgroup limit changes at once; an image
// grows online only with CAP_SYS_RESOURCE, else at its next start, and
// shrinks at its next start). Limits the layout cannot enforce are said
// once in the log; a second-level quota (UGIDLimit > 0) it cannot give is
// an error wrapping ErrQuotaUnsupported, returned after the first level
// has been applied.
func (s *Store) applyDiskQuota(ctx context.Context, c *Container, d resource.Disk) error {
	l, err := c.Layout()
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(c.Private); err != nil || !fi.IsDir() {
		return fmt.Errorf("container %s: %s: %w", c.ID, c.Private, ErrPrivateMissing)
	}
	mounted, err := s.IsMounted(c)
	if err != nil {
		return err
	}
	if err := s.layoutOf(l).setQuota(ctx, c, d, mounted); err != nil {
		return fmt.Errorf("container %s: %w", c.ID, err)
	}
	return nil
}

// DiskUsage is a container's disk use against the limits its layout
// enforces: vzlist's diskspace and diskinodes fields.
type DiskUsage struct {
	Space  QuotaUsage `json:"diskspace"`  // 1K blocks
	Inodes QuotaUsage `json:"diskinodes"` // inodes
}

// QuotaUsage is one quota: what is used, and the soft and hard limits
// (resource.Unlimited where nothing is enforced; the soft limit is
// DISKSPACE's or DISKINODES' barrier, shown but not enforced).
type QuotaUsage struct {
	Used uint64         `json:"usage"`
	Soft resource.Value `json:"softlimit"`
	Hard resource.Value `json:"hardlimit"`
}

func unlimitedUsage(used uint64) QuotaUsage {
	return QuotaUsage{Used: used, Soft: resource.Unlimited, Hard: resource.Unlimited}
}

// limited is u with hard limit hard and, from the configured pair p, a
// soft limit no higher than it.
func limited(used uint64, hard resource.Value, p resource.Pair) QuotaUsage {
	return QuotaUsage{Used: used, Hard: hard, Soft: min(p.Barrier, hard)}
}

// DiskUsage measures container c's disk use (the private area's, by a
// walk that never leaves it, or what the layout accounts: a qgroup, the
// image's filesystem) and the limits its layout enforces.
func (s *Store) DiskUsage(c *Container) (DiskUsage, error) {
	l, err := c.Layout()
	if err != nil {
		return DiskUsage{}, err
	}
	rc, err := s.Resources(c)
	if err != nil {
		return DiskUsage{}, err
	}
	d := rc.Disk
	mounted, err := s.IsMounted(c)
	if err != nil {
		return DiskUsage{}, err
	}
	u, err := s.layoutOf(l).usage(c, d, mounted)
	if err != nil {
		return u, fmt.Errorf("container %s: disk usage: %w", c.ID, err)
	}
	return u, nil
}

// limitDirArea sets the qgroup limit of a private area that is a btrfs
// subvolume (plain, overlay) to d's DISKSPACE hard limit, turning btrfs
// quota on when it is off; anywhere else it says once that the limit is
// not enforced, and why.
func (s *Store) limitDirArea(ctid, path string, d resource.Disk) error {
	fd, err := openDir(path)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	sub, err := btrfs.IsSubvolume(fd)
	if err != nil {
		return &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	var ugid error
	if d.UGIDLimit > 0 {
		ugid = fmt.Errorf("%w: QUOTAUGIDLIMIT=%d: user and group quotas inside a container need the image layout (an ext4 of its own)%s",
			ErrQuotaUnsupported, d.UGIDLimit, qfmtNote())
	}
	if !sub {
		var keys []string
		if !d.Space.Limit.IsUnlimited() {
			keys = append(keys, "DISKSPACE")
		}
		if !d.Inodes.Limit.IsUnlimited() {
			keys = append(keys, "DISKINODES")
		}
		if len(keys) > 0 {
			// The parent, not path: create works under a temporary name.
			s.warnOnce(ctid+" notenforced", strings.Join(keys, " and ")+" not enforced for this container",
				"ctid", ctid, "private areas", filepath.Dir(path), "why", dirQuotaMissing(fd))
		}
		return ugid
	}
	if !d.Inodes.Limit.IsUnlimited() {
		s.warnOnce(ctid+" inodes", "DISKINODES is not enforced on btrfs: its quota groups count bytes, not inodes", "ctid", ctid)
	}
	var max uint64
	if !d.Space.Limit.IsUnlimited() {
		max = uint64(d.SpaceBytes())
	}
	err = btrfs.SetLimit(fd, max)
	if errors.Is(err, btrfs.ErrQuotaDisabled) {
		if max == 0 {
			return ugid // no quota, no limit to remove
		}
		s.log().Warn("turning btrfs quota (qgroups) on for DISKSPACE: from now on btrfs accounts every write on this filesystem to its subvolume",
			"ctid", ctid, "private", path)
		if err := btrfs.EnableQuota(fd); err != nil {
			return fmt.Errorf("DISKSPACE: %s: %w", path, err)
		}
		err = btrfs.SetLimit(fd, max)
	}
	if err != nil {
		return fmt.Errorf("DISKSPACE: %s: %w", path, err)
	}
	return ugid
}

// dirAreaUsage is the usage of a private area that is a directory tree:
// inodes by a walk (saferoot.TreeUsage), space by the same walk or, for a
// subvolume with quota on, from its qgroup, with the qgroup's limit.
func dirAreaUsage(path string, d resource.Disk) (DiskUsage, error) {
	tu, err := saferoot.TreeUsage(path)
	if err != nil {
		return DiskUsage{}, err
	}
	u := DiskUsage{Space: unlimitedUsage(tu.KBlocks), Inodes: unlimitedUsage(tu.Inodes)}
	fd, err := openDir(path)
	if err != nil {
		return u, err
	}
	defer unix.Close(fd)
	if sub, _ := btrfs.IsSubvolume(fd); !sub {
		return u, nil
	}
	q, err := btrfs.Usage(fd)
	if errors.Is(err, btrfs.ErrQuotaDisabled) {
		return u, nil
	}
	if err != nil {
		return u, err
	}
	u.Space.Used = q.Referenced / 1024
	if q.MaxReferenced > 0 {
		u.Space = limited(u.Space.Used, resource.Value(q.MaxReferenced/1024), d.Space)
	}
	return u, nil
}

// warnOnce logs msg the first time key is seen by this store (one
// command): a limit that is not enforced is said once, not at every step.
func (s *Store) warnOnce(key, msg string, args ...any) {
	if _, seen := s.warned.LoadOrStore(key, true); !seen {
		s.log().Warn(msg, args...)
	}
}

// Filesystem magic numbers (statfs f_type) the messages name.
const (
	xfsMagic     = 0x58465342
	tmpfsMagic   = 0x01021994
	overlayMagic = 0x794c7630
	zfsMagic     = 0x2fc12fc1
	nfsMagic     = 0x6969
)

func fsName(t int64) string {
	switch uint32(t) {
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case xfsMagic:
		return "xfs"
	case tmpfsMagic:
		return "tmpfs"
	case overlayMagic:
		return "overlayfs"
	case zfsMagic:
		return "zfs"
	case nfsMagic:
		return "nfs"
	}
	return fmt.Sprintf("a filesystem of type %#x", t)
}

// dirQuotaMissing says why a directory-tree private area (fd) gets no
// quota: its filesystem, and what this kernel has for it.
func dirQuotaMissing(fd int) string {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return err.Error()
	}
	fix := "; put the private areas on btrfs (see README: disk quota) or use the image layout"
	switch name := fsName(st.Type); name {
	case "btrfs":
		return "the private area is a plain directory, not a btrfs subvolume (made by an older vzkit, or copied in); a new create or clone makes a subvolume" + fix
	case "ext4":
		if ok, known := kernelHas("CONFIG_QFMT_V2"); known && !ok {
			return "it is on ext4, which limits a directory tree only with project quotas, and this kernel has no quota formats (CONFIG_QFMT_V2 is not set in " + kernelConfig().source + ")" + fix
		} else if !known {
			return "it is on ext4, which limits a directory tree only with project quotas; whether this kernel has the quota formats they need (CONFIG_QFMT_V2) could not be read (" + kernelConfig().source + "), and vzkit does not set up ext4 project quotas" + fix
		}
		return "it is on ext4, whose project quotas (this kernel has them) vzkit does not set up yet" + fix
	case "xfs":
		if ok, known := kernelHas("CONFIG_XFS_QUOTA"); known && !ok {
			return "it is on XFS, and this kernel has no XFS quota (CONFIG_XFS_QUOTA is not set in " + kernelConfig().source + ")" + fix
		}
		return "it is on XFS, whose project quotas vzkit does not set up yet" + fix
	default:
		return "it is on " + name + ", which has no per-directory quota vzkit can set" + fix
	}
}

// qfmtNote adds, to a refused QUOTAUGIDLIMIT, whether this kernel could
// have it at all.
func qfmtNote() string {
	if ok, known := kernelHas("CONFIG_QFMT_V2"); known && !ok {
		return ", and this kernel lacks the quota formats (CONFIG_QFMT_V2 is not set in " + kernelConfig().source + ")"
	}
	return ""
}

// kconfig is the running kernel's build configuration.
type kconfig struct {
	vals   map[string]string // CONFIG_X: y or m; a missing key is not set
	source string            // the file read, or why none could be
	ok     bool
}

// kernelConfig reads the running kernel's configuration once:
// /proc/config.gz, else /boot/config-RELEASE.
var kernelConfig = sync.OnceValue(func() kconfig {
	var uts unix.Utsname
	unix.Uname(&uts)
	release := unix.ByteSliceToString(uts.Release[:])
	try := func(path string, gz bool) (kconfig, bool) {
		f, err := os.Open(path)
		if err != nil {
			return kconfig{}, false
		}
		defer f.Close()
		var r io.Reader = f
		if gz {
			z, err := gzip.NewReader(f)
			if err != nil {
				return kconfig{}, false
			}
			r = z
		}
		k := kconfig{vals: map[string]string{}, source: path, ok: true}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if key, v, ok := strings.Cut(sc.Text(), "="); ok && strings.HasPrefix(key, "CONFIG_") {
				k.vals[key] = v
			}
		}
		return k, sc.Err() == nil
	}
	if k, ok := try("/proc/config.gz", true); ok {
		return k
	}
	if k, ok := try("/boot/config-"+release, false); ok {
		return k
	}
	return kconfig{source: "neither /proc/config.gz nor /boot/config-" + release + " is readable"}
})

// kernelHas reports whether the running kernel was built with option
// (built in or as a module, which the kernel loads on demand), and
// whether that is known at all.
func kernelHas(option string) (has, known bool) {
	k := kernelConfig()
	if !k.ok {
		return false, false
	}
	v := k.vals[option]
	return v == "y" || v == "m", true
}

// kernelFilesystem reports whether /proc/filesystems lists name.
func kernelFilesystem(name string) bool {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[len(f)-1] == name {
			return true
		}
	}
	return false
}
