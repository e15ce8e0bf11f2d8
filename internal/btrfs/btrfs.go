package btrfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

const ioctlMagic = 0x94

func ioc(dir, nr, size uintptr) uintptr {
	return dir<<dirShift | size<<16 | ioctlMagic<<8 | nr
}

// The ioctls used here (linux/btrfs.h).
var (
	iocSnapCreate      = ioc(iocWrite, 1, 4096)
	iocSubvolCreate    = ioc(iocWrite, 14, 4096)
	iocSnapDestroy     = ioc(iocWrite, 15, 4096)
	iocTreeSearch      = ioc(iocWrite|iocRead, 17, 4096)
	iocInoLookup       = ioc(iocWrite|iocRead, 18, 4096)
	iocSnapCreateV2    = ioc(iocWrite, 23, 4096)
	iocSubvolCreateV2  = ioc(iocWrite, 24, 4096)
	iocSubvolGetflags  = ioc(iocRead, 25, 8)
	iocSubvolSetflags  = ioc(iocWrite, 26, 8)
	iocFsInfo          = ioc(iocRead, 31, 1024)
	iocQuotaCtl        = ioc(iocWrite|iocRead, 40, 16)
	iocQgroupLimit     = ioc(iocRead, 43, 48)
	iocQuotaRescanWait = ioc(iocNone, 46, 0)
	iocSnapDestroyV2   = ioc(iocWrite, 63, 4096)
)

// SubvolumeCreateIoctls are the ioctl requests that make a subvolume
// (SUBVOL_CREATE, SNAP_CREATE and their v2 forms). A container's seccomp
// filter refuses them: a subvolume made inside a private area has a
// qgroup of its own, outside the container's limit.
func SubvolumeCreateIoctls() []uint32 {
	return []uint32{uint32(iocSnapCreate), uint32(iocSubvolCreate), uint32(iocSnapCreateV2), uint32(iocSubvolCreateV2)}
}

const (
	firstFreeObjectID = 256 // the root directory inode of every subvolume
	rootTreeObjectID  = 1
	rootRefKey        = 156

	subvolRdonly   = 1 << 1
	subvolSpecByID = 1 << 4

	quotaCtlEnable = 1
	limitMaxRfer   = 1 << 0
	clearValue     = ^uint64(0)
)

// ErrQuotaDisabled is returned for a qgroup operation on a filesystem
// whose quota is off (the kernel's ENOTCONN).
var ErrQuotaDisabled = errors.New("btrfs quota (qgroups) is not enabled on this filesystem")

type volArgs struct {
	Fd   int64
	Name [4088]byte
}

type volArgsV2 struct {
	Fd      int64
	Transid uint64
	Flags   uint64
	_       [4]uint64 // union: size and qgroup_inherit, unused here
	Name    [4040]byte
}

type fsInfoArgs struct {
	MaxID          uint64
	NumDevices     uint64
	Fsid           [16]byte
	Nodesize       uint32
	Sectorsize     uint32
	CloneAlignment uint32
	CsumType       uint16
	CsumSize       uint16
	Flags          uint64
	Generation     uint64
	MetadataUUID   [16]byte
	_              [944]byte
}

type inoLookupArgs struct {
	Treeid   uint64
	Objectid uint64
	Name     [4080]byte
}

type quotaCtlArgs struct {
	Cmd, Status uint64
}

type qgroupLimitArgs struct {
	Qgroupid                                uint64
	Flags, MaxRfer, MaxExcl, RsvRfer, RsvEx uint64
}

type searchKey struct {
	TreeID                   uint64
	MinObjectID, MaxObjectID uint64
	MinOffset, MaxOffset     uint64
	MinTransid, MaxTransid   uint64
	MinType, MaxType         uint32
	NrItems                  uint32
	_                        uint32
	_                        [4]uint64
}

type searchArgs struct {
	Key searchKey
	Buf [4096 - unsafe.Sizeof(searchKey{})]byte
}

const searchHeaderSize = 32 // transid, objectid, offset (u64); type, len (u32)

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return e
	}
}

// IsBtrfs reports whether fd is on a btrfs filesystem.
func IsBtrfs(fd int) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return false, err
	}
	return st.Type == unix.BTRFS_SUPER_MAGIC, nil
}

// IsSubvolume reports whether fd is the root directory of a btrfs
// subvolume.
func IsSubvolume(fd int) (bool, error) {
	ok, err := IsBtrfs(fd)
	if err != nil || !ok {
		return false, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	return st.Ino == firstFreeObjectID && st.Mode&unix.S_IFMT == unix.S_IFDIR, nil
}

func setName(dst []byte, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) >= len(dst) {
		return fmt.Errorf("btrfs: bad subvolume name %q", name)
	}
	copy(dst, name)
	return nil
}

