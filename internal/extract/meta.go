package extract

import (
	"archive/tar"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// meta is what is applied to every created object.
type meta struct {
	name   string // cleaned, relative to the destination ("." for it)
	entry  string // as the archive names it, for messages
	mode   uint32 // permission bits incl. setuid/setgid/sticky
	uid    int
	gid    int
	mtime  time.Time
	xattrs map[string]string
}

func newMeta(hdr *tar.Header, name string) meta {
	m := meta{name: name, entry: hdr.Name, mode: uint32(hdr.Mode) & 0o7777, uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime}
	for k, v := range hdr.PAXRecords {
		if attr, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if m.xattrs == nil {
				m.xattrs = map[string]string{}
			}
			m.xattrs[attr] = v
		}
	}
	return m
}

// setMetaFd applies owner, mode, xattrs and mtime to an open file or
// directory, in the order that keeps them: chown clears setuid bits and
// file capabilities, so it goes first. The fstat skips the calls that would
// change nothing (most new files already have the right owner and mode).
func (x *extractor) setMetaFd(fd int, m meta) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	chowned := false
	if x.chown && (int(st.Uid) != m.uid || int(st.Gid) != m.gid) {
		if err := unix.Fchown(fd, m.uid, m.gid); err != nil {
			return fmt.Errorf("chown %d:%d: %w", m.uid, m.gid, err)
		}
		chowned = true
	}
	if st.Mode&0o7777 != m.mode || chowned && m.mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		if err := unix.Fchmod(fd, m.mode); err != nil {
			return fmt.Errorf("chmod %o: %w", m.mode, err)
		}
	}
	if err := x.setXattrs(m, func(attr string, val []byte) error { return unix.Fsetxattr(fd, attr, val, 0) }); err != nil {
		return err
	}
	ts := timespecs(m.mtime)
	// utimensat with a NULL path acts on the descriptor (futimens).
	if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); e != 0 {
		return fmt.Errorf("set mtime: %w", e)
	}
	return nil
}

// setMetaAt applies metadata to a symlink or special file by name in pfd,
// never following a symlink there.
func (x *extractor) setMetaAt(pfd int, base string, m meta, symlink bool) error {
	if x.chown {
		if err := unix.Fchownat(pfd, base, m.uid, m.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %d:%d: %w", m.uid, m.gid, err)
		}
	}
	if !symlink {
		if err := chmodNode(pfd, base, m.mode); err != nil {
			return fmt.Errorf("chmod %o: %w", m.mode, err)
		}
	}
	// The /proc path reaches the entry through the already resolved parent;
	// lsetxattr does not follow the last component.
	procPath := "/proc/self/fd/" + strconv.Itoa(pfd) + "/" + base
	if err := x.setXattrs(m, func(attr string, val []byte) error { return unix.Lsetxattr(procPath, attr, val, 0) }); err != nil {
		return err
	}
	ts := timespecs(m.mtime)
	if err := unix.UtimesNanoAt(pfd, base, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set mtime: %w", err)
	}
	return nil
}

// chmodNode sets the mode of the FIFO or device node base in pfd.
// fchmodat would follow a symlink that another extraction into the same
// root put there meanwhile; the O_PATH handle pins an object checked not to
// be one, and chmod through its /proc link reaches that object only.
func chmodNode(pfd int, base string, mode uint32) error {
	fd, err := unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return errors.New("replaced by a symlink while extracting")
	}
	return unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode)
}

// setXattrs sets m's xattrs with set, in a fixed order. Without chown only
// user.* can be set by the process, so the others are left out.
func (x *extractor) setXattrs(m meta, set func(attr string, val []byte) error) error {
	for _, attr := range slices.Sorted(maps.Keys(m.xattrs)) {
		if !x.chown && !strings.HasPrefix(attr, "user.") {
			continue
		}
		err := set(attr, []byte(m.xattrs[attr]))
		if err == nil {
			continue
		}
		if x.policy.SkipUnsupportedXattrs && errors.Is(err, unix.EOPNOTSUPP) && attr != "security.capability" {
			slog.Warn("extract: xattr not supported by the destination file system, skipped", "xattr", attr, "entry", m.entry)
			continue
		}
		return fmt.Errorf("set xattr %s: %w", attr, err)
	}
	return nil
}

// finishDirs applies directory metadata in reverse archive order, so a
// directory comes after the directories inside it.
func (x *extractor) finishDirs() error {
	for _, m := range slices.Backward(x.dirs) {
		fd, err := openIn(x.root, m.name, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW})
		if x.policy.ReplaceMismatched && (errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR)) {
			continue // a later entry replaced the directory
		}
		if err != nil {
			return fmt.Errorf("extract: directory %q: %w", m.entry, err)
		}
		err = x.setMetaFd(fd, m)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("extract: directory %q: %w", m.entry, err)
		}
	}
	return nil
}

func timespecs(t time.Time) [2]unix.Timespec {
	ts := unix.NsecToTimespec(t.UnixNano())
	return [2]unix.Timespec{ts, ts}
}
