package saferoot

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNotRegular is wrapped by errors for a name that must be a regular file
// and is something else (a symlink, a FIFO, a device node, a directory).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by errors for a file over the read limit.
var ErrTooLarge = errors.New("larger than the limit")

// Identity is a host uid and gid that operations run as (fsuid, fsgid).
type Identity struct {
	UID, GID int
}

// Option tunes Open.
type Option func(*Root)

// As makes every operation run with id's fsuid and fsgid and no
// supplementary groups (see the package doc).
func As(id Identity) Option { return func(r *Root) { r.as = &id } }

// CrossMounts lets lookups cross into other mounts below the root, as a
// running container's root seen through /proc/PID/root has them (its own
// /run, /proc, /dev). Without it a mount point is a dead end.
func CrossMounts() Option { return func(r *Root) { r.resolve &^= unix.RESOLVE_NO_XDEV } }

// Root is an open untrusted directory tree. It is safe for concurrent use.
type Root struct {
	dir     *os.File // O_PATH directory handle
	path    string
	as      *Identity
	resolve uint64
}

// Open opens the directory at path as a root. path is the caller's own
// (a host directory, or /proc/PID/root, whose magic link is followed):
// only what is below it is untrusted.
func Open(path string, opts ...Option) (*Root, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", path, err)
	}
	r := &Root{
		dir:     os.NewFile(uintptr(fd), path),
		path:    path,
		resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// Close releases the root handle.
func (r *Root) Close() error { return r.dir.Close() }

// Path is the host path the root was opened at (for messages).
func (r *Root) Path() string { return r.path }

// rel cleans a name to a path relative to the root ("" is the root).
func rel(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 || len(name) > unix.PathMax {
		return "", fmt.Errorf("bad name %q", name)
	}
	return strings.TrimPrefix(path.Clean("/"+name), "/"), nil
}

// split returns the directory and last component of name; the root
// itself has no last component and is refused.
func split(name string) (dir, base string, err error) {
	p, err := rel(name)
	if err != nil {
		return "", "", err
	}
	if p == "" {
		return "", "", errors.New("the root itself")
	}
	dir, base = path.Split(p)
	return strings.TrimSuffix(dir, "/"), base, nil
}

func wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	p, _ := rel(name)
	return &fs.PathError{Op: op, Path: "/" + p, Err: err}
}

