package extract

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/bufpool"
)

// resolveFlags keep every lookup below the destination: ".." stops at it and
// absolute symlinks are taken relative to it, as in a chroot.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// openIn opens name below root with resolveFlags. The kernel answers EAGAIN
// when a rename or mount anywhere raced with a RESOLVE_IN_ROOT lookup; the
// lookup is then simply repeated.
func openIn(root int, name string, how *unix.OpenHow) (int, error) {
	how.Resolve |= resolveFlags
	how.Flags |= unix.O_CLOEXEC
	for range 64 {
		fd, err := unix.Openat2(root, name, how)
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
	return -1, fmt.Errorf("openat2 %q: lookup kept racing with renames: %w", name, unix.EAGAIN)
}

// openDir returns an O_PATH descriptor of directory dir below root, symlinks
// on the way resolved inside it.
func openDir(root int, dir string) (int, error) {
	return openIn(root, dir, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY})
}

// entry creates one archive entry; name is hdr.Name cleaned.
func (x *extractor) entry(hdr *tar.Header, name string, r io.Reader) error {
	if isSkippedDevice(hdr) {
		x.skipDevice(hdr)
		return nil
	}
	m := newMeta(hdr, name)
	// A later entry for the same path replaces the earlier one, so it waits
	// until a worker is done with it.
	if ch, ok := x.pending[name]; ok {
		<-ch
		delete(x.pending, name)
	}
	if err := x.create(hdr, m, r); err != nil {
		return err
	}
	if x.policy.RecordPaths {
		x.res.Paths = append(x.res.Paths, DpkgPath(name))
	}
	return nil
}

func (x *extractor) create(hdr *tar.Header, m meta, r io.Reader) error {
	if m.name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("%w: the top directory must be a directory", ErrUnsafePath)
		}
		if x.policy.RootMetadata {
			x.addDir(m)
		}
		return nil
	}
	if x.lastDir == m.name || strings.HasPrefix(x.lastDir, m.name+"/") {
		x.dropParent() // this entry may replace the cached directory
	}
	dir, base := path.Split(m.name)
	pfd, err := x.parent(strings.TrimSuffix(dir, "/"))
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(pfd, base, m)
	case tar.TypeReg, tar.TypeGNUSparse: // archive/tar reports TypeRegA as TypeReg
		return x.regular(hdr, m, r)
	case tar.TypeLink:
		return x.hardlink(pfd, base, m, hdr.Linkname)
	case tar.TypeSymlink:
		return x.symlink(pfd, base, m, hdr.Linkname)
	case tar.TypeChar, tar.TypeFifo: // block devices are never standard
		return x.mknod(pfd, base, m, hdr)
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
}

// isSkippedDevice reports a device node outside the standard set. Numbers
// beyond 32 bits are outside it too, rather than cut to a standard one.
func isSkippedDevice(hdr *tar.Header) bool {
	if hdr.Typeflag != tar.TypeChar && hdr.Typeflag != tar.TypeBlock {
		return false
	}
	major, minor := uint32(hdr.Devmajor), uint32(hdr.Devminor)
	return int64(major) != hdr.Devmajor || int64(minor) != hdr.Devminor ||
		!StandardDevice(hdr.Typeflag == tar.TypeChar, major, minor)
}

func (x *extractor) skipDevice(hdr *tar.Header) {
	kind := "character"
	if hdr.Typeflag == tar.TypeBlock {
		kind = "block"
	}
	slog.Warn("extract: device node outside the standard set, skipped",
		"entry", hdr.Name, "type", kind, "device", fmt.Sprintf("%d:%d", hdr.Devmajor, hdr.Devminor))
	x.res.SkippedDevices++
}

// regular checks the limits for a regular file and writes it: a small one
// by a worker, a large one streamed here.
func (x *extractor) regular(hdr *tar.Header, m meta, r io.Reader) error {
	if hdr.Size > x.opts.MaxFileBytes {
		return fmt.Errorf("%w: a file of %d bytes exceeds the limit of %d bytes", ErrLimit, hdr.Size, x.opts.MaxFileBytes)
	}
	if x.res.Bytes += hdr.Size; x.res.Bytes > x.opts.MaxTotalBytes {
		return fmt.Errorf("%w: regular file content exceeds the limit of %d bytes", ErrLimit, x.opts.MaxTotalBytes)
	}
	if hdr.Size > smallFile {
		return x.writeFile(m, nil, r, hdr.Size)
	}
	data := bufpool.Get(hdr.Size)[:hdr.Size]
	if _, err := io.ReadFull(r, data); err != nil {
		bufpool.Put(data)
		return fmt.Errorf("read: %w", err)
	}
	done := make(chan struct{})
	x.pending[m.name] = done
	x.jobs <- fileJob{meta: m, data: data, done: done}
	if len(x.pending) >= 1024 {
		x.prunePending()
	}
	return nil
}

// prunePending forgets files that are written, so that the map holds about
// as many names as there are jobs in flight.
func (x *extractor) prunePending() {
	for name, ch := range x.pending {
		select {
		case <-ch:
			delete(x.pending, name)
		default:
		}
	}
}

// mkdirAll creates the missing directories of dir one by one.
func (x *extractor) mkdirAll(dir string) (int, error) {
	parts := strings.Split(dir, "/")
	pfd := x.root
	for i, c := range parts {
		err := unix.Mkdirat(pfd, c, 0o755)
		if pfd != x.root {
			unix.Close(pfd)
		}
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
		// Reopen from the top so that an existing symlink is resolved
		// inside the destination.
		pfd, err = openDir(x.root, strings.Join(parts[:i+1], "/"))
		if err != nil {
			return -1, err
		}
	}
	return pfd, nil
}

