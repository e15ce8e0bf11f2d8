package cache

import (
	"archive/tar"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// smallFile is the largest file handed to a worker with its content in
// memory; larger files are written by the reading goroutine as a stream.
// With the job queue bounded, at most about 5×workers MiB are buffered.
const smallFile = 1 << 20

var errTooManyEntries = errors.New("entry limit exceeded")

// resolveFlags keep every lookup below the destination: ".." stops at it and
// absolute symlinks are taken relative to it, as in a chroot.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// openIn opens name below root with resolveFlags. The kernel answers EAGAIN
// when a rename or mount anywhere raced with a RESOLVE_IN_ROOT lookup; the
// lookup is then simply repeated.
func openIn(root int, name string, how *unix.OpenHow) (int, error) {
	how.Resolve |= resolveFlags
	for range 64 {
		fd, err := unix.Openat2(root, name, how)
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
	return -1, fmt.Errorf("openat2 %q: lookup kept racing with renames: %w", name, unix.EAGAIN)
}

// meta is what is applied to every created object.
type meta struct {
	name   string // cleaned, relative to the destination ("." for it)
	mode   uint32 // permission bits incl. setuid/setgid/sticky
	uid    int
	gid    int
	mtime  time.Time
	xattrs map[string]string
}

type fileJob struct {
	meta
	data []byte
	done chan struct{}
}

type extractor struct {
	ctx   context.Context
	root  int   // O_PATH descriptor of the destination
	left  int64 // file bytes that may still be written (sparse files expand)
	chown bool

	entries, maxEntries int // tar entries read so far, and the limit
	// Who and what a newly created file is without fchown/fchmod: the
	// calls are skipped when they would change nothing.
	euid, egid int
	umask      uint32
	inheritGid bool // dst is setgid: new entries take its group
	jobs       chan fileJob
	wg         sync.WaitGroup
	pending    map[string]chan struct{} // regular files handed to workers
	dirs       []meta                   // metadata applied after all content

	mu  sync.Mutex
	err error

	// One cached parent directory descriptor: archives are sorted, so
	// consecutive entries mostly share their parent.
	lastDir string
	lastFd  int
}

// extract reads a tar stream and creates its entries below dst.
func extract(ctx context.Context, r io.Reader, dst string, opts UnpackOptions) error {
	workers := opts.Workers
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	root, err := unix.Open(dst, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dst, err)
	}
	defer unix.Close(root)
	var st unix.Stat_t
	if err := unix.Fstat(root, &st); err != nil {
		return fmt.Errorf("stat %s: %w", dst, err)
	}
	umask, err := processUmask()
	if err != nil {
		return err
	}
	x := &extractor{
		euid:       os.Geteuid(),
		egid:       os.Getegid(),
		umask:      umask,
		inheritGid: st.Mode&unix.S_ISGID != 0,
		ctx:        ctx,
		root:       root,
		left:       opts.MaxSize,
		maxEntries: opts.MaxEntries,
		chown:      os.Geteuid() == 0,
		jobs:       make(chan fileJob, 4*workers),
		pending:    map[string]chan struct{}{},
		lastFd:     -1,
	}
	defer x.dropParent()
	for range workers {
		x.wg.Add(1)
		go x.worker()
	}
	err = x.run(tar.NewReader(r))
	close(x.jobs)
	x.wg.Wait()
	if err == nil {
		err = x.firstErr()
	}
	if err == nil {
		err = x.finishDirs()
	}
	return err
}

func (x *extractor) fail(err error) {
	x.mu.Lock()
	if x.err == nil {
		x.err = err
	}
	x.mu.Unlock()
}

func (x *extractor) firstErr() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

func (x *extractor) worker() {
	defer x.wg.Done()
	for j := range x.jobs {
		if x.firstErr() == nil {
			if err := x.writeFile(j.meta, j.data, nil, 0); err != nil {
				x.fail(err)
			}
		}
		putBuf(j.data)
		close(j.done)
	}
}

func (x *extractor) run(tr *tar.Reader) error {
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		if err := x.firstErr(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if x.entries++; x.entries > x.maxEntries {
			return fmt.Errorf("more than %d entries: %w", x.maxEntries, errTooManyEntries)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
}

// cleanName turns an archive path into a path relative to the destination,
// refusing absolute paths and any ".." component.
func cleanName(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("entry %q: absolute or empty path", name)
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("entry %q: NUL in path", name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("entry %q: path with \"..\"", name)
		}
	}
	return path.Clean(name), nil
}

func (x *extractor) entry(hdr *tar.Header, tr *tar.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	m := meta{name: name, mode: uint32(hdr.Mode) & 0o7777, uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime}
	for k, v := range hdr.PAXRecords {
		if attr, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if m.xattrs == nil {
				m.xattrs = map[string]string{}
			}
			m.xattrs[attr] = v
		}
	}
	// A later entry for the same path replaces the earlier one, so it waits
	// until a worker is done with it.
	if ch, ok := x.pending[name]; ok {
		<-ch
		delete(x.pending, name)
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("entry %q: the top directory must be a directory", hdr.Name)
		}
		x.dirs = append(x.dirs, m)
		return nil
	}
	if x.lastDir == name || strings.HasPrefix(x.lastDir, name+"/") {
		x.dropParent() // this entry may replace the cached directory
	}
	dir, base := path.Split(name)
	pfd, err := x.parent(strings.TrimSuffix(dir, "/"))
	if err != nil {
		return fmt.Errorf("entry %q: %w", hdr.Name, err)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(pfd, base, m)
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeRegA:
		if x.left -= hdr.Size; x.left < 0 {
			return fmt.Errorf("entry %q: %w", hdr.Name, errTooLarge)
		}
		if hdr.Size > smallFile {
			return x.writeFile(m, nil, tr, hdr.Size)
		}
		data := getBuf(hdr.Size)[:hdr.Size]
		if _, err := io.ReadFull(tr, data); err != nil {
			return fmt.Errorf("read %q: %w", hdr.Name, err)
		}
		done := make(chan struct{})
		x.pending[name] = done
		x.jobs <- fileJob{meta: m, data: data, done: done}
		if len(x.pending) >= 1024 {
			x.prunePending()
		}
		return nil
	case tar.TypeLink:
		return x.hardlink(pfd, base, m, hdr.Linkname)
	case tar.TypeSymlink:
		if strings.ContainsRune(hdr.Linkname, 0) {
			return fmt.Errorf("entry %q: NUL in link target", hdr.Name)
		}
		err := retryReplace(pfd, base, func() error { return unix.Symlinkat(hdr.Linkname, pfd, base) })
		if err != nil {
			return fmt.Errorf("symlink %q: %w", name, err)
		}
		return x.setMetaAt(pfd, base, m, true)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(unix.S_IFIFO)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode = unix.S_IFCHR
		case tar.TypeBlock:
			mode = unix.S_IFBLK
		}
		dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
		err := retryReplace(pfd, base, func() error { return unix.Mknodat(pfd, base, mode|0o600, dev) })
		if err != nil {
			return fmt.Errorf("mknod %q: %w", name, err)
		}
		return x.setMetaAt(pfd, base, m, false)
	case tar.TypeXGlobalHeader:
		return nil
	default:
		slog.Debug("cache: skipping tar entry of unsupported type", "entry", hdr.Name, "type", hdr.Typeflag)
		return nil
	}
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