// CreateSubvolume makes an empty subvolume name in the directory dirfd.
func CreateSubvolume(dirfd int, name string) error {
	var a volArgs
	if err := setName(a.Name[:], name); err != nil {
		return err
	}
	if err := ioctl(dirfd, iocSubvolCreate, unsafe.Pointer(&a)); err != nil {
		return fmt.Errorf("create btrfs subvolume %s: %w", name, err)
	}
	return nil
}

// Snapshot makes name in the directory dirfd a snapshot of the subvolume
// whose root is srcfd: writable, or read-only with readOnly.
func Snapshot(srcfd, dirfd int, name string, readOnly bool) error {
	var a volArgsV2
	if err := setName(a.Name[:], name); err != nil {
		return err
	}
	a.Fd = int64(srcfd)
	if readOnly {
		a.Flags = subvolRdonly
	}
	if err := ioctl(dirfd, iocSnapCreateV2, unsafe.Pointer(&a)); err != nil {
		return fmt.Errorf("btrfs snapshot %s: %w", name, err)
	}
	return nil
}

// SetReadOnly sets or clears the read-only flag of the subvolume whose
// root is fd.
func SetReadOnly(fd int, ro bool) error {
	var flags uint64
	if err := ioctl(fd, iocSubvolGetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("btrfs subvolume flags: %w", err)
	}
	if ro {
		flags |= subvolRdonly
	} else {
		flags &^= subvolRdonly
	}
	if err := ioctl(fd, iocSubvolSetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("btrfs subvolume read-only=%v: %w", ro, err)
	}
	return nil
}

// ReadOnly reports whether the subvolume whose root is fd is read-only.
func ReadOnly(fd int) (bool, error) {
	var flags uint64
	if err := ioctl(fd, iocSubvolGetflags, unsafe.Pointer(&flags)); err != nil {
		return false, fmt.Errorf("btrfs subvolume flags: %w", err)
	}
	return flags&subvolRdonly != 0, nil
}

// SubvolumeID is the id (tree id) of the subvolume fd is in.
func SubvolumeID(fd int) (uint64, error) {
	a := inoLookupArgs{Objectid: firstFreeObjectID}
	if err := ioctl(fd, iocInoLookup, unsafe.Pointer(&a)); err != nil {
		return 0, fmt.Errorf("btrfs subvolume id: %w", err)
	}
	return a.Treeid, nil
}

// FSID is the UUID of the btrfs filesystem fd is on, as sysfs names it.
func FSID(fd int) (string, error) {
	var a fsInfoArgs
	if err := ioctl(fd, iocFsInfo, unsafe.Pointer(&a)); err != nil {
		return "", fmt.Errorf("btrfs filesystem info: %w", err)
	}
	u := a.Fsid
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}

// children are the ids of the subvolumes directly inside subvolume id,
// from the ROOT_REF items of the root tree.
func children(fd int, id uint64) ([]uint64, error) {
	var out []uint64
	var a searchArgs
	a.Key = searchKey{
		TreeID: rootTreeObjectID, MinObjectID: id, MaxObjectID: id,
		MinType: rootRefKey, MaxType: rootRefKey,
		MaxOffset: ^uint64(0), MaxTransid: ^uint64(0),
	}
	for {
		a.Key.NrItems = 4096
		if err := ioctl(fd, iocTreeSearch, unsafe.Pointer(&a)); err != nil {
			return nil, fmt.Errorf("btrfs tree search: %w", err)
		}
		n := a.Key.NrItems
		if n == 0 {
			return out, nil
		}
		buf := a.Buf[:]
		last := uint64(0)
		for i := uint32(0); i < n; i++ {
			if len(buf) < searchHeaderSize {
				return nil, errors.New("btrfs tree search: short result")
			}
			objectid := binary.NativeEndian.Uint64(buf[8:])
			offset := binary.NativeEndian.Uint64(buf[16:])
			typ := binary.NativeEndian.Uint32(buf[24:])
			l := binary.NativeEndian.Uint32(buf[28:])
			if uint64(l) > uint64(len(buf)-searchHeaderSize) {
				return nil, errors.New("btrfs tree search: short item")
			}
			buf = buf[searchHeaderSize+int(l):]
			if objectid == id && typ == rootRefKey {
				out = append(out, offset)
			}
			last = offset
		}
		if last == ^uint64(0) {
			return out, nil
		}
		a.Key.MinOffset = last + 1
	}
}

// destroyByID deletes subvolume id and, first, those nested in it.
func destroyByID(fd int, id uint64, depth int) error {
	if depth > 256 {
		return errors.New("btrfs: subvolumes nested too deep")
	}
	kids, err := children(fd, id)
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := destroyByID(fd, k, depth+1); err != nil {
			return err
		}
	}
	var a volArgsV2
	a.Flags = subvolSpecByID
	binary.NativeEndian.PutUint64(a.Name[:], id)
	if err := ioctl(fd, iocSnapDestroyV2, unsafe.Pointer(&a)); err != nil {
		return fmt.Errorf("delete nested btrfs subvolume %d: %w", id, err)
	}
	return nil
}