func (x *extractor) mkdir(pfd int, base string, m meta) error {
	err := unix.Mkdirat(pfd, base, 0o700)
	if errors.Is(err, unix.EEXIST) {
		var kept bool
		if kept, err = x.overExisting(pfd, base, m); kept {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	// Owner, mode and mtime come last: files created inside would change
	// the mtime, and a read-only mode would stop a non-root extraction.
	x.addDir(m)
	return nil
}

// overExisting decides about a directory entry whose name exists: a
// directory stays (and gets the entry's metadata), a symlink to a
// directory stays under KeepDirSymlinks (kept: its target's metadata is not
// touched), anything else is replaced by a new directory under
// ReplaceMismatched and refused otherwise.
func (x *extractor) overExisting(pfd int, base string, m meta) (kept bool, err error) {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false, err
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return false, nil
	case st.Mode&unix.S_IFMT == unix.S_IFLNK && x.policy.KeepDirSymlinks:
		fd, err := openDir(x.root, m.name)
		if err != nil {
			return false, fmt.Errorf("over a symlink that does not lead to a directory in the destination: %w", err)
		}
		unix.Close(fd)
		return true, nil
	case !x.policy.ReplaceMismatched:
		return false, fmt.Errorf("directory over an existing non-directory (mode %o)", st.Mode)
	}
	return false, x.replace(pfd, base, func() error { return unix.Mkdirat(pfd, base, 0o700) })
}

func (x *extractor) addDir(m meta) {
	if i, ok := x.dirAt[m.name]; ok {
		x.dirs[i] = m
		return
	}
	x.dirAt[m.name] = len(x.dirs)
	x.dirs = append(x.dirs, m)
}

func (x *extractor) hardlink(pfd int, base string, m meta, linkname string) error {
	target, err := x.policy.CleanName(linkname)
	if err != nil {
		return fmt.Errorf("hardlink target: %w", err)
	}
	if target == "." {
		return fmt.Errorf("%w: hardlink to the top directory", ErrUnsafePath)
	}
	if ch, ok := x.pending[target]; ok {
		<-ch
	}
	if err := x.firstErr(); err != nil {
		return err
	}
	tdir, tbase := path.Split(target)
	tfd := x.root
	if tdir != "" {
		tfd, err = openDir(x.root, strings.TrimSuffix(tdir, "/"))
		if err != nil {
			return fmt.Errorf("hardlink to %q: %w", linkname, err)
		}
		defer unix.Close(tfd)
	}
	// No AT_SYMLINK_FOLLOW: a symlink target is linked itself, never followed.
	link := func() error {
		return x.replace(pfd, base, func() error { return unix.Linkat(tfd, tbase, pfd, base, 0) })
	}
	err = link()
	if errors.Is(err, unix.ENOENT) && len(x.pending) > 0 {
		// The target may be a file a worker is still writing under another
		// name (through a symlinked directory).
		x.waitPending()
		err = link()
	}
	if err != nil {
		return fmt.Errorf("hardlink to %q: %w", linkname, err)
	}
	return nil
}

// waitPending waits until the workers have written every file handed to
// them.
func (x *extractor) waitPending() {
	for name, ch := range x.pending {
		<-ch
		delete(x.pending, name)
	}
}

func (x *extractor) symlink(pfd int, base string, m meta, target string) error {
	if target == "" || len(target) > maxPathLen || strings.IndexByte(target, 0) >= 0 {
		return fmt.Errorf("%w: bad symlink target %q", ErrUnsafePath, target)
	}
	// Written as it is: it is only ever resolved inside the destination.
	if err := x.replace(pfd, base, func() error { return unix.Symlinkat(target, pfd, base) }); err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	return x.setMetaAt(pfd, base, m, true)
}

// mknod creates a FIFO or a standard device node.
func (x *extractor) mknod(pfd int, base string, m meta, hdr *tar.Header) error {
	mode := uint32(unix.S_IFIFO)
	if hdr.Typeflag == tar.TypeChar {
		mode = unix.S_IFCHR
	}
	dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	if err := x.replace(pfd, base, func() error { return unix.Mknodat(pfd, base, mode|0o600, dev) }); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	return x.setMetaAt(pfd, base, m, false)
}

// replace runs create; where the name is taken, it clears the name and
// tries again. Another extraction into the same root may take the name in
// between, hence the loop.
func (x *extractor) replace(pfd int, base string, create func() error) error {
	for range 8 {
		err := create()
		if !errors.Is(err, unix.EEXIST) {
			return err
		}
		if err := x.clear(pfd, base); err != nil {
			return err
		}
	}
	return fmt.Errorf("%q kept being created by someone else: %w", base, unix.EEXIST)
}

// clear removes what stands at base in pfd to make room for a new entry:
// anything but a directory, and an empty directory under ReplaceMismatched.
// A symlink there is removed itself, never followed.
func (x *extractor) clear(pfd int, base string) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if !x.policy.ReplaceMismatched {
			return errors.New("non-directory over an existing directory")
		}
		err = unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
	} else if err == nil {
		err = unix.Unlinkat(pfd, base, 0)
	}
	if errors.Is(err, unix.ENOENT) {
		return nil // removed meanwhile by a concurrent extraction
	}
	return err
}
