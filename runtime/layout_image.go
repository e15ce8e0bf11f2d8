package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/sys/capability"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/loopdev"
	"github.com/vzkit/vzkit/runtime/idmap"
	"github.com/vzkit/vzkit/runtime/resource"
)

// imageLayout keeps the container's files in an ext4 filesystem of its
// own, in a sparse file of the private area (VE_PRIVATE/root.hdd/root.hdd,
// where OpenVZ's ploop has its image), attached to a loop device with
// autoclear at each mount and mounted at VE_ROOT (idmapped as plain is).
// The filesystem's size is DISKSPACE's hard limit and its inode count
// DISKINODES'; the container sees them in df. The private area holds
// nothing of the container's but that one file, so host-side code never
// walks a tree the container wrote: the kernel's ext4 reads it.
type imageLayout struct{ s *Store }

const (
	imageDir  = "root.hdd"
	imageFile = "root.hdd"
	// imageBlock is the ext4 block size; the image size is a multiple.
	imageBlock = 4096
	// minImage is the smallest image mkfs.ext4 makes a usable root of.
	minImage = 32 << 20
)

func imagePath(private string) string { return filepath.Join(private, imageDir, imageFile) }

// imageSize is the image size for DISKSPACE d: its hard limit in bytes,
// down to whole blocks.
func imageSize(d resource.Disk) (int64, error) {
	if d.Space.Limit.IsUnlimited() {
		return 0, fmt.Errorf("%w: %w: the image layout makes a filesystem of DISKSPACE's hard limit, and DISKSPACE is unlimited: "+
			"set it (e.g. DISKSPACE=\"10G:10G\" in CTID.conf or the sample, or set --diskspace)", ErrBadParam, ErrQuotaUnsupported)
	}
	b := int64(d.SpaceBytes()) / imageBlock * imageBlock
	if b < minImage {
		return 0, fmt.Errorf("%w: DISKSPACE hard limit %dK is below the %dM the image layout needs", ErrBadParam, d.Space.Limit, minImage>>20)
	}
	return b, nil
}

func (l imageLayout) populate(ctx context.Context, n *newArea) (string, func(), error) {
	size, err := imageSize(n.disk)
	if err != nil {
		return "", nil, err
	}
	if !kernelFilesystem("ext4") {
		return "", nil, errors.New("the image layout needs ext4, which /proc/filesystems does not list")
	}
	quota := false
	if n.disk.UGIDLimit > 0 {
		if ok, _ := kernelHas("CONFIG_QFMT_V2"); ok {
			quota = true
		} else {
			l.s.log().Warn("QUOTAUGIDLIMIT not applied: the image is made without ext4 quota", "ctid", n.ctid,
				"why", "this kernel lacks the quota formats (CONFIG_QFMT_V2)")
		}
	}
	if err := os.Mkdir(n.path, 0o700); err != nil {
		return "", nil, err
	}
	if err := os.Mkdir(filepath.Join(n.path, imageDir), 0o700); err != nil {
		return "", nil, err
	}
	img := imagePath(n.path)
	f, err := os.OpenFile(img, os.O_CREATE|os.O_EXCL|os.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", nil, err
	}
	err = f.Truncate(size) // sparse: only what the container writes takes host space
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", nil, err
	}
	if err := mkfsImage(ctx, img, n.ctid, n.disk, quota); err != nil {
		return "", nil, err
	}
	mnt, err := mountImage(img, false)
	if err != nil {
		return "", nil, err
	}
	// The detached mount has no path; its descriptor's /proc entry names
	// it for the unpack, which opens it once and works below it.
	tree := fmt.Sprintf("/proc/self/fd/%d", mnt.Fd())
	if err := l.s.unpackCache(ctx, n.cache, tree); err != nil {
		mnt.Close()
		return "", nil, err
	}
	// Closing the last reference to a detached mount unmounts it, and the
	// loop device, autoclear, goes with it.
	return tree, func() { mnt.Close() }, nil
}

// mkfsImage makes the ext4 of a new image: 4K blocks, no blocks reserved
// for root (the container's root has no CAP_SYS_RESOURCE to use them),
// DISKINODES' hard limit as the inode count, remount read-only on errors,
// inode tables and journal left to the sparse file's zeroes (lazy init:
// nothing is written that reads back as zeroes anyway), and the quota
// feature for QUOTAUGIDLIMIT.
func mkfsImage(ctx context.Context, img, ctid string, d resource.Disk, quota bool) error {
	ext := "lazy_itable_init=1,lazy_journal_init=1,nodiscard"
	if mke2fsPrezeroed() {
		ext += ",assume_storage_prezeroed=1"
	}
	args := []string{"-F", "-q", "-t", "ext4", "-b", strconv.Itoa(imageBlock), "-m", "0", "-e", "remount-ro",
		"-L", "vzkit-" + ctid, "-E", ext}
	if !d.Inodes.Limit.IsUnlimited() {
		args = append(args, "-N", d.Inodes.Limit.String())
	}
	if quota {
		args = append(args, "-O", "quota")
	}
	return run(ctx, "mkfs.ext4", append(args, img)...)
}

