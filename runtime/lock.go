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
	l, err := s.lockFile(ctid, false)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, fmt.Errorf("container %s (%s): %w", ctid, filepath.Join(s.G.Get("LOCKDIR"), ctid+".lck"), ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("lock container %s: %w", ctid, err)
	}
	return l, nil
}

// lockFile takes the flock of LOCKDIR/NAME.lck, waiting for it or not.
func (s *Store) lockFile(name string, wait bool) (*Lock, error) {
	dir := s.G.Get("LOCKDIR")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name+".lck")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
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