// parent returns a descriptor of the directory dir below the destination,
// creating missing directories (mode 0755, root-owned, as tar does for
// entries whose directory is not in the archive).
func (x *extractor) parent(dir string) (int, error) {
	if dir == "" {
		return x.root, nil
	}
	if x.lastFd >= 0 && x.lastDir == dir {
		return x.lastFd, nil
	}
	x.dropParent()
	fd, err := openIn(x.root, dir, &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC})
	if errors.Is(err, unix.ENOENT) {
		fd, err = x.mkdirAll(dir)
	}
	if err != nil {
		return -1, fmt.Errorf("directory %q: %w", dir, err)
	}
	x.lastDir, x.lastFd = dir, fd
	return fd, nil
}

func (x *extractor) dropParent() {
	if x.lastFd >= 0 {
		unix.Close(x.lastFd)
		x.lastFd = -1
	}
}

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
		pfd, err = openIn(x.root, strings.Join(parts[:i+1], "/"), &unix.OpenHow{
			Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC})
		if err != nil {
			return -1, err
		}
	}
	return pfd, nil
}

func (x *extractor) mkdir(pfd int, base string, m meta) error {
	err := unix.Mkdirat(pfd, base, 0o700)
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			err = retryReplace(pfd, base, func() error { return unix.Mkdirat(pfd, base, 0o700) })
		}
	}
	if err != nil {
		return fmt.Errorf("mkdir %q: %w", m.name, err)
	}
	// Owner, mode and mtime come last: files created inside would change
	// the mtime, and a read-only mode would stop a non-root extraction.
	x.dirs = append(x.dirs, m)
	return nil
}

