package extract

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/bufpool"
)

// writeFile creates a regular file from data, or from size bytes of r when r
// is not nil, and sets its metadata through the open descriptor.
func (x *extractor) writeFile(m meta, data []byte, r io.Reader, size int64) error {
	fd, err := x.createFile(m)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	f := os.NewFile(uintptr(fd), m.name)
	defer f.Close()
	if r != nil {
		err = writeSparse(f, r, size)
	} else {
		_, err = f.Write(data)
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return x.setMetaFd(fd, m)
}

// createFile creates m.name with O_EXCL, in one lookup when the name is
// free. What stands there otherwise is cleared first; O_EXCL fails on a
// symlink rather than follow it.
func (x *extractor) createFile(m meta) (int, error) {
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	perm := m.mode & 0o777 // special bits only after chown, which clears them
	fd, err := openIn(x.root, m.name, &unix.OpenHow{Flags: flags, Mode: uint64(perm)})
	if !errors.Is(err, unix.EEXIST) {
		return fd, err
	}
	dir, base := path.Split(m.name)
	pfd := x.root
	if dir != "" {
		if pfd, err = openDir(x.root, strings.TrimSuffix(dir, "/")); err != nil {
			return -1, err
		}
		defer unix.Close(pfd)
	}
	err = x.replace(pfd, base, func() error {
		var err error
		fd, err = unix.Openat(pfd, base, flags, perm)
		return err
	})
	return fd, err
}

// writeSparse copies size bytes from r to the new file f, leaving holes
// where whole 64 KiB blocks are zero: disk images and sparse databases stay
// sparse.
func writeSparse(f *os.File, r io.Reader, size int64) error {
	buf := bufpool.Get(64 << 10)
	defer bufpool.Put(buf)
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