// mke2fsPrezeroed reports whether mke2fs knows -E assume_storage_prezeroed
// (e2fsprogs 1.47).
var mke2fsPrezeroed = sync.OnceValue(func() bool {
	out, _ := exec.Command("mke2fs", "-V").CombinedOutput()
	m := regexp.MustCompile(`mke2fs (\d+)\.(\d+)`).FindSubmatch(out)
	if m == nil {
		return false
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	return major > 1 || major == 1 && minor >= 47
})

// run runs an e2fsprogs tool, its output part of the error.
func run(ctx context.Context, name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// offline makes sure no loop device still holds img before it is worked
// on as a filesystem offline: an unmount returns before the autoclear
// detach has run, and a filesystem still mounted elsewhere must not be
// resized under the kernel's feet.
func offline(img string) error {
	return loopdev.WaitDetached(img, 5*time.Second)
}

// fsck checks an image offline before a resize (resize2fs wants it):
// exit 0 is clean, 1 errors corrected.
func fsck(ctx context.Context, img string) error {
	if err := offline(img); err != nil {
		return err
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "e2fsck", "-f", "-p", img)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("e2fsck %s: %w: %s", img, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// mountImage attaches img to a loop device (autoclear) and returns a
// detached mount of its ext4 (fsmount), nodev, with user and group quota
// when quota is set; online discard lets the sparse file give back what
// the container deletes.
func mountImage(img string, quota bool) (*os.File, error) {
	f, err := os.OpenFile(img, os.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	dev, err := loopdev.Attach(f, false)
	f.Close() // the loop device holds the file
	if err != nil {
		return nil, err
	}
	defer dev.Close() // the mount holds the device
	fsfd, err := unix.Fsopen("ext4", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("mount %s: fsopen ext4: %w", img, err)
	}
	defer unix.Close(fsfd)
	set := func(key, value string) error {
		if value == "" {
			return unix.FsconfigSetFlag(fsfd, key)
		}
		return unix.FsconfigSetString(fsfd, key, value)
	}
	opts := [][2]string{{"source", dev.Name()}, {"discard", ""}}
	if quota {
		opts = append(opts, [2]string{"usrquota", ""}, [2]string{"grpquota", ""})
	}
	for _, o := range opts {
		if err := set(o[0], o[1]); err != nil {
			return nil, fmt.Errorf("mount %s: option %s: %w%s", img, o[0], err, fsLog(fsfd))
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("mount %s (%s): %w%s", img, dev.Name(), err, fsLog(fsfd))
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return nil, fmt.Errorf("mount %s: fsmount: %w%s", img, err, fsLog(fsfd))
	}
	return os.NewFile(uintptr(mfd), "ext4 of "+img), nil
}

// fsLog is what the kernel said about a failed mount, read from its
// filesystem context.
func fsLog(fsfd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for range 16 {
		n, err := unix.Read(fsfd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (" + strings.Join(msgs, "; ") + ")"
}

func (l imageLayout) mount(c *Container, m *idmap.Map) error {
	img := imagePath(c.Private)
	// Never a second ext4 on the same file: an earlier mount may live on,
	// detached but busy, and two would corrupt it.
	if err := offline(img); err != nil {
		return err
	}
	sb, size, err := readImage(img)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if size >= sb.bytes()+imageBlock {
		// The file was grown while the container was mounted and the
		// filesystem could not follow online: it does now, offline.
		l.s.log().Info("growing the image's filesystem to its file", "ctid", c.ID, "from", sb.bytes(), "to", size)
		if err := fsck(ctx, img); err != nil {
			return err
		}
		if err := run(ctx, "resize2fs", img); err != nil {
			return err
		}
	}
	quota := false
	if rc, err := l.s.Resources(c); err == nil && rc.Disk.UGIDLimit > 0 && sb.quota {
		quota = true
	}
	mnt, err := mountImage(img, quota)
	if err != nil {
		return err
	}
	defer mnt.Close()
	return idmap.Attach(mnt, c.Root, m)
}

func (l imageLayout) setQuota(ctx context.Context, c *Container, d resource.Disk, mounted bool) error {
	s := l.s
	img := imagePath(c.Private)
	want, err := imageSize(d)
	if err != nil {
		return err
	}
	sb, size, err := readImage(img)
	if err != nil {
		return err
	}
	cur := sb.bytes()
	switch {
	case !mounted:
		if err := resizeOffline(ctx, img, cur, size, want); err != nil {
			return err
		}
		if want != cur {
			s.log().Info("image resized", "ctid", c.ID, "from", cur, "to", want)
		}
	case want > cur:
		if err := truncateImage(img, want); err != nil {
			return err
		}
		if onlineResize() {
			if err := growOnline(ctx, c, img); err != nil {
				return err
			}
			s.log().Info("image grown online", "ctid", c.ID, "from", cur, "to", want)
		} else {
			s.log().Warn("DISKSPACE raised: the image file has grown now, its filesystem grows at the next start "+
				"(growing a mounted ext4 needs CAP_SYS_RESOURCE, which this host's capability bounding set lacks)",
				"ctid", c.ID, "from", cur, "to", want)
		}
	case want < cur:
		var st unix.Statfs_t
		if err := unix.Statfs(c.Root, &st); err != nil {
			return fmt.Errorf("%s: %w", c.Root, err)
		}
		used := (st.Blocks - st.Bfree) * uint64(st.Bsize)
		if uint64(want) < used {
			return fmt.Errorf("%w: DISKSPACE hard limit %s is below the %dK the container's files take", ErrBadParam, d.Space.Limit, used/1024)
		}
		s.log().Warn("DISKSPACE lowered: a mounted image shrinks offline, at the next start, to DISKSPACE of CTID.conf", "ctid", c.ID, "from", cur, "to", want)
	}
	if !d.Inodes.Limit.IsUnlimited() && uint64(d.Inodes.Limit) != sb.inodes {
		s.warnOnce(c.ID+" imageinodes", "DISKINODES: an image's inode count is set when it is made and scales with its size; it is not changed",
			"ctid", c.ID, "inodes", sb.inodes, "DISKINODES", d.Inodes.Limit)
	}
	if d.UGIDLimit == 0 || sb.quota {
		return nil
	}
	if ok, known := kernelHas("CONFIG_QFMT_V2"); !ok {
		note := qfmtNote()
		if !known {
			note = " (whether this kernel has the quota formats, CONFIG_QFMT_V2, could not be read: " + kernelConfig().source + ")"
		}
		return fmt.Errorf("%w: QUOTAUGIDLIMIT=%d: user and group quotas inside the container need ext4 quota%s", ErrQuotaUnsupported, d.UGIDLimit, note)
	}
	if mounted {
		s.log().Warn("QUOTAUGIDLIMIT: the image gets ext4 quota at the next start", "ctid", c.ID)
		return nil
	}
	if err := offline(img); err != nil {
		return err
	}
	return run(ctx, "tune2fs", "-O", "quota", img)
}

// resizeOffline makes the unmounted image img (filesystem of cur bytes,
// file of size) want bytes: the filesystem first and the file after when
// shrinking, the other way round when growing, so the file is never
// shorter than its filesystem.
func resizeOffline(ctx context.Context, img string, cur, size, want int64) error {
	if want == cur {
		if size != want {
			return truncateImage(img, want) // drop a grow that was not kept
		}
		return nil
	}
	if err := fsck(ctx, img); err != nil {
		return err
	}
	if want > cur {
		if err := truncateImage(img, want); err != nil {
			return err
		}
		return run(ctx, "resize2fs", img)
	}
	if min, err := minSize(ctx, img); err == nil && want < min {
		return fmt.Errorf("%w: DISKSPACE hard limit %dK is below the %dK the container's files need", ErrBadParam, want/1024, min/1024)
	}
	if err := run(ctx, "resize2fs", img, strconv.FormatInt(want/1024, 10)+"K"); err != nil {
		return err
	}
	return truncateImage(img, want)
}

// minSize is resize2fs's estimate of the smallest the image can shrink to.
func minSize(ctx context.Context, img string) (int64, error) {
	out, err := exec.CommandContext(ctx, "resize2fs", "-P", img).Output()
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if _, v, ok := strings.Cut(sc.Text(), "minimum size of the filesystem:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n * imageBlock, err
		}
	}
	return 0, errors.New("resize2fs -P: no estimate")
}

func truncateImage(img string, size int64) error {
	f, err := os.OpenFile(img, os.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// onlineResize reports whether a mounted ext4 can be grown here: the
// resize ioctl needs CAP_SYS_RESOURCE, which some hosts drop from the
// bounding set.
func onlineResize() bool {
	if ok, err := capability.GetBound(capability.CAP_SYS_RESOURCE); err != nil || !ok {
		return false
	}
	caps, err := capability.NewPid2(0)
	if err != nil || caps.Load() != nil {
		return false
	}
	return caps.Get(capability.EFFECTIVE, capability.CAP_SYS_RESOURCE)
}

// growOnline grows the mounted image of c to its file: the loop device
// mounted at VE_ROOT, checked to be backed by img, takes the new size,
// then resize2fs grows the mounted filesystem.
func growOnline(ctx context.Context, c *Container, img string) error {
	infos, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(c.Root))
	if err != nil || len(infos) == 0 {
		return fmt.Errorf("image of %s: no mount at %s: %v", c.ID, c.Root, err)
	}
	src := infos[len(infos)-1].Source
	if !strings.HasPrefix(src, "/dev/loop") {
		return fmt.Errorf("image of %s: %s is mounted from %s, not a loop device", c.ID, c.Root, src)
	}
	dev, err := os.OpenFile(src, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer dev.Close()
	var st unix.Stat_t
	if err := unix.Stat(img, &st); err != nil {
		return err
	}
	if d, ino, err := loopdev.Backing(dev); err != nil {
		return err
	} else if d != st.Dev || ino != st.Ino {
		return fmt.Errorf("image of %s: %s is not backed by %s", c.ID, src, img)
	}
	if err := loopdev.SetCapacity(dev); err != nil {
		return err
	}
	return run(ctx, "resize2fs", src)
}

func (l imageLayout) usage(c *Container, d resource.Disk, mounted bool) (DiskUsage, error) {
	if mounted {
		var st unix.Statfs_t
		if err := unix.Statfs(c.Root, &st); err == nil && st.Type == unix.EXT4_SUPER_MAGIC {
			kb := uint64(st.Bsize) / 1024
			return DiskUsage{
				Space:  limited((st.Blocks-st.Bfree)*kb, resource.Value(st.Blocks*kb), d.Space),
				Inodes: limited(st.Files-st.Ffree, resource.Value(st.Files), d.Inodes),
			}, nil
		}
	}
	// Unmounted, the superblock's counts are exact; used space includes
	// the filesystem's own metadata, which df leaves out.
	sb, _, err := readImage(imagePath(c.Private))
	if err != nil {
		return DiskUsage{}, err
	}
	kb := sb.blockSize / 1024
	return DiskUsage{
		Space:  limited((sb.blocks-sb.freeBlocks)*kb, resource.Value(sb.blocks*kb), d.Space),
		Inodes: limited(sb.inodes-sb.freeInodes, resource.Value(sb.inodes), d.Inodes),
	}, nil
}

// ext4Super is what vzkit reads of an image's ext4 superblock.
type ext4Super struct {
	blocks, freeBlocks, blockSize uint64
	inodes, freeInodes            uint64
	quota                         bool // the quota feature
}

func (sb ext4Super) bytes() int64 { return int64(sb.blocks * sb.blockSize) }

// readImage reads the superblock of the image img (a regular file, no
// symlink followed) and the file's size.
func readImage(img string) (ext4Super, int64, error) {
	var sb ext4Super
	f, err := os.OpenFile(img, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return sb, 0, fmt.Errorf("image: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return sb, 0, err
	}
	if !fi.Mode().IsRegular() {
		return sb, 0, fmt.Errorf("image %s: not a regular file", img)
	}
	b := make([]byte, 1024)
	if _, err := f.ReadAt(b, 1024); err != nil {
		return sb, 0, fmt.Errorf("image %s: superblock: %w", img, err)
	}
	le := binary.LittleEndian
	if le.Uint16(b[0x38:]) != 0xEF53 {
		return sb, 0, fmt.Errorf("image %s: no ext4 superblock", img)
	}
	logBlock := le.Uint32(b[0x18:])
	if logBlock > 6 {
		return sb, 0, fmt.Errorf("image %s: bad block size", img)
	}
	sb.blockSize = 1024 << logBlock
	sb.inodes = uint64(le.Uint32(b[0x0:]))
	sb.blocks = uint64(le.Uint32(b[0x4:]))
	sb.freeBlocks = uint64(le.Uint32(b[0xC:]))
	sb.freeInodes = uint64(le.Uint32(b[0x10:]))
	if le.Uint32(b[0x60:])&0x80 != 0 { // INCOMPAT_64BIT
		sb.blocks |= uint64(le.Uint32(b[0x150:])) << 32
		sb.freeBlocks |= uint64(le.Uint32(b[0x158:])) << 32
	}
	sb.quota = le.Uint32(b[0x64:])&0x100 != 0 // RO_COMPAT_QUOTA
	return sb, fi.Size(), nil
}