func (x *extractor) hardlink(pfd int, base string, m meta, linkname string) error {
	target, err := cleanName(linkname)
	if err != nil || target == "." {
		return fmt.Errorf("hardlink %q: bad target %q", m.name, linkname)
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
		tfd, err = openIn(x.root, strings.TrimSuffix(tdir, "/"), &unix.OpenHow{
			Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC})
		if err != nil {
			return fmt.Errorf("hardlink %q to %q: %w", m.name, target, err)
		}
		defer unix.Close(tfd)
	}
	// No AT_SYMLINK_FOLLOW: a symlink target is linked itself, never followed.
	err = retryReplace(pfd, base, func() error { return unix.Linkat(tfd, tbase, pfd, base, 0) })
	if err != nil {
		return fmt.Errorf("hardlink %q to %q: %w", m.name, target, err)
	}
	return nil
}

// retryReplace runs create; when the name exists it removes what is there
// (a file, or an empty directory) and tries once more, as tar does.
func retryReplace(pfd int, base string, create func() error) error {
	err := create()
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	if err := removeAt(pfd, base); err != nil {
		return err
	}
	return create()
}

// removeAt removes a non-directory or an empty directory.
func removeAt(pfd int, base string) error {
	err := unix.Unlinkat(pfd, base, 0)
	if errors.Is(err, unix.EISDIR) {
		err = unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
	}
	return err
}

// writeFile creates a regular file from data, or from size bytes of r when r
// is not nil, and sets its metadata through the open descriptor.
func (x *extractor) writeFile(m meta, data []byte, r io.Reader, size int64) error {
	// Most files can be created with their final mode: no setuid, setgid or
	// sticky bit (those need chmod after chown) and nothing the umask removes.
	mode, modeSet := uint32(0o600), false
	if m.mode&^0o777 == 0 && m.mode&x.umask == 0 {
		mode, modeSet = m.mode, true
	}
	how := &unix.OpenHow{
		Flags: unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Mode:  uint64(mode),
	}
	fd, err := openIn(x.root, m.name, how)
	if errors.Is(err, unix.EEXIST) {
		err = x.removeExisting(m.name)
		if err == nil {
			fd, err = openIn(x.root, m.name, how)
		}
	}
	if err != nil {
		return fmt.Errorf("create %q: %w", m.name, err)
	}
	f := os.NewFile(uintptr(fd), m.name)
	defer f.Close()
	if r != nil {
		err = writeSparse(f, r, size)
	} else {
		_, err = f.Write(data)
	}
	if err != nil {
		return fmt.Errorf("write %q: %w", m.name, err)
	}
	return x.setMetaFd(fd, m, modeSet)
}

