package installer

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// Default limits; a minbase Debian root is ~80 MB in ~8,000 entries, the
// largest Debian packages unpack to a few GiB.
const (
	DefaultMaxEntries    = 1 << 20
	DefaultMaxFileBytes  = 8 << 30
	DefaultMaxTotalBytes = 32 << 30
	maxPathLen           = 4096 // PATH_MAX
	xattrPrefix          = "SCHILY.xattr."
)

// ErrUnsafePath is wrapped by errors for entry names or link targets that
// would leave the root.
var ErrUnsafePath = errors.New("unsafe path in archive")

// ErrLimit is wrapped by errors for archives over a size or count limit.
var ErrLimit = errors.New("archive exceeds limit")

// Options tunes one extraction. The zero value is ready to use.
type Options struct {
	MaxEntries    int   // entries per archive; 0 = DefaultMaxEntries
	MaxFileBytes  int64 // bytes of one regular file; 0 = DefaultMaxFileBytes
	MaxTotalBytes int64 // bytes of all regular files; 0 = DefaultMaxTotalBytes
	// IgnoreOwner skips lchown (for unprivileged callers); owners in the
	// archive are numeric and kept otherwise.
	IgnoreOwner bool
}

// Result describes what one archive put into the root.
type Result struct {
	// Paths are the entries in archive order as absolute paths inside the
	// root ("/", "/usr", "/usr/bin/true"), the form of dpkg's info/*.list.
	Paths []string
	Bytes int64 // regular file content written
}

// Root is an open root directory that archives are extracted into. It is
// safe for concurrent use by several Extract calls (packages unpacked in
// parallel), provided they do not write the same paths.
type Root struct {
	dir *os.File
}

// OpenRoot opens dir, which must exist, as an extraction root.
func OpenRoot(dir string) (*Root, error) {
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("installer: open root: %w", err)
	}
	return &Root{dir: f}, nil
}

// Close releases the root handle.
func (r *Root) Close() error { return r.dir.Close() }

// tmpSeq makes temporary names unique across concurrent extractions.
var tmpSeq atomic.Uint64

func tmpName() string {
	return fmt.Sprintf(".vzkit-tmp.%d.%d", os.Getpid(), tmpSeq.Add(1))
}

// CleanName turns an archive entry name into a path relative to the root
// ("" for the root itself). A leading "/" is dropped (contained, as tar
// does); a ".." component, a NUL byte or an over-long name is refused.
func CleanName(name string) (string, error) {
	if len(name) > maxPathLen || strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("%w: %q: too long or contains NUL", ErrUnsafePath, name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("%w: %q: contains ..", ErrUnsafePath, name)
		}
	}
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/"), nil
}

// Extract writes every entry of tr into the root. On error the root holds
// the entries written so far; callers build into a temporary root and
// discard it on failure.
func (r *Root) Extract(ctx context.Context, tr *tar.Reader, opts Options) (Result, error) {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	if opts.MaxTotalBytes <= 0 {
		opts.MaxTotalBytes = DefaultMaxTotalBytes
	}
	x := extraction{root: r, opts: opts, parents: map[string]*os.File{}}
	defer x.closeParents()
	var res Result
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, fmt.Errorf("installer: read tar after %d entries: %w", n, err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // archive-wide PAX defaults, not a file
		}
		if len(res.Paths) >= opts.MaxEntries {
			return res, fmt.Errorf("installer: %w: more than %d entries", ErrLimit, opts.MaxEntries)
		}
		rel, err := CleanName(hdr.Name)
		if err != nil {
			return res, fmt.Errorf("installer: entry %d: %w", n, err)
		}
		written, err := x.entry(hdr, rel, tr, opts.MaxTotalBytes-res.Bytes)
		res.Bytes += written
		if err != nil {
			return res, fmt.Errorf("installer: %s: %w", "/"+rel, err)
		}
		res.Paths = append(res.Paths, "/"+rel)
	}
	if err := x.finishDirs(); err != nil {
		return res, err
	}
	return res, nil
}

type extraction struct {
	root *Root
	opts Options
	// parents caches handles of parent directories by relative path:
	// entries of one directory come together, and each lookup is a
	// RESOLVE_IN_ROOT walk. A cached handle stays inside the root even if
	// the name is later replaced, so the cache cannot be used to escape.
	parents map[string]*os.File
	dirs    []dirTimes
}