// do runs f with the root's identity: on a locked thread with changed
// fsuid/fsgid that is never handed back (it ends with the goroutine).
func (r *Root) do(f func() error) error {
	if r.as == nil {
		return f()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread exits with us
		if err := unix.Setgroups(nil); err != nil {
			errc <- fmt.Errorf("drop supplementary groups: %w", err)
			return
		}
		unix.Setfsgid(r.as.GID)
		unix.Setfsuid(r.as.UID)
		// setfsuid reports no error; read the values back instead.
		if uid, _ := unix.SetfsuidRetUid(-1); uid != r.as.UID {
			errc <- fmt.Errorf("setfsuid %d: still %d", r.as.UID, uid)
			return
		}
		if gid, _ := unix.SetfsgidRetGid(-1); gid != r.as.GID {
			errc <- fmt.Errorf("setfsgid %d: still %d", r.as.GID, gid)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// openat2 resolves name below dirfd with the root's resolve flags; the
// kernel answers EAGAIN when a rename raced with the lookup, which is then
// repeated.
func (r *Root) openat2(dirfd int, name string, flags uint64, mode uint64) (int, error) {
	if name == "" {
		name = "."
	}
	how := &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Mode: mode, Resolve: r.resolve}
	for range 64 {
		fd, err := unix.Openat2(dirfd, name, how)
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// parent calls f with an O_PATH handle of name's directory (resolved
// inside the root) and name's last component.
func (r *Root) parent(name string, f func(pfd int, base string) error) error {
	dir, base, err := split(name)
	if err != nil {
		return err
	}
	pfd, err := r.openDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	return f(pfd, base)
}

// inParent is parent with the root's identity.
func (r *Root) inParent(name string, f func(pfd int, base string) error) error {
	return r.do(func() error { return r.parent(name, f) })
}

// openDir returns an O_PATH handle of directory dir (symlinks on the way
// resolved inside the root).
func (r *Root) openDir(dir string) (int, error) {
	fd, err := r.openat2(int(r.dir.Fd()), dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, err
	}
	return fd, nil
}

// openPath returns an O_PATH handle of name itself (a final symlink is not
// followed) and its stat.
func (r *Root) openPath(name string) (*os.File, unix.Stat_t, error) {
	var st unix.Stat_t
	p, err := rel(name)
	if err != nil {
		return nil, st, err
	}
	fd, err := r.openat2(int(r.dir.Fd()), p, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, st, err
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, st, err
	}
	return os.NewFile(uintptr(fd), p), st, nil
}

// FileKind names the file type of a stat mode for messages.
func FileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "FIFO"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFSOCK:
		return "socket"
	}
	return "unknown file type"
}

// NotRegularError is the error for a name that is not a regular file; it
// matches ErrNotRegular with errors.Is and says what the name is.
type NotRegularError struct {
	Kind string // "symlink", "FIFO", "character device", "directory", ...
}

func (e *NotRegularError) Error() string   { return fmt.Sprintf("%v: it is a %s", ErrNotRegular, e.Kind) }
func (e *NotRegularError) Is(t error) bool { return t == ErrNotRegular }

func notRegular(st unix.Stat_t) error { return &NotRegularError{Kind: FileKind(st.Mode)} }

// openRegular opens name for reading (flags added to O_RDONLY) after
// checking, without opening it, that it is a regular file.
func (r *Root) openRegular(name string, flags int) (*os.File, error) {
	h, st, err := r.openPath(name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, notRegular(st)
	}
	return reopen(h, flags)
}

// reopen opens the file an O_PATH handle holds, through its /proc entry
// (the host's /proc, trusted), with flags plus O_NONBLOCK and O_NOCTTY.
func reopen(h *os.File, flags int) (*os.File, error) {
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", h.Fd()), flags|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), h.Name()), nil
}

// Open opens the regular file name for reading; the caller bounds what it
// reads.
func (r *Root) Open(name string) (f *os.File, err error) {
	err = r.do(func() error {
		f, err = r.openRegular(name, unix.O_RDONLY)
		return err
	})
	return f, wrap("open", name, err)
}

// ReadFile reads the regular file name, at most max bytes.
func (r *Root) ReadFile(name string, max int64) (data []byte, err error) {
	err = r.do(func() error {
		f, err := r.openRegular(name, unix.O_RDONLY)
		if err != nil {
			return err
		}
		defer f.Close()
		data, err = readLimited(f, max)
		return err
	})
	return data, wrap("read", name, err)
}

func readLimited(f *os.File, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w of %d bytes", ErrTooLarge, max)
	}
	return data, nil
}

// tmpName is a name nothing in the tree can have guessed in advance.
func tmpName() string {
	var b [12]byte
	rand.Read(b[:])
	return ".vzkit-" + hex.EncodeToString(b[:])
}

// WriteFile replaces name with a new regular file holding data, mode perm
// (umask not applied): a new file under an unpredictable name, created with
// O_EXCL next to name and renamed over it. Whatever name was (a symlink, a
// FIFO, a device node) is replaced, not written through; a directory there
// is an error.
func (r *Root) WriteFile(name string, data []byte, perm os.FileMode) error {
	return wrap("write", name, r.inParent(name, func(pfd int, base string) error {
		tmp := tmpName()
		fd, err := unix.Openat(pfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), tmp)
		_, err = f.Write(data)
		if err == nil {
			err = unix.Fchmod(fd, unixMode(perm))
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = unix.Renameat(pfd, tmp, pfd, base)
		}
		if err != nil {
			unix.Unlinkat(pfd, tmp, 0)
		}
		return err
	}))
}

// Create creates name, which must not exist (O_EXCL, a symlink there
// counts as existing), for writing, with mode perm (umask not applied).
func (r *Root) Create(name string, perm os.FileMode) (f *os.File, err error) {
	err = r.inParent(name, func(pfd int, base string) error {
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		if err := unix.Fchmod(fd, unixMode(perm)); err != nil {
			unix.Close(fd)
			unix.Unlinkat(pfd, base, 0)
			return err
		}
		f = os.NewFile(uintptr(fd), name)
		return nil
	})
	return f, wrap("create", name, err)
}

// Mkdir creates directory name with mode perm (umask not applied, the
// sticky bit allowed).
func (r *Root) Mkdir(name string, perm os.FileMode) error {
	return wrap("mkdir", name, r.do(func() error { return r.mkdir(name, perm) }))
}

func (r *Root) mkdir(name string, perm os.FileMode) error {
	return r.parent(name, func(pfd int, base string) error { return mkdirAt(pfd, base, perm) })
}

func mkdirAt(pfd int, base string, perm os.FileMode) error {
	if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fchmod(fd, unixMode(perm))
}

// unixMode takes both Go's mode bits and raw Unix ones (0o1777) for the
// special bits.
func unixMode(m os.FileMode) uint32 {
	mode := uint32(m) & 0o7777
	if m&os.ModeSticky != 0 {
		mode |= unix.S_ISVTX
	}
	if m&os.ModeSetgid != 0 {
		mode |= unix.S_ISGID
	}
	if m&os.ModeSetuid != 0 {
		mode |= unix.S_ISUID
	}
	return mode
}

