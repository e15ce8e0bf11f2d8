package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Lock is a held per-container lock (LOCKDIR/CTID.lck).
type Lock struct{ f *os.File }

// LockCT takes the container's lock without waiting: OpenVZ refuses a
// second operation on a container instead of queueing it. The lock is an
// flock, so it dies with the process that held it (kill -9 included).
func (s *Store) LockCT(ctid string) (*Lock, error) {
	dir := s.G.Get("LOCKDIR")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock container %s: %w", ctid, err)
	}
	path := filepath.Join(dir, ctid+".lck")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock container %s: %w", ctid, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("container %s (%s): %w", ctid, path, ErrLocked)
		}
		return nil, fmt.Errorf("lock container %s: %s: %w", ctid, path, err)
	}
	// Record the holder for admins; the flock is what counts.
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return &Lock{f: f}, nil
}

// Unlock releases the lock. The file stays: removing it would race with
// a process that opened it and is about to flock it.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