type dirTimes struct {
	rel   string
	mtime time.Time
}

func (x *extraction) closeParents() {
	for _, f := range x.parents {
		f.Close()
	}
}

// parent returns a handle to directory rel (relative to the root), creating
// missing directories (mode 0755) the way tar does.
func (x *extraction) parent(rel string) (*os.File, error) {
	if f, ok := x.parents[rel]; ok {
		return f, nil
	}
	if len(x.parents) > 256 {
		x.closeParents()
		clear(x.parents)
	}
	f, err := pathrs.OpenatInRoot(x.root.dir, rel)
	if errors.Is(err, unix.ENOENT) {
		f, err = pathrs.MkdirAllHandle(x.root.dir, rel, 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("open parent %q in root: %w", rel, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		f.Close()
		return nil, fmt.Errorf("parent %q is not a directory", rel)
	}
	x.parents[rel] = f
	return f, nil
}

func (x *extraction) entry(hdr *tar.Header, rel string, r io.Reader, budget int64) (int64, error) {
	if rel == "" { // "./": the root itself; keep its metadata.
		if hdr.Typeflag != tar.TypeDir {
			return 0, fmt.Errorf("%w: non-directory entry for the root", ErrUnsafePath)
		}
		return 0, nil
	}
	dirRel, base := path.Split(rel)
	dirRel = strings.TrimSuffix(dirRel, "/")
	pf, err := x.parent(dirRel)
	if err != nil {
		return 0, err
	}
	pfd := int(pf.Fd())
	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		return 0, x.dir(pfd, rel, base, hdr, mode)
	case tar.TypeReg, tar.TypeRegA:
		return x.file(pfd, base, hdr, mode, r, budget)
	case tar.TypeSymlink:
		if len(hdr.Linkname) > maxPathLen || strings.IndexByte(hdr.Linkname, 0) >= 0 || hdr.Linkname == "" {
			return 0, fmt.Errorf("%w: bad symlink target %q", ErrUnsafePath, hdr.Linkname)
		}
		// Written as-is: it is resolved inside the root later, never
		// followed while extracting.
		return 0, x.place(pfd, base, hdr, 0, func(tmp string) error {
			return unix.Symlinkat(hdr.Linkname, pfd, tmp)
		})
	case tar.TypeLink:
		return 0, x.hardlink(pfd, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		return 0, x.place(pfd, base, hdr, mode, func(tmp string) error {
			return unix.Mknodat(pfd, tmp, kind|0o600, int(dev))
		})
	default:
		return 0, fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
}

// dir creates a directory or accepts an existing one (dpkg semantics); an
// existing symlink to a directory inside the root (merged /usr: /bin ->
// usr/bin) is kept as tar --keep-directory-symlink does.
func (x *extraction) dir(pfd int, rel, base string, hdr *tar.Header, mode uint32) error {
	err := unix.Mkdirat(pfd, base, 0o700)
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
		case unix.S_IFLNK:
			f, err := pathrs.OpenatInRoot(x.root.dir, rel)
			if err != nil {
				return fmt.Errorf("directory over symlink: %w", err)
			}
			defer f.Close()
			if err := unix.Fstat(int(f.Fd()), &st); err != nil {
				return err
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return fmt.Errorf("directory over a symlink to a non-directory")
			}
			return nil
		default:
			return fmt.Errorf("directory over an existing non-directory")
		}
	} else if err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := x.meta(fd, hdr, mode); err != nil {
		return err
	}
	x.dirs = append(x.dirs, dirTimes{rel: rel, mtime: hdr.ModTime})
	return nil
}

// file writes a regular file under a temporary name and renames it in.
func (x *extraction) file(pfd int, base string, hdr *tar.Header, mode uint32, r io.Reader, budget int64) (int64, error) {
	if hdr.Size > x.opts.MaxFileBytes {
		return 0, fmt.Errorf("%w: file of %d bytes (max %d)", ErrLimit, hdr.Size, x.opts.MaxFileBytes)
	}
	if hdr.Size > budget {
		return 0, fmt.Errorf("%w: archive content over %d bytes", ErrLimit, x.opts.MaxTotalBytes)
	}
	tmp := tmpName()
	fd, err := unix.Openat(pfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, err
	}
	f := os.NewFile(uintptr(fd), tmp)
	n, err := io.Copy(f, io.LimitReader(r, hdr.Size))
	if err == nil && n != hdr.Size {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		err = x.meta(fd, hdr, mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = x.rename(pfd, tmp, base, hdr)
	}
	if err != nil {
		unix.Unlinkat(pfd, tmp, 0)
	}
	return n, err
}

func (x *extraction) hardlink(pfd int, base string, hdr *tar.Header) error {
	target, err := CleanName(hdr.Linkname)
	if err != nil || target == "" {
		return fmt.Errorf("%w: hardlink target %q", ErrUnsafePath, hdr.Linkname)
	}
	tdir, tbase := path.Split(target)
	tpf, err := x.parent(strings.TrimSuffix(tdir, "/"))
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
	}
	tmp := tmpName()
	// flags 0: a symlink target is linked itself, never followed.
	if err := unix.Linkat(int(tpf.Fd()), tbase, pfd, tmp, 0); err != nil {
		return fmt.Errorf("hardlink to %q: %w", hdr.Linkname, err)
	}
	if err := unix.Renameat(pfd, tmp, pfd, base); err != nil {
		unix.Unlinkat(pfd, tmp, 0)
		return fmt.Errorf("rename into place: %w", err)
	}
	return nil
}

// place creates a non-regular, non-directory entry under a temporary name
// with mk, applies metadata by name (without following it) and renames it
// into place.
func (x *extraction) place(pfd int, base string, hdr *tar.Header, mode uint32, mk func(tmp string) error) error {
	tmp := tmpName()
	if err := mk(tmp); err != nil {
		return err
	}
	err := x.metaAt(pfd, tmp, hdr, mode)
	if err == nil {
		err = x.rename(pfd, tmp, base, hdr)
	}
	if err != nil {
		unix.Unlinkat(pfd, tmp, 0)
	}
	return err
}

func (x *extraction) rename(pfd int, tmp, base string, hdr *tar.Header) error {
	if err := unix.Renameat(pfd, tmp, pfd, base); err != nil {
		if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("non-directory over an existing directory: %w", err)
		}
		return fmt.Errorf("rename into place: %w", err)
	}
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// meta applies owner, mode and xattrs to an open file or directory.
func (x *extraction) meta(fd int, hdr *tar.Header, mode uint32) error {
	if !x.opts.IgnoreOwner {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown %d:%d: %w", hdr.Uid, hdr.Gid, err)
		}
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod %o: %w", mode, err)
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, xattrPrefix); ok {
			if err := unix.Fsetxattr(fd, name, []byte(v), 0); err != nil {
				return fmt.Errorf("set xattr %s: %w", name, err)
			}
		}
	}
	return nil
}

