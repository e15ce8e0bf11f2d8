package runtime

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/atomicfile"
	"github.com/vzkit/vzkit/internal/saferoot"
	"github.com/vzkit/vzkit/runtime/idmap"
)

// The gate: how the sandbox reaches a running container's root.
//
// libcontainer resolves the root's path from inside the container's user
// namespace, so every directory on the way must let the container's root
// through, while VE_ROOT's parent stays 0700 for everybody else
// (closeParent). Each running container therefore has STATEDIR/ct/CTID of
// its own: a small tmpfs, mode 0700, owned by the container's root (host
// root for a privileged one), holding root/, a bind of VE_ROOT that the
// sandbox is given as its root, and console.log, the console of its init.
// No other host user can enter it, and its size is the hard bound on the
// console log, whatever the container writes.

// consoleLogMax is the size at which the console log is rotated; the
// gate's tmpfs holds three times as much (the log, its rotated tail, and
// what is written between two rotations) and refuses writes beyond.
const consoleLogMax = 1 << 20

func (s *Store) ctDir() string { return filepath.Join(s.StateDir(), "ct") }

func (s *Store) gateDir(ctid string) string { return filepath.Join(s.ctDir(), ctid) }

func (s *Store) consoleLog(ctid string) string { return filepath.Join(s.gateDir(ctid), "console.log") }

// keptConsoleLog is where the console of a start that failed is kept once
// its gate is gone, for the admin to read; the next start or destroy
// removes it.
func (s *Store) keptConsoleLog(ctid string) string { return filepath.Join(s.ctDir(), ctid+".log") }

// keepConsole copies the newest consoleLogMax bytes of ctid's console log
// out of its gate, to keptConsoleLog.
func (s *Store) keepConsole(ctid string) {
	r, err := saferoot.Open(s.gateDir(ctid))
	if err != nil {
		return
	}
	defer r.Close()
	st, err := r.Lstat("console.log")
	if err != nil {
		return
	}
	f, err := r.Open("console.log")
	if err != nil {
		return
	}
	defer f.Close()
	tail := make([]byte, consoleLogMax)
	n, err := f.ReadAt(tail, max(st.Size-consoleLogMax, 0))
	if err != nil && !errors.Is(err, io.EOF) {
		return
	}
	if err := atomicfile.WriteBytes(s.keptConsoleLog(ctid), tail[:n], 0o640); err != nil {
		s.log().Warn("console log of a failed start not kept", "ctid", ctid, "err", err)
	}
}

// openGate mounts c's gate (see above) for id mapping m (nil: privileged)
// and returns the sandbox's root path and the console log's.
func (s *Store) openGate(c *Container, m *idmap.Map) (root, console string, err error) {
	// STATEDIR and STATEDIR/ct are vzkit's own: made walkable (not
	// listable) whoever made them first (libcontainer makes its state
	// directories 0700, STATEDIR included when it is missing).
	for _, d := range []string{s.StateDir(), s.ctDir()} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return "", "", fmt.Errorf("container %s: %w", c.ID, err)
		}
		if err := openForWalk(d); err != nil {
			return "", "", fmt.Errorf("container %s: %w", c.ID, err)
		}
	}
	if m != nil {
		if err := walkable(s.ctDir(), m.UID); err != nil {
			return "", "", fmt.Errorf("container %s: %w", c.ID, err)
		}
	}
	dir := s.gateDir(c.ID)
	s.closeGate(c.ID) // what a killed start left
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("container %s: %w", c.ID, err)
	}
	defer func() {
		if err != nil {
			s.closeGate(c.ID)
		}
	}()
	uid, gid := 0, 0
	if m != nil {
		uid, gid = int(m.UID), int(m.GID)
	}
	opts := fmt.Sprintf("mode=0700,uid=%d,gid=%d,size=%d,nr_inodes=16", uid, gid, 3*consoleLogMax)
	if err := unix.Mount("vzkit-"+c.ID, dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return "", "", fmt.Errorf("container %s: mount tmpfs at %s: %w", c.ID, dir, err)
	}
	root = filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return "", "", fmt.Errorf("container %s: %w", c.ID, err)
	}
	// A bind of an idmapped mount keeps its mapping.
	if err := unix.Mount(c.Root, root, "", unix.MS_BIND, ""); err != nil {
		return "", "", fmt.Errorf("container %s: bind %s at %s: %w", c.ID, c.Root, root, err)
	}
	if err := unix.Mount("", root, "", unix.MS_PRIVATE, ""); err != nil {
		return "", "", fmt.Errorf("container %s: make %s private: %w", c.ID, root, err)
	}
	console = filepath.Join(dir, "console.log")
	f, err := os.OpenFile(console, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return "", "", fmt.Errorf("container %s: console log: %w", c.ID, err)
	}
	f.Close()
	// The init writes it as /dev/console from inside its namespace.
	if err := os.Chown(console, uid, gid); err != nil {
		return "", "", fmt.Errorf("container %s: console log: %w", c.ID, err)
	}
	return root, console, nil
}

// openForWalk adds o+x to a directory of vzkit's own that lacks it.
func openForWalk(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o001 == 0 {
		return os.Chmod(dir, fi.Mode().Perm()|0o011)
	}
	return nil
}

// walkable checks that host uid can walk down to dir, as the sandbox of an
// unprivileged container must (it resolves its root's path from inside its
// user namespace), and says which directory stops it.
func walkable(dir string, uid uint32) error {
	for d := dir; ; d = filepath.Dir(d) {
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil {
			return err
		}
		ok := st.Mode&0o001 != 0 || st.Uid == uid && st.Mode&0o100 != 0
		if !ok {
			return fmt.Errorf("%s (mode %04o) does not let unprivileged containers' roots through to %s: "+
				"their sandbox reaches its root from inside its user namespace, so every directory above STATEDIR must be searchable by others (chmod o+x %s)",
				d, st.Mode&0o7777, dir, d)
		}
		if d == "/" {
			return nil
		}
	}
}

// closeGate unmounts and removes ctid's gate; a missing one is fine.
func (s *Store) closeGate(ctid string) {
	dir := s.gateDir(ctid)
	unix.Unmount(filepath.Join(dir, "root"), unix.MNT_DETACH)
	unix.Unmount(dir, unix.MNT_DETACH)
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log().Warn("gate directory left behind", "ctid", ctid, "path", dir, "err", err)
	}
}

// rotateConsole keeps the console log under consoleLogMax: once over it,
// its newest consoleLogMax bytes become console.log.1 and the log starts
// again (the init keeps its descriptor, opened with O_APPEND). vzctl
// rotates whenever it looks at a running container; between two looks the
// gate's size bounds the log.
func (s *Store) rotateConsole(ctid string) {
	r, err := saferoot.Open(s.gateDir(ctid))
	if err != nil {
		return // not running
	}
	defer r.Close()
	st, err := r.Lstat("console.log")
	if err != nil || st.Size <= consoleLogMax {
		return
	}
	// The tail is read first and the log emptied before the copy is
	// written: a full gate has no room for both.
	f, err := r.Open("console.log")
	if err != nil {
		return
	}
	tail := make([]byte, consoleLogMax)
	n, err := f.ReadAt(tail, st.Size-consoleLogMax)
	f.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return
	}
	if err := r.Truncate("console.log", 0); err != nil {
		s.log().Warn("console log rotation", "ctid", ctid, "err", err)
		return
	}
	if err := r.WriteFile("console.log.1", tail[:n], 0o640); err != nil {
		s.log().Warn("console log rotation", "ctid", ctid, "err", err)
	}
}
