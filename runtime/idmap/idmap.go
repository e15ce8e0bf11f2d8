package idmap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Map is the id mapping of an unprivileged container: its uid 0 is host
// uid UID, its gid 0 host gid GID, and Size ids of each follow.
type Map struct {
	UID, GID uint32
	Size     uint32
}

func (m Map) String() string {
	return fmt.Sprintf("uid %d-%d, gid %d-%d", m.UID, m.UID+m.Size-1, m.GID, m.GID+m.Size-1)
}

// Contains reports whether host uid is one of the mapped uids.
func (m Map) Contains(uid uint32) bool { return uid >= m.UID && uid-m.UID < m.Size }

// UserNS returns a handle on a new user namespace with mapping m. The
// namespace lives as long as the handle (or a mount made with it).
func UserNS(m Map) (*os.File, error) {
	if m.Size == 0 {
		return nil, errors.New("user namespace: empty id mapping")
	}
	// The child traces itself before it execs, so it stops (SIGTRAP) as
	// soon as the exec is done, before running anything; ForkExec returns
	// once the exec succeeded, when the mapping is written. The ptrace link
	// and the death signal belong to this thread, which is kept for it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"vzkit-userns"}, &syscall.ProcAttr{
		Sys: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(m.UID), Size: int(m.Size)}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(m.GID), Size: int(m.Size)}},
			Ptrace:      true,
			Pdeathsig:   unix.SIGKILL,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("user namespace (%s): %w", m, err)
	}
	defer reap(pid)
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/user", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("user namespace (%s): %w", m, err)
	}
	return os.NewFile(uintptr(fd), "userns"), nil
}

// reap kills the stopped child and collects it; a traced child may first
// report its stop.
func reap(pid int) {
	unix.Kill(pid, unix.SIGKILL)
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || ws.Exited() || ws.Signaled() {
			return
		}
	}
}

// clone returns a detached copy of the mount tree at src with attrs set,
// idmapped through userns when it is not nil.
func clone(src string, userns *os.File, attrs uint64) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("clone mount of %s: %w", src, err)
	}
	f := os.NewFile(uintptr(fd), src)
	if err := setattr(f, userns, attrs); err != nil {
		f.Close()
		return nil, fmt.Errorf("set attributes of the mount of %s: %w", src, err)
	}
	return f, nil
}

// setattr sets attrs on the detached mount mnt, and the id mapping of
// userns when it is not nil.
func setattr(mnt *os.File, userns *os.File, attrs uint64) error {
	attr := unix.MountAttr{Attr_set: attrs}
	if userns != nil {
		attr.Attr_set |= unix.MOUNT_ATTR_IDMAP
		attr.Userns_fd = uint64(userns.Fd())
	}
	return unix.MountSetattr(int(mnt.Fd()), "", unix.AT_EMPTY_PATH, &attr)
}

// Attach mounts mnt, a detached mount of a whole filesystem (from
// fsmount(2): an image's ext4), at dst with nodev, idmapped by m when m
// is not nil, as Bind does for a directory.
func Attach(mnt *os.File, dst string, m *Map) error {
	var userns *os.File
	if m != nil {
		var err error
		if userns, err = UserNS(*m); err != nil {
			return err
		}
		defer userns.Close()
	}
	if err := setattr(mnt, userns, unix.MOUNT_ATTR_NODEV); err != nil {
		return fmt.Errorf("set attributes of the mount for %s: %w", dst, err)
	}
	if err := unix.MoveMount(int(mnt.Fd()), "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount at %s: %w", dst, err)
	}
	return nil
}

// Bind mounts the directory src at dst with nodev (a container's tree never
// needs its own device nodes: /dev is set up apart), idmapped by m when m is
// not nil.
func Bind(src, dst string, m *Map) error {
	var userns *os.File
	if m != nil {
		var err error
		if userns, err = UserNS(*m); err != nil {
			return err
		}
		defer userns.Close()
	}
	mnt, err := clone(src, userns, unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return err
	}
	defer mnt.Close()
	if err := unix.MoveMount(int(mnt.Fd()), "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount %s at %s: %w", src, dst, err)
	}
	return nil
}

// Overlay mounts an overlayfs at dst (nodev) of the read-only lower and the
// private directory holding upper/ and work/, under the source name source.
// With m, both layers are idmapped by m and the mount is made with the
// container root's host ids (see the package doc).
func Overlay(source, lower, private, dst string, m *Map) error {
	if m == nil {
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, private, private)
		if err := unix.Mount(source, dst, "overlay", unix.MS_NODEV, opts); err != nil {
			return fmt.Errorf("mount overlay at %s (%s): %w", dst, opts, err)
		}
		return nil
	}
	userns, err := UserNS(*m)
	if err != nil {
		return err
	}
	defer userns.Close()
	lmnt, err := clone(lower, userns, 0)
	if err != nil {
		return err
	}
	defer lmnt.Close()
	pmnt, err := clone(private, userns, 0)
	if err != nil {
		return err
	}
	defer pmnt.Close()
	// overlayfs takes a private clone of each layer, which older
	// kernels (Debian 12's 6.1) make only of a mount in the caller's
	// namespace ("failed to clone upperpath"), not of a detached one:
	// the idmapped layers are attached for the moment of the mount,
	// beside dst (in vzkit's own directory), and detached again; the
	// overlay keeps its clones. Only empty directories are removed
	// after: never a tree that a failed unmount left in place.
	tmp, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".layers-")
	if err != nil {
		return fmt.Errorf("overlay at %s: %w", dst, err)
	}
	defer os.Remove(tmp)
	lowerAt, privateAt := filepath.Join(tmp, "lower"), filepath.Join(tmp, "private")
	for _, l := range []struct {
		mnt *os.File
		at  string
	}{{lmnt, lowerAt}, {pmnt, privateAt}} {
		if err := os.Mkdir(l.at, 0o700); err != nil {
			return fmt.Errorf("overlay at %s: %w", dst, err)
		}
		defer os.Remove(l.at)
		if err := unix.MoveMount(int(l.mnt.Fd()), "", unix.AT_FDCWD, l.at, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("overlay at %s: attach a layer at %s: %w", dst, l.at, err)
		}
		defer unix.Unmount(l.at, unix.MNT_DETACH)
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lowerAt, privateAt, privateAt)
	err = asMappedRoot(*m, func() error { return unix.Mount(source, dst, "overlay", unix.MS_NODEV, opts) })
	if err != nil {
		return fmt.Errorf("mount overlay of %s and %s at %s (%s): %w", lower, private, dst, m, err)
	}
	return nil
}

// asMappedRoot runs f on a thread whose fsuid and fsgid are m's root and
// whose effective capabilities are its permitted ones again (setfsuid
// clears the file-system ones). The thread is never handed back to the Go
// scheduler.
func asMappedRoot(m Map, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread exits with us
		unix.Setfsgid(int(m.GID))
		unix.Setfsuid(int(m.UID))
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			errc <- fmt.Errorf("capget: %w", err)
			return
		}
		for i := range data {
			data[i].Effective = data[i].Permitted
		}
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			errc <- fmt.Errorf("capset: %w", err)
			return
		}
		errc <- f()
	}()
	return <-errc
}
