package runtime

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/btrfs"
	"github.com/vzkit/vzkit/internal/loopdev"
	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/runtime/resource"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

// loopFS makes a filesystem of the given size in a sparse file, loop
// mounted (as README tells an admin without btrfs to do), and returns
// its mount point; it is unmounted when the test ends.
func loopFS(t *testing.T, mkfs, size string, mkfsArgs ...string) string {
	t.Helper()
	testenv.NeedRoot(t, "mounts a filesystem on a loop device")
	testenv.NeedTool(t, mkfs, map[string]string{"mkfs.btrfs": "btrfs-progs", "mkfs.ext4": "e2fsprogs"}[mkfs])
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
	for _, c := range [][]string{
		{"truncate", "-s", size, img},
		append(append([]string{mkfs}, mkfsArgs...), img),
		{"mkdir", mnt},
		{"mount", "-o", "loop", img, mnt},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
			unix.Unmount(mnt, unix.MNT_DETACH)
		}
	})
	return mnt
}

// storeAt is a store whose VZKIT_ROOT is root, with vz.conf holding conf.
func storeAt(t *testing.T, root, conf string) *Store {
	t.Helper()
	p := filepath.Join(root, vzconf.ConfigPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := vzconf.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	return NewStore(g)
}

// preConf writes the CTID.conf create starts from, as an admin would.
func preConf(t *testing.T, s *Store, ctid, conf string) {
	t.Helper()
	os.MkdirAll(s.G.Get("CONFDIR"), 0o755)
	if err := os.WriteFile(s.ConfPath(ctid), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// richRoot is a root tree with what an unpack must reproduce exactly:
// owners, modes with setuid, xattrs and a file capability, hard links,
// symlinks, a FIFO, device nodes, a file with a hole, fixed mtimes.
func richRoot(t testing.TB) []byte {
	mt := time.Date(2023, 5, 6, 7, 8, 9, 0, time.UTC)
	caps := string([]byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // cap_net_bind_service+ep
	big := strings.Repeat("\x00", 256<<10) + "end\n"
	return tarball(t, []entry{
		{hdr: tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}},
		{hdr: tar.Header{Name: "./etc/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}},
		{hdr: tar.Header{Name: "./etc/os-release", Typeflag: tar.TypeReg, ModTime: mt}, body: "ID=test\n"},
		{hdr: tar.Header{Name: "./etc/shadow", Typeflag: tar.TypeReg, Mode: 0o640, Gid: 42, ModTime: mt}, body: "root:*:1::::::\n"},
		{hdr: tar.Header{Name: "./etc/issue.net", Typeflag: tar.TypeLink, Linkname: "./etc/os-release", ModTime: mt}},
		{hdr: tar.Header{Name: "./usr/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}},
		{hdr: tar.Header{Name: "./usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}},
		{hdr: tar.Header{Name: "./usr/bin/su", Typeflag: tar.TypeReg, Mode: 0o4755, ModTime: mt}, body: "#!/bin/sh\n"},
		{hdr: tar.Header{Name: "./usr/bin/ping", Typeflag: tar.TypeReg, Mode: 0o755, ModTime: mt,
			PAXRecords: map[string]string{"SCHILY.xattr.security.capability": caps}}, body: "ping\n"},
		{hdr: tar.Header{Name: "./usr/bin/tagged", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt,
			PAXRecords: map[string]string{"SCHILY.xattr.user.origin": "cache"}}, body: "x\n"},
		{hdr: tar.Header{Name: "./bin", Typeflag: tar.TypeSymlink, Linkname: "usr/bin", ModTime: mt}},
		{hdr: tar.Header{Name: "./etc/mtab", Typeflag: tar.TypeSymlink, Linkname: "/proc/self/mounts", ModTime: mt}},
		{hdr: tar.Header{Name: "./dev/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}},
		{hdr: tar.Header{Name: "./dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: mt}},
		{hdr: tar.Header{Name: "./run/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}},
		{hdr: tar.Header{Name: "./run/initctl", Typeflag: tar.TypeFifo, Mode: 0o600, ModTime: mt}},
		{hdr: tar.Header{Name: "./var/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}},
		{hdr: tar.Header{Name: "./var/big", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt}, body: big},
		{hdr: tar.Header{Name: "./tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: mt}},
		{hdr: tar.Header{Name: "./home/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}},
		{hdr: tar.Header{Name: "./home/user/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 1000, Gid: 1000, ModTime: mt}},
		{hdr: tar.Header{Name: "./home/user/.profile", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 1000, Gid: 1000, ModTime: mt}, body: "PS1=x\n"},
	})
}

// treeState describes every entry of a tree as a comparison should see
// it: type, mode, owner, mtime, content or target, device, xattrs, and
// which entries are one inode.
func treeState(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	inodes := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("%s mode=%o uid=%d gid=%d mtime=%d", rel, st.Mode, st.Uid, st.Gid, st.Mtim.Nano())
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			line += fmt.Sprintf(" size=%d sha=%s", st.Size, hex.EncodeToString(sum[:8]))
			if first, ok := inodes[st.Ino]; ok {
				line += " link=" + first
			} else if st.Nlink > 1 {
				inodes[st.Ino] = rel
			}
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case unix.S_IFCHR, unix.S_IFBLK:
			line += fmt.Sprintf(" rdev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		sz, _ := unix.Llistxattr(p, nil)
		if sz > 0 {
			buf := make([]byte, sz)
			sz, _ = unix.Llistxattr(p, buf)
			names := strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00")
			sort.Strings(names)
			for _, n := range names {
				v := make([]byte, 256)
				vn, _ := unix.Lgetxattr(p, n, v)
				line += fmt.Sprintf(" %s=%x", n, v[:max(vn, 0)])
			}
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTrees(t *testing.T, what string, a, b []string) {
	t.Helper()
	if strings.Join(a, "\n") == strings.Join(b, "\n") {
		return
	}
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			t.Errorf("%s: first difference:\n  %s\n  %s", what, x, y)
			return
		}
	}
}

func subvolumes(t *testing.T, mnt string) string {
	out, err := exec.Command("btrfs", "subvolume", "list", mnt).CombinedOutput()
	if err != nil {
		t.Fatalf("btrfs subvolume list: %v\n%s", err, out)
	}
	return string(out)
}

func TestParseLayoutOpenVZNames(t *testing.T) {
	for in, want := range map[string]Layout{"plain": LayoutPlain, "simfs": LayoutPlain, "overlay": LayoutOverlay, "image": LayoutImage, "ploop": LayoutImage} {
		if got, err := ParseLayout(in); err != nil || got != want {
			t.Errorf("ParseLayout(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseLayout("zfs"); !errors.Is(err, ErrBadParam) {
		t.Errorf("zfs: %v", err)
	}
}

// TestPlainOnBtrfsClonesTheUnpack: on btrfs a plain create snapshots one
// read-only unpacked copy of the cache (or reflinks its files), and the
// tree it gives is the one an unpack gives, to the last xattr; the copy
// stays as it was whatever a container does to its own tree.
func TestPlainOnBtrfsClonesTheUnpack(t *testing.T) {
	needRoot(t)
	mnt := loopFS(t, "mkfs.btrfs", "1G", "-q")
	testenv.NeedTool(t, "btrfs", "btrfs-progs")
	ctx := context.Background()
	s := storeAt(t, mnt, "FAST_PLAIN_CREATE=\"no\"\n")
	writeCache(t, s, "rich", richRoot(t))
	unpacked, err := s.Create(ctx, CreateOptions{CTID: "101", OSTemplate: "rich"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := isSubvolume(unpacked.Private); err != nil || !ok {
		t.Fatalf("private area of an unpack on btrfs is not a subvolume: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(s.G.Get("TEMPLATE"), "unpacked", "*")); len(m) != 0 {
		t.Errorf("FAST_PLAIN_CREATE=no made an unpacked copy: %v", m)
	}
	want := treeState(t, unpacked.Private)

	s = storeAt(t, mnt, "")
	snap, err := s.Create(ctx, CreateOptions{CTID: "102", OSTemplate: "rich"})
	if err != nil {
		t.Fatal(err)
	}
	sameTrees(t, "snapshot vs unpack", want, treeState(t, snap.Private))
	seeds, _ := filepath.Glob(filepath.Join(s.G.Get("TEMPLATE"), "unpacked", "*"))
	if len(seeds) != 1 {
		t.Fatalf("unpacked copies: %v, want one", seeds)
	}
	seed := seeds[0]
	fd, err := openDir(seed)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := btrfs.ReadOnly(fd)
	unix.Close(fd)
	if err != nil || !ro {
		t.Errorf("the unpacked copy is not a read-only subvolume: %v", err)
	}
	if err := os.WriteFile(filepath.Join(seed, "etc/os-release"), []byte("changed"), 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("write into the unpacked copy: %v, want EROFS", err)
	}
	second, err := s.Create(ctx, CreateOptions{CTID: "103", OSTemplate: "rich"})
	if err != nil {
		t.Fatal(err)
	}
	// What one container does to its tree shows nowhere else.
	os.WriteFile(filepath.Join(snap.Private, "etc/os-release"), []byte("mine\n"), 0o644)
	os.Remove(filepath.Join(snap.Private, "usr/bin/su"))
	sameTrees(t, "second snapshot vs unpack", want, treeState(t, second.Private))
	sameTrees(t, "unpacked copy vs unpack", want, treeState(t, seed))

	reflinkOnBtrfs = true
	defer func() { reflinkOnBtrfs = false }()
	refl, err := s.Create(ctx, CreateOptions{CTID: "104", OSTemplate: "rich"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := isSubvolume(refl.Private); !ok {
		t.Error("reflinked private area is not a subvolume")
	}
	sameTrees(t, "reflinked copy vs unpack", want, treeState(t, refl.Private))

	for _, id := range []string{"101", "102", "103", "104"} {
		if err := s.Destroy(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	list := subvolumes(t, mnt)
	for _, id := range []string{"101", "102", "103", "104"} {
		if strings.Contains(list, "private/"+id+"\n") {
			t.Errorf("subvolume of %s left after destroy:\n%s", id, list)
		}
	}
	assertNoDebris(t, filepath.Dir(snap.Private))
	assertNoDebris(t, filepath.Dir(seed))
}

// hostileArea plants in a private area what a container's root may
// leave there: a symlink to a host directory, a FIFO, a device node
// of the host's disk. It returns the host directory the link points at.
func hostileArea(t *testing.T, private string) string {
	t.Helper()
	victim := t.TempDir()
	if err := os.WriteFile(filepath.Join(victim, "keep"), bytes.Repeat([]byte("k"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		os.Symlink(victim, filepath.Join(private, "link")),
		os.Symlink(victim+"/keep", filepath.Join(private, "filelink")),
		unix.Mkfifo(filepath.Join(private, "fifo"), 0o600),
		unix.Mknod(filepath.Join(private, "disk"), unix.S_IFBLK|0o600, int(unix.Mkdev(8, 0))),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return victim
}

func assertVictimIntact(t *testing.T, victim string) {
	t.Helper()
	if fi, err := os.Stat(filepath.Join(victim, "keep")); err != nil || fi.Size() != 1<<20 {
		t.Errorf("a host file a container's symlink points at was touched: %v", err)
	}
}

// writeBytes writes n MiB to path, synced; the error is the first write's
// or the sync's.
func writeBytes(path string, n int) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := bytes.Repeat([]byte{0xa5}, 1<<20)
	for i := 0; i < n; i++ {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Sync()
}

func disk(space string) resource.Disk {
	p, err := resource.ParsePair(space, resource.KBlocks)
	if err != nil {
		panic(err)
	}
	return resource.Disk{Space: p, Inodes: resource.UnlimitedPair}
}

func TestPlainOnBtrfsQuota(t *testing.T) {
	needRoot(t)
	mnt := loopFS(t, "mkfs.btrfs", "1G", "-q")
	ctx := context.Background()
	s := storeAt(t, mnt, "")
	writeCache(t, s, "tiny", smallRoot(t))
	preConf(t, s, "101", "DISKSPACE=\"20M:24M\"\nDISKINODES=\"1000:1000\"\n")
	c, err := s.Create(ctx, CreateOptions{CTID: "101", OSTemplate: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(c.Private, "big")
	if err := writeBytes(big, 40); !errors.Is(err, syscall.EDQUOT) {
		t.Fatalf("40M into a private area with DISKSPACE 24M: %v, want EDQUOT", err)
	}
	os.Remove(big)
	unix.Sync()
	if err := s.applyDiskQuota(ctx, c, disk("60M:64M")); err != nil {
		t.Fatal(err)
	}
	if err := writeBytes(big, 40); err != nil {
		t.Fatalf("40M after raising DISKSPACE to 64M: %v", err)
	}
	unix.Sync()
	u, err := s.DiskUsage(c)
	if err != nil {
		t.Fatal(err)
	}
	// The hard limit is the one in force, the soft one CTID.conf's (20M).
	if u.Space.Used < 40<<10 || u.Space.Used > 44<<10 || u.Space.Hard != 64<<10 || u.Space.Soft != 20<<10 || !u.Inodes.Hard.IsUnlimited() {
		t.Errorf("usage after 40M written, DISKSPACE 60M:64M: %+v", u)
	}
	// Raised, lowered, removed: each takes effect at once.
	if err := s.applyDiskQuota(ctx, c, disk("unlimited")); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.DiskUsage(c); !u.Space.Hard.IsUnlimited() {
		t.Errorf("DISKSPACE unlimited left a limit: %+v", u)
	}
	if err := writeBytes(filepath.Join(c.Private, "big2"), 100); err != nil {
		t.Errorf("write with no limit: %v", err)
	}
	// A second-level quota cannot be given by a directory tree.
	d := disk("1G")
	d.UGIDLimit = 100
	if err := s.applyDiskQuota(ctx, c, d); !errors.Is(err, ErrQuotaUnsupported) || !strings.Contains(err.Error(), "QUOTAUGIDLIMIT") {
		t.Errorf("QUOTAUGIDLIMIT on plain: %v", err)
	}

	// What the container plants in its area leads host-side code nowhere.
	victim := hostileArea(t, c.Private)
	if err := os.Mkdir(filepath.Join(c.Private, "nested"), 0o755); err != nil {
		t.Fatal(err)
	}
	if u, err := s.DiskUsage(c); err != nil || u.Space.Used > 160<<10 {
		t.Errorf("usage with hostile entries: %+v %v", u, err)
	}
	if err := s.applyDiskQuota(ctx, c, disk("1G")); err != nil {
		t.Errorf("quota with hostile entries: %v", err)
	}
	// A subvolume made inside (by a host tool: the container's seccomp
	// filter refuses it) goes with the area, found by id.
	if out, err := exec.Command("btrfs", "subvolume", "create", filepath.Join(c.Private, "nested/sub")).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	os.WriteFile(filepath.Join(c.Private, "nested/sub/f"), []byte("x"), 0o644)
	if err := s.Destroy(ctx, "101"); err != nil {
		t.Fatal(err)
	}
	assertVictimIntact(t, victim)
	if _, err := os.Lstat(c.Private); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("private area left: %v", err)
	}
	if list := subvolumes(t, mnt); strings.Contains(list, "private/") || strings.Contains(list, debrisPrefix) {
		t.Errorf("subvolumes left after destroy:\n%s", list)
	}
}

// TestPlainOffBtrfsSaysQuotaIsNotEnforced: where the private areas are on
// a filesystem vzkit cannot limit, nothing pretends: the limit is not set
// and the log says why.
func TestPlainOffBtrfsSaysQuotaIsNotEnforced(t *testing.T) {
	needRoot(t)
	s := testStore(t)
	var log bytes.Buffer
	s.Log = newTestLogger(&log)
	writeCache(t, s, "tiny", smallRoot(t))
	preConf(t, s, "101", "DISKSPACE=\"20M:24M\"\n")
	c, err := s.Create(context.Background(), CreateOptions{CTID: "101", OSTemplate: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := onBtrfs(c.Private); ok {
		t.Skip("the test's temporary directory is on btrfs")
	}
	if err := s.applyDiskQuota(context.Background(), c, disk("1M")); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), "DISKSPACE not enforced"); n != 1 {
		t.Errorf("said %d times that DISKSPACE is not enforced, want once:\n%s", n, log.String())
	}
	if !strings.Contains(log.String(), "btrfs") {
		t.Errorf("the log does not say what would enforce it:\n%s", log.String())
	}
	if u, err := s.DiskUsage(c); err != nil || !u.Space.Hard.IsUnlimited() || u.Space.Used == 0 {
		t.Errorf("usage: %+v %v", u, err)
	}
}

func statfs(t *testing.T, p string) unix.Statfs_t {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestImageLayout(t *testing.T) {
	needRoot(t)
	for _, tool := range []string{"mkfs.ext4", "resize2fs", "e2fsck"} {
		testenv.NeedTool(t, tool, "e2fsprogs")
	}
	ctx := context.Background()
	s := testStore(t)
	var log bytes.Buffer
	s.Log = newTestLogger(&log)
	defer func() {
		if t.Failed() {
			t.Logf("log:\n%s", log.String())
		}
	}()
	writeCache(t, s, "rich", richRoot(t))

	// No size, no image: nothing is left behind.
	preConf(t, s, "100", "VE_LAYOUT=\"ploop\"\n")
	if _, err := s.Create(ctx, CreateOptions{CTID: "100", OSTemplate: "rich"}); err == nil || !strings.Contains(err.Error(), "DISKSPACE") {
		t.Errorf("image with unlimited DISKSPACE: %v", err)
	}
	if _, err := os.Lstat(s.G.Path("VE_PRIVATE", "100")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused create left its private area")
	}
	assertNoDebris(t, filepath.Dir(s.G.Path("VE_PRIVATE", "100")))

	// OpenVZ's name in CTID.conf; privileged, so the test writes into the
	// mounted root as the container's root would.
	preConf(t, s, "101", "VE_LAYOUT=\"ploop\"\nDISKSPACE=\"60M:64M\"\nDISKINODES=\"20000:20000\"\nPRIVILEGED=\"yes\"\n")
	c, err := s.Create(ctx, CreateOptions{CTID: "101", OSTemplate: "rich"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Get("VE_LAYOUT") != "image" {
		t.Errorf("VE_LAYOUT = %q", c.Get("VE_LAYOUT"))
	}
	img := imagePath(c.Private)
	var st unix.Stat_t
	if err := unix.Stat(img, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 64<<20 || st.Blocks*512 > 32<<20 || st.Mode&0o777 != 0o600 {
		t.Errorf("image: size %d, %d bytes allocated, mode %o; want 64M, sparse, 0600", st.Size, st.Blocks*512, st.Mode&0o777)
	}
	if err := loopdev.WaitDetached(img, 2*time.Second); err != nil {
		t.Errorf("loop device left attached after create: %v", err)
	}
	if err := s.Mount(ctx, "101"); err != nil {
		t.Fatal(err)
	}
	fs := statfs(t, c.Root)
	// 64M less ext4's metadata (journal, inode tables), 20000 inodes up to
	// a whole group.
	if fs.Type != unix.EXT4_SUPER_MAGIC || fs.Blocks*uint64(fs.Bsize) > 64<<20 || fs.Blocks*uint64(fs.Bsize) < 48<<20 || fs.Files < 20000 || fs.Files > 24000 {
		t.Errorf("mounted image: type %#x, %d bytes, %d inodes", fs.Type, fs.Blocks*uint64(fs.Bsize), fs.Files)
	}
	var unpacked []string
	for _, l := range treeState(t, c.Root) {
		if !strings.HasPrefix(l, "lost+found") && !strings.HasPrefix(l, ". ") {
			unpacked = append(unpacked, l)
		}
	}
	ref := storeAt(t, t.TempDir(), "FAST_PLAIN_CREATE=\"no\"\n")
	writeCache(t, ref, "rich", richRoot(t))
	plain, err := ref.Create(ctx, CreateOptions{CTID: "101", OSTemplate: "rich"})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range treeState(t, plain.Private) {
		if !strings.HasPrefix(l, ". ") {
			want = append(want, l)
		}
	}
	sameTrees(t, "image vs plain unpack", want, unpacked)

	big := filepath.Join(c.Root, "big")
	if err := writeBytes(big, 80); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("80M into a 64M image: %v, want ENOSPC", err)
	}
	os.Remove(big)
	// The hard limit is the filesystem's size, the soft one DISKSPACE's
	// 60M barrier, no higher than it.
	if u, err := s.DiskUsage(c); err != nil || u.Space.Hard < 48<<10 || u.Space.Hard > 64<<10 || u.Space.Soft != min(60<<10, u.Space.Hard) || u.Inodes.Hard < 20000 {
		t.Errorf("usage of the mounted image: %+v %v", u, err)
	}
	// Lowering below what is used is refused at once.
	if err := writeBytes(big, 30); err != nil {
		t.Fatal(err)
	}
	if err := s.applyDiskQuota(ctx, c, disk("20M")); !errors.Is(err, ErrBadParam) {
		t.Errorf("DISKSPACE 20M under 30M used: %v, want ErrBadParam", err)
	}
	// Raised while mounted: online where the host lets root resize a
	// mounted ext4 (CAP_SYS_RESOURCE), else the file now and the
	// filesystem at the next mount.
	if err := s.applyDiskQuota(ctx, c, disk("128M")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(img); fi.Size() != 128<<20 {
		t.Errorf("image file after raising DISKSPACE: %d bytes", fi.Size())
	}
	grown := func() bool { fs := statfs(t, c.Root); return fs.Blocks*uint64(fs.Bsize) > 100<<20 }
	if onlineResize() != grown() {
		t.Errorf("grown online: %v; this host can resize online: %v", grown(), onlineResize())
	}
	if !onlineResize() && !strings.Contains(log.String(), "CAP_SYS_RESOURCE") {
		t.Errorf("the log does not say why the image does not grow now:\n%s", log.String())
	}
	if err := s.Umount(ctx, "101"); err != nil {
		t.Fatal(err)
	}
	if err := loopdev.WaitDetached(img, 2*time.Second); err != nil {
		t.Errorf("loop device left attached after umount: %v", err)
	}
	if err := s.Mount(ctx, "101"); err != nil {
		t.Fatal(err)
	}
	if !grown() {
		t.Errorf("the image's filesystem did not grow at the next mount")
	}
	if err := writeBytes(filepath.Join(c.Root, "big2"), 80); err != nil {
		t.Errorf("80M more after raising DISKSPACE to 128M: %v", err)
	}
	os.Remove(filepath.Join(c.Root, "big2"))
	if err := s.Umount(ctx, "101"); err != nil {
		t.Fatal(err)
	}

	// Stopped: resized offline at once, both ways; never below what the
	// files need.
	if err := s.applyDiskQuota(ctx, c, disk("96M")); err != nil {
		t.Fatal(err)
	}
	sb, size, err := readImage(img)
	if err != nil || sb.bytes() != 96<<20 || size != 96<<20 {
		t.Errorf("after an offline shrink to 96M: filesystem %d, file %d, %v", sb.bytes(), size, err)
	}
	if err := s.applyDiskQuota(ctx, c, disk("24M")); !errors.Is(err, ErrBadParam) {
		t.Errorf("offline shrink under the 30M used: %v", err)
	}
	if u, err := s.DiskUsage(c); err != nil || u.Space.Used < 30<<10 || u.Space.Hard != 96<<10 {
		t.Errorf("usage of the stopped image: %+v %v", u, err)
	}
	d := disk("96M")
	d.UGIDLimit = 50
	err = s.applyDiskQuota(ctx, c, d)
	if ok, known := kernelHas("CONFIG_QFMT_V2"); known && !ok {
		if !errors.Is(err, ErrQuotaUnsupported) || !strings.Contains(err.Error(), "QUOTAUGIDLIMIT") || !strings.Contains(err.Error(), "CONFIG_QFMT_V2") {
			t.Errorf("QUOTAUGIDLIMIT on a kernel without quota formats: %v", err)
		}
	} else if err != nil {
		t.Errorf("QUOTAUGIDLIMIT: %v", err)
	}

	// The private area holds only the image: whatever else is planted
	// there, destroy removes the area and touches nothing it names.
	victim := hostileArea(t, c.Private)
	if err := s.Destroy(ctx, "101"); err != nil {
		t.Fatal(err)
	}
	assertVictimIntact(t, victim)
	if _, err := os.Lstat(c.Private); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("private area left: %v", err)
	}
	if ms, _ := filepath.Glob("/sys/block/loop*/loop/backing_file"); len(ms) > 0 {
		for _, m := range ms {
			if b, _ := os.ReadFile(m); strings.HasPrefix(string(b), c.Private) {
				t.Errorf("loop device left attached after destroy: %s: %s", m, b)
			}
		}
	}
}

// newTestLogger logs text records to w, as vzctl shows them.
func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}

// TestOverlayOnBtrfsLimitsTheChanges: an overlay private area on btrfs is
// a subvolume, and DISKSPACE limits what the container writes (its upper
// directory), not the shared lower.
func TestOverlayOnBtrfsLimitsTheChanges(t *testing.T) {
	needRoot(t)
	mnt := loopFS(t, "mkfs.btrfs", "1G", "-q")
	ctx := context.Background()
	s := storeAt(t, mnt, "")
	writeCache(t, s, "rich", richRoot(t))
	preConf(t, s, "201", "DISKSPACE=\"16M:16M\"\n")
	c, err := s.Create(ctx, CreateOptions{CTID: "201", OSTemplate: "rich", Layout: string(LayoutOverlay)})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := isSubvolume(c.Private); !ok {
		t.Fatal("overlay private area on btrfs is not a subvolume")
	}
	if err := writeBytes(filepath.Join(c.Private, "upper/big"), 32); !errors.Is(err, syscall.EDQUOT) {
		t.Errorf("32M of changes with DISKSPACE 16M: %v, want EDQUOT", err)
	}
	os.Remove(filepath.Join(c.Private, "upper/big"))
	if err := s.Destroy(ctx, "201"); err != nil {
		t.Fatal(err)
	}
	if list := subvolumes(t, mnt); strings.Contains(list, "private/201") {
		t.Errorf("subvolume left after destroy:\n%s", list)
	}
}