// Delete deletes the subvolume name in the directory dirfd, with every
// subvolume nested in it (found by id, never by a name inside it).
func Delete(dirfd int, name string) error {
	if err := setName(make([]byte, 4040), name); err != nil {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("delete btrfs subvolume %s: %w", name, err)
	}
	ok, err := IsSubvolume(fd)
	if err == nil && !ok {
		err = errors.New("not a btrfs subvolume")
	}
	var id uint64
	if err == nil {
		id, err = SubvolumeID(fd)
	}
	var kids []uint64
	if err == nil {
		kids, err = children(fd, id)
	}
	for _, k := range kids {
		if err == nil {
			err = destroyByID(fd, k, 1)
		}
	}
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("delete btrfs subvolume %s: %w", name, err)
	}
	var a volArgs
	copy(a.Name[:], name)
	if err := ioctl(dirfd, iocSnapDestroy, unsafe.Pointer(&a)); err != nil {
		return fmt.Errorf("delete btrfs subvolume %s: %w", name, err)
	}
	return nil
}

// EnableQuota turns qgroups on for the filesystem fd is on and waits for
// the rescan that counts what is already there.
func EnableQuota(fd int) error {
	a := quotaCtlArgs{Cmd: quotaCtlEnable}
	if err := ioctl(fd, iocQuotaCtl, unsafe.Pointer(&a)); err != nil {
		return fmt.Errorf("enable btrfs quota: %w", err)
	}
	if err := ioctl(fd, iocQuotaRescanWait, nil); err != nil {
		return fmt.Errorf("wait for the btrfs quota rescan: %w", err)
	}
	return nil
}

// SetLimit limits the referenced bytes of the subvolume whose root is fd
// (its level-0 qgroup) to maxRfer; 0 removes the limit.
//
// The ioctl goes through the subvolume's parent directory, naming the
// qgroup by id: the kernel joins a transaction on the root of the fd it
// is given, and on a subvolume already at its limit that can fail with
// EDQUOT — the very subvolume whose limit is being raised.
func SetLimit(fd int, maxRfer uint64) error {
	id, err := SubvolumeID(fd)
	if err != nil {
		return err
	}
	a := qgroupLimitArgs{Qgroupid: id, Flags: limitMaxRfer, MaxRfer: maxRfer}
	if maxRfer == 0 {
		a.MaxRfer = clearValue
	}
	via := fd
	// ".." of a subvolume's root is a directory of its parent's tree —
	// unless the subvolume is a mount's root, where ".." leaves it (and
	// perhaps the filesystem): then the subvolume itself carries the call.
	if parent, err := unix.Openat(fd, "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		defer unix.Close(parent)
		same, err := sameFilesystem(fd, parent)
		if err == nil && same {
			via = parent
		}
	}
	err = ioctl(via, iocQgroupLimit, unsafe.Pointer(&a))
	if errors.Is(err, unix.ENOTCONN) {
		return ErrQuotaDisabled
	}
	if err != nil {
		return fmt.Errorf("set btrfs qgroup limit: %w", err)
	}
	return nil
}

// sameFilesystem tells whether a and b are on one btrfs filesystem.
func sameFilesystem(a, b int) (bool, error) {
	fa, err := FSID(a)
	if err != nil {
		return false, err
	}
	fb, err := FSID(b)
	if err != nil {
		return false, err
	}
	return fa == fb, nil
}

// Qgroup is the accounting of a subvolume's level-0 qgroup.
type Qgroup struct {
	Referenced    uint64 // bytes its tree references, shared or not
	MaxReferenced uint64 // its limit; 0 when none
}

// Usage reads the qgroup of the subvolume whose root is fd from sysfs
// (/sys/fs/btrfs/UUID/qgroups/0_ID); ErrQuotaDisabled when quota is off.
func Usage(fd int) (Qgroup, error) {
	var q Qgroup
	uuid, err := FSID(fd)
	if err != nil {
		return q, err
	}
	id, err := SubvolumeID(fd)
	if err != nil {
		return q, err
	}
	base := filepath.Join("/sys/fs/btrfs", uuid, "qgroups")
	if _, err := os.Stat(base); errors.Is(err, os.ErrNotExist) {
		return q, ErrQuotaDisabled
	}
	dir := filepath.Join(base, "0_"+strconv.FormatUint(id, 10))
	read := func(name string) (uint64, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return 0, fmt.Errorf("btrfs qgroup 0/%d: %w", id, err)
		}
		return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}
	if q.Referenced, err = read("referenced"); err != nil {
		return q, err
	}
	flags, err := read("limit_flags")
	if err != nil {
		return q, err
	}
	if flags&limitMaxRfer != 0 {
		if q.MaxReferenced, err = read("max_referenced"); err != nil {
			return q, err
		}
	}
	return q, nil
}
