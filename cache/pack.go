package cache

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/extract"
	"github.com/vzkit/vzkit/internal/saferoot"
)

// Defaults for PackOptions.
const (
	DefaultLevel     = 9        // zstd level; see BENCHMARKS.md for the size and time it gives
	DefaultFrameSize = 16 << 20 // uncompressed tar bytes per independent frame
	// minFrames is how many frames a small tree is cut into at least: a
	// root of a few MiB would otherwise be one frame that one encoder
	// (and later one decoder) works through alone.
	minFrames    = 4
	minFrameSize = 1 << 20
)

// PackOptions tune Pack. The zero value packs with the defaults and keeps
// mtimes as they are.
type PackOptions struct {
	// SourceDateEpoch, when not zero, is the latest mtime in the archive:
	// newer files get this time (SOURCE_DATE_EPOCH clamping), and every
	// directory gets exactly this time. A directory's mtime only says
	// which package last wrote into it, and packages are unpacked in
	// parallel, so it is the one timestamp a build cannot make repeatable.
	SourceDateEpoch time.Time
	// Level is the zstd level (1..22), as the zstd command line has it.
	// It changes the bytes of the cache; Workers and the machine do not.
	Level int
	// FrameSize is the number of tar bytes per zstd frame. 0 picks it
	// from the tree: DefaultFrameSize, or for a tree under minFrames
	// times that, a quarter of its file bytes (rounded up to a MiB, at
	// least 1 MiB), so that it still packs and unpacks in parallel. The
	// choice depends on the tree only, never on the machine.
	FrameSize int
	// Workers is the number of parallel encoders (default GOMAXPROCS).
	Workers int
}

// Pack writes root as a zstd-compressed tar stream to w and describes what
// it wrote. Entries of other filesystems mounted below root are left out, as
// are sockets.
func Pack(ctx context.Context, root string, w io.Writer, opts PackOptions) (Archive, error) {
	if opts.Level == 0 {
		opts.Level = DefaultLevel
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	arch := Archive{Compression: "zstd", Level: opts.Level}
	if !opts.SourceDateEpoch.IsZero() {
		arch.SourceDateEpoch = opts.SourceDateEpoch.Unix()
	}

	paths, fileBytes, err := listTree(ctx, root)
	if err != nil {
		return arch, err
	}
	if opts.FrameSize <= 0 {
		opts.FrameSize = frameSizeFor(fileBytes)
	}
	arch.FrameSize = int64(opts.FrameSize)

	if opts.Level < 1 || opts.Level > 22 {
		return arch, fmt.Errorf("cache: zstd level %d out of range 1..22", opts.Level)
	}

	out := &countHash{w: w, h: sha256.New()}
	fw := newFrameWriter(ctx, out, opts.Level, opts.FrameSize, opts.Workers)
	tarHash := &countHash{w: fw, h: sha256.New()}
	tw := tar.NewWriter(tarHash)

	tree, err := saferoot.Open(root)
	if err != nil {
		return arch, fmt.Errorf("cache: pack: %w", err)
	}
	defer tree.Close()
	p := packer{root: root, tree: tree, tw: tw, opts: opts, links: map[inode]string{}}
	for _, rel := range paths {
		if err = ctx.Err(); err != nil {
			break
		}
		if err = p.add(rel, &arch); err != nil {
			break
		}
	}
	if err == nil {
		err = tw.Close()
		if err != nil {
			err = fmt.Errorf("cache: finish tar stream: %w", err)
		}
	}
	// Close always, so that encoder goroutines end.
	if cerr := fw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("cache: %w", cerr)
	}
	if err != nil {
		return arch, err
	}
	arch.TarSHA256 = hex.EncodeToString(tarHash.h.Sum(nil))
	arch.TarSize = tarHash.n
	arch.SHA256 = hex.EncodeToString(out.h.Sum(nil))
	arch.Size = out.n
	arch.Frames = fw.frames
	return arch, nil
}

// frameSizeFor is the frame size for a tree whose regular files hold
// fileBytes.
func frameSizeFor(fileBytes int64) int {
	if fileBytes >= minFrames*DefaultFrameSize {
		return DefaultFrameSize
	}
	quarter := (fileBytes/minFrames + minFrameSize - 1) / minFrameSize * minFrameSize
	return int(max(quarter, minFrameSize))
}