// writeSparse copies size bytes from r to the new file f, leaving holes
// where whole 64 KiB blocks are zero: disk images and sparse databases stay
// sparse.
func writeSparse(f *os.File, r io.Reader, size int64) error {
	buf := getBuf(64 << 10)
	defer putBuf(buf)
	buf = buf[:cap(buf)]
	hole := false
	for left := size; left > 0; {
		n, err := io.ReadFull(r, buf[:min(int64(len(buf)), left)])
		if err != nil {
			return err
		}
		left -= int64(n)
		if isZero(buf[:n]) {
			if _, err := f.Seek(int64(n), io.SeekCurrent); err != nil {
				return err
			}
			hole = true
		} else if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
	}
	if hole { // a trailing hole needs the size set explicitly
		return f.Truncate(size)
	}
	return nil
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.NativeEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (x *extractor) removeExisting(name string) error {
	dir, base := path.Split(name)
	pfd := x.root
	if dir != "" {
		var err error
		pfd, err = openIn(x.root, strings.TrimSuffix(dir, "/"), &unix.OpenHow{
			Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC})
		if err != nil {
			return err
		}
		defer unix.Close(pfd)
	}
	return removeAt(pfd, base)
}

// setMetaFd applies owner, mode, xattrs and mtime in the order that keeps
// them: chown clears setuid bits and file capabilities, so it goes first.
// A file that writeFile just created already has the process's owner and,
// when modeSet, its mode.
func (x *extractor) setMetaFd(fd int, m meta, modeSet bool) error {
	if x.chown && (!modeSet || x.inheritGid || m.uid != x.euid || m.gid != x.egid) {
		if err := unix.Fchown(fd, m.uid, m.gid); err != nil {
			return fmt.Errorf("chown %q: %w", m.name, err)
		}
	}
	if !modeSet {
		if err := unix.Fchmod(fd, m.mode); err != nil {
			return fmt.Errorf("chmod %q: %w", m.name, err)
		}
	}
	for _, k := range sortedKeys(m.xattrs) {
		if !x.xattrAllowed(k) {
			continue
		}
		if err := xattrErr(unix.Fsetxattr(fd, k, []byte(m.xattrs[k]), 0), k, m.name); err != nil {
			return err
		}
	}
	ts := timespecs(m.mtime)
	// utimensat with a NULL path acts on the descriptor (futimens).
	if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); e != 0 {
		return fmt.Errorf("set mtime of %q: %w", m.name, e)
	}
	return nil
}

// setMetaAt applies metadata to a symlink or special file by name in pfd.
func (x *extractor) setMetaAt(pfd int, base string, m meta, symlink bool) error {
	if x.chown {
		if err := unix.Fchownat(pfd, base, m.uid, m.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %q: %w", m.name, err)
		}
	}
	if !symlink {
		if err := unix.Fchmodat(pfd, base, m.mode, 0); err != nil {
			return fmt.Errorf("chmod %q: %w", m.name, err)
		}
	}
	// The /proc path reaches the entry through the already resolved parent;
	// lsetxattr does not follow the last component.
	procPath := "/proc/self/fd/" + strconv.Itoa(pfd) + "/" + base
	for _, k := range sortedKeys(m.xattrs) {
		if !x.xattrAllowed(k) {
			continue
		}
		if err := xattrErr(unix.Lsetxattr(procPath, k, []byte(m.xattrs[k]), 0), k, m.name); err != nil {
			return err
		}
	}
	ts := timespecs(m.mtime)
	if err := unix.UtimesNanoAt(pfd, base, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set mtime of %q: %w", m.name, err)
	}
	return nil
}

// finishDirs applies directory metadata, deepest directories first.
func (x *extractor) finishDirs() error {
	for _, m := range slices.Backward(x.dirs) {
		fd, err := openIn(x.root, m.name, &unix.OpenHow{
			Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC})
		if err != nil {
			return fmt.Errorf("directory %q: %w", m.name, err)
		}
		err = x.setMetaFd(fd, m, false)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return nil
}

// xattrErr lets a filesystem without support for an attribute namespace
// (say, security.selinux on a host without SELinux) cost a warning, as in
// GNU tar; a file capability that cannot be set is always an error.
func xattrErr(err error, attr, name string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EOPNOTSUPP) && attr != "security.capability" {
		slog.Warn("cache: xattr not supported here, skipped", "xattr", attr, "path", name)
		return nil
	}
	return fmt.Errorf("set xattr %s on %q: %w", attr, name, err)
}

// xattrAllowed leaves out namespaces an unprivileged process cannot set.
func (x *extractor) xattrAllowed(name string) bool {
	return x.chown || strings.HasPrefix(name, "user.")
}

// processUmask reads the umask without changing it (umask(2) would, for
// every thread of the process).
func processUmask() (uint32, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read umask: %w", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			u, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil {
				return 0, fmt.Errorf("parse umask %q: %w", v, err)
			}
			return uint32(u), nil
		}
	}
	return 0, errors.New("no Umask line in /proc/self/status")
}

func timespecs(t time.Time) [2]unix.Timespec {
	ts := unix.NsecToTimespec(t.UnixNano())
	return [2]unix.Timespec{ts, ts}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