// metaAt applies owner, mode (not for symlinks) and xattrs to name in
// directory pfd without following it.
func (x *extraction) metaAt(pfd int, name string, hdr *tar.Header, mode uint32) error {
	if !x.opts.IgnoreOwner {
		if err := unix.Fchownat(pfd, name, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %d:%d: %w", hdr.Uid, hdr.Gid, err)
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// Device nodes and fifos: Fchmodat follows symlinks, but name was
		// just created by mknodat under a unique temporary name.
		if err := unix.Fchmodat(pfd, name, mode, 0); err != nil {
			return fmt.Errorf("chmod %o: %w", mode, err)
		}
	}
	for k, v := range hdr.PAXRecords {
		if xname, ok := strings.CutPrefix(k, xattrPrefix); ok {
			p := fmt.Sprintf("/proc/self/fd/%d/%s", pfd, name)
			if err := unix.Lsetxattr(p, xname, []byte(v), 0); err != nil {
				return fmt.Errorf("set xattr %s: %w", xname, err)
			}
		}
	}
	return nil
}

// finishDirs sets directory times deepest first, after their contents.
func (x *extraction) finishDirs() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		dirRel, base := path.Split(d.rel)
		pf, err := x.parent(strings.TrimSuffix(dirRel, "/"))
		if err != nil {
			return fmt.Errorf("installer: %s: %w", "/"+d.rel, err)
		}
		ts := []unix.Timespec{unix.NsecToTimespec(d.mtime.UnixNano()), unix.NsecToTimespec(d.mtime.UnixNano())}
		if err := unix.UtimesNanoAt(int(pf.Fd()), base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("installer: %s: set times: %w", "/"+d.rel, err)
		}
	}
	return nil
}