// MkdirAll creates name and its missing parents with mode perm; existing
// directories (or symlinks to directories inside the root) are left as
// they are, anything else in the way is an error.
func (r *Root) MkdirAll(name string, perm os.FileMode) error {
	return wrap("mkdir", name, r.do(func() error {
		p, err := rel(name)
		if err != nil || p == "" {
			return err
		}
		parts := strings.Split(p, "/")
		for i := range parts {
			sub := strings.Join(parts[:i+1], "/")
			fd, err := r.openDir(sub)
			if err == nil {
				unix.Close(fd)
				continue
			}
			if !errors.Is(err, unix.ENOENT) {
				return err
			}
			if err := r.mkdir(sub, perm); err != nil && !errors.Is(err, unix.EEXIST) {
				return err
			}
		}
		return nil
	}))
}

// Lstat describes name itself (a final symlink is not followed).
func (r *Root) Lstat(name string) (st unix.Stat_t, err error) {
	err = r.do(func() error {
		h, s, err := r.openPath(name)
		if err != nil {
			return err
		}
		h.Close()
		st = s
		return nil
	})
	return st, wrap("lstat", name, err)
}

// Exists reports whether name exists (as anything, a dangling symlink too).
func (r *Root) Exists(name string) (bool, error) {
	_, err := r.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Readlink returns the target of the symlink name.
func (r *Root) Readlink(name string) (target string, err error) {
	err = r.do(func() error {
		h, st, err := r.openPath(name)
		if err != nil {
			return err
		}
		defer h.Close()
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			return fmt.Errorf("not a symlink: it is a %s", FileKind(st.Mode))
		}
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(int(h.Fd()), "", buf)
		if err != nil {
			return err
		}
		target = string(buf[:n])
		return nil
	})
	return target, wrap("readlink", name, err)
}

// Chmod sets the mode of name, which must not be a symlink.
func (r *Root) Chmod(name string, perm os.FileMode) error {
	return wrap("chmod", name, r.do(func() error {
		h, st, err := r.openPath(name)
		if err != nil {
			return err
		}
		defer h.Close()
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return errors.New("is a symlink")
		}
		// chmod through the descriptor's /proc entry acts on the inode the
		// handle holds; the handle itself cannot be used (O_PATH).
		return unix.Chmod(fmt.Sprintf("/proc/self/fd/%d", h.Fd()), unixMode(perm))
	}))
}

// Lchown sets the owner of name itself (a symlink's own owner).
func (r *Root) Lchown(name string, uid, gid int) error {
	return wrap("chown", name, r.inParent(name, func(pfd int, base string) error {
		return unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	}))
}

// Truncate sets the size of the regular file name.
func (r *Root) Truncate(name string, size int64) error {
	return wrap("truncate", name, r.do(func() error {
		f, err := r.openRegular(name, unix.O_WRONLY)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Truncate(size)
	}))
}

// Rename renames oldname to newname, both inside the root; what newname
// was is replaced (a non-empty directory there is an error).
func (r *Root) Rename(oldname, newname string) error {
	return wrap("rename", oldname, r.do(func() error {
		odir, obase, err := split(oldname)
		if err != nil {
			return err
		}
		ndir, nbase, err := split(newname)
		if err != nil {
			return err
		}
		ofd, err := r.openDir(odir)
		if err != nil {
			return err
		}
		defer unix.Close(ofd)
		nfd, err := r.openDir(ndir)
		if err != nil {
			return err
		}
		defer unix.Close(nfd)
		return unix.Renameat(ofd, obase, nfd, nbase)
	}))
}

// Remove removes name (a file of any type, or an empty directory); a
// symlink is removed itself.
func (r *Root) Remove(name string) error {
	return wrap("remove", name, r.inParent(name, func(pfd int, base string) error {
		err := unix.Unlinkat(pfd, base, 0)
		if errors.Is(err, unix.EISDIR) {
			err = unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
		}
		return err
	}))
}

// ReadDir lists the names in directory name (not followed when it is a
// final symlink), unsorted.
func (r *Root) ReadDir(name string) (names []string, err error) {
	err = r.do(func() error {
		p, err := rel(name)
		if err != nil {
			return err
		}
		fd, err := r.openat2(int(r.dir.Fd()), p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), p)
		defer f.Close()
		names, err = f.Readdirnames(-1)
		return err
	})
	return names, wrap("readdir", name, err)
}