// listTree returns every path below root, relative to it ("." for root),
// sorted by bytes, and the bytes its regular files hold, counted up to
// minFrames*DefaultFrameSize (all frameSizeFor needs). Sorting whole paths
// puts each directory before its content because a parent is a prefix of
// its children.
func listTree(ctx context.Context, root string) ([]string, int64, error) {
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		return nil, 0, fmt.Errorf("cache: pack root %s: %w", root, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, 0, fmt.Errorf("cache: pack root %s is not a directory", root)
	}
	rootDev := st.Dev
	var paths []string
	var fileBytes int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("cache: walk %s: %w", path, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		paths = append(paths, rel)
		if d.Type().IsRegular() && fileBytes < minFrames*DefaultFrameSize {
			// A file gone or changed since is the packer's to report.
			if fi, err := d.Info(); err == nil {
				fileBytes += fi.Size()
			}
		}
		if d.IsDir() && rel != "." {
			var st unix.Stat_t
			if err := unix.Lstat(path, &st); err != nil {
				return fmt.Errorf("cache: stat %s: %w", path, err)
			}
			if st.Dev != rootDev {
				// A mount point: keep the directory, not what is mounted there.
				return fs.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	slices.Sort(paths[1:]) // "." stays first
	return paths, fileBytes, nil
}

type inode struct{ dev, ino uint64 }

type packer struct {
	root  string
	tree  *saferoot.Root // the same root, for reading file content
	tw    *tar.Writer
	opts  PackOptions
	links map[inode]string // first archive name of each multiply-linked file
}

func (p *packer) add(rel string, arch *Archive) error {
	full := filepath.Join(p.root, rel)
	var st unix.Stat_t
	if err := unix.Lstat(full, &st); err != nil {
		return fmt.Errorf("cache: stat %s: %w", full, err)
	}
	name := "./"
	if rel != "." {
		name = "./" + filepath.ToSlash(rel)
	}
	mtime := time.Unix(st.Mtim.Sec, 0)
	if !p.opts.SourceDateEpoch.IsZero() && mtime.After(p.opts.SourceDateEpoch) {
		mtime = time.Unix(p.opts.SourceDateEpoch.Unix(), 0)
	}
	if !p.opts.SourceDateEpoch.IsZero() && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		mtime = time.Unix(p.opts.SourceDateEpoch.Unix(), 0)
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: mtime,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		if rel != "." {
			hdr.Name += "/"
		}
	case unix.S_IFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
		if st.Nlink > 1 {
			id := inode{st.Dev, st.Ino}
			if first, ok := p.links[id]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				hdr.Size = 0
			} else {
				p.links[id] = name
			}
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(full)
		if err != nil {
			return fmt.Errorf("cache: readlink %s: %w", full, err)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case unix.S_IFCHR, unix.S_IFBLK:
		char := st.Mode&unix.S_IFMT == unix.S_IFCHR
		major, minor := unix.Major(st.Rdev), unix.Minor(st.Rdev)
		if !extract.StandardDevice(char, major, minor) {
			// A template must not hand containers a host device; Unpack
			// would leave it out anyway.
			slog.Warn("cache: device node outside the standard set left out", "path", full, "device", fmt.Sprintf("%d:%d", major, minor))
			arch.SkippedDevices++
			return nil
		}
		hdr.Typeflag = tar.TypeChar
		hdr.Devmajor, hdr.Devminor = int64(major), int64(minor)
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default: // sockets belong to a running system, not to a template
		slog.Debug("cache: skipping socket", "path", full)
		return nil
	}
	if hdr.Typeflag != tar.TypeLink {
		xattrs, err := readXattrs(full)
		if err != nil {
			return err
		}
		if len(xattrs) > 0 {
			hdr.PAXRecords = make(map[string]string, len(xattrs))
			for k, v := range xattrs {
				hdr.PAXRecords["SCHILY.xattr."+k] = v
			}
		}
	}
	if err := p.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("cache: tar header for %s: %w", full, err)
	}
	arch.Entries++
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	arch.Files++
	return p.copyFile(rel, hdr.Size)
}

// copyFile streams exactly size bytes of the regular file rel: sparse files
// are read through their holes as zeros, which zstd shrinks to almost
// nothing. The root's owner may have swapped the file since it was listed:
// the tree opens it without following a symlink, with O_NONBLOCK, and only
// after checking it is a regular file (a FIFO would hang the open, a device
// leak the host's data), and the fstat of what was opened must still show a
// regular file of the size in the header.
func (p *packer) copyFile(rel string, size int64) error {
	full := filepath.Join(p.root, rel)
	f, err := p.tree.Open(rel)
	if err != nil {
		return fmt.Errorf("cache: pack %s: %w", full, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("cache: stat %s: %w", full, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != size {
		return fmt.Errorf("cache: %s changed while packing: mode %o and %d bytes, listed as a regular file of %d bytes",
			full, st.Mode, st.Size, size)
	}
	n, err := io.CopyN(p.tw, f, size)
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("cache: %s shrank while packing (%d of %d bytes)", full, n, size)
	}
	if err != nil {
		return fmt.Errorf("cache: pack %s: %w", full, err)
	}
	return nil
}

// readXattrs returns all extended attributes of path without following a
// symlink, including security.capability.
func readXattrs(path string) (map[string]string, error) {
	size, err := unix.Llistxattr(path, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cache: list xattrs of %s: %w", path, err)
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(path, buf)
	if err != nil {
		return nil, fmt.Errorf("cache: list xattrs of %s: %w", path, err)
	}
	out := map[string]string{}
	for _, name := range strings.Split(string(buf[:size]), "\x00") {
		if name == "" {
			continue
		}
		vsize, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			return nil, fmt.Errorf("cache: xattr %s of %s: %w", name, path, err)
		}
		val := make([]byte, vsize)
		vsize, err = unix.Lgetxattr(path, name, val)
		if err != nil {
			return nil, fmt.Errorf("cache: xattr %s of %s: %w", name, path, err)
		}
		out[name] = string(val[:vsize])
	}
	return out, nil
}

// countHash hashes and counts what passes through to w.
type countHash struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countHash) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}