// RemoveAll removes name and everything below it; a missing name is not
// an error. It never follows a symlink and never enters another mount.
func (r *Root) RemoveAll(name string) error {
	return wrap("remove", name, r.do(func() error {
		dir, base, err := split(name)
		if err != nil {
			return err
		}
		pfd, err := r.openDir(dir)
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return err
		}
		defer unix.Close(pfd)
		var st unix.Stat_t
		if err := unix.Fstat(int(r.dir.Fd()), &st); err != nil {
			return err
		}
		return removeAllAt(pfd, base, st.Dev, 0)
	}))
}

// RemoveTree removes the host directory tree at path as RemoveAll does
// (no symlink followed, no other mount entered); path itself may be the
// top of an untrusted tree, such as a build root or a private area. A
// missing path is not an error.
func RemoveTree(path string) error {
	r, err := Open(filepath.Dir(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer r.Close()
	return r.RemoveAll(filepath.Base(path))
}

// maxDepth bounds RemoveAll's recursion (and so its descriptors); deeper
// trees than PATH_MAX allows by name are refused.
const maxDepth = 2048

func removeAllAt(pfd int, base string, dev uint64, depth int) error {
	err := unix.Unlinkat(pfd, base, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return err
	}
	if depth > maxDepth {
		return fmt.Errorf("%s: tree deeper than %d levels", base, maxDepth)
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(fd), base)
	defer d.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Dev != dev {
		return fmt.Errorf("%s: a mount point; not removing another file system", base)
	}
	for {
		names, err := d.Readdirnames(1024)
		for _, n := range names {
			if err := removeAllAt(fd, n, dev, depth+1); err != nil {
				return fmt.Errorf("%s/%w", base, err)
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(names) == 0) {
			break
		}
		if err != nil {
			return err
		}
	}
	err = unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// ReadRegularFile reads the host file at path, which outside data named:
// the last component must not be a symlink, the file must be regular (a
// FIFO or device is never opened), at most max bytes.
func ReadRegularFile(path string, max int64) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	h := os.NewFile(uintptr(fd), path)
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &fs.PathError{Op: "open", Path: path, Err: notRegular(st)}
	}
	f, err := reopen(h, unix.O_RDONLY)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer f.Close()
	data, err := readLimited(f, max)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	return data, nil
}

// Usage is what a tree takes on disk: allocated 1K blocks and inodes, each
// hard-linked inode counted once, as a disk quota counts them.
type Usage struct {
	KBlocks uint64
	Inodes  uint64
}

// TreeUsage measures the host directory tree at path (path itself
// included), walking by directory handles like RemoveTree: no symlink is
// followed, no other mount entered (a mount point is not counted), no file
// but a directory is ever opened, so a tree's owner cannot steer the walk
// out of it or make it hang on a FIFO.
func TreeUsage(path string) (Usage, error) {
	var u Usage
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return u, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	d := os.NewFile(uintptr(fd), path)
	defer d.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return u, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	u.add(&st, nil)
	seen := map[[2]uint64]bool{}
	if err := usageAt(d, st.Dev, 0, &u, seen); err != nil {
		return u, fmt.Errorf("disk usage of %s: %w", path, err)
	}
	return u, nil
}

func (u *Usage) add(st *unix.Stat_t, seen map[[2]uint64]bool) {
	if st.Nlink > 1 && st.Mode&unix.S_IFMT != unix.S_IFDIR && seen != nil {
		k := [2]uint64{st.Dev, st.Ino}
		if seen[k] {
			return
		}
		seen[k] = true
	}
	u.Inodes++
	u.KBlocks += uint64(st.Blocks) / 2 // st_blocks counts 512-byte units
}

func usageAt(d *os.File, dev uint64, depth int, u *Usage, seen map[[2]uint64]bool) error {
	if depth > maxDepth {
		return fmt.Errorf("tree deeper than %d levels", maxDepth)
	}
	fd := int(d.Fd())
	for {
		names, err := d.Readdirnames(1024)
		for _, n := range names {
			var st unix.Stat_t
			err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW)
			if errors.Is(err, unix.ENOENT) {
				continue // removed while we looked
			}
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			if st.Dev != dev {
				continue // a mount point: another file system's usage
			}
			u.add(&st, seen)
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				continue
			}
			cfd, err := unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
				continue // replaced by something else while we looked
			}
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			c := os.NewFile(uintptr(cfd), n)
			// Checked again on the handle: the name may have been swapped
			// for a mount point between the stat and the open.
			var cst unix.Stat_t
			err = unix.Fstat(cfd, &cst)
			if err == nil && cst.Dev == dev {
				err = usageAt(c, dev, depth+1, u, seen)
			}
			c.Close()
			if err != nil {
				return fmt.Errorf("%s/%w", n, err)
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(names) == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
