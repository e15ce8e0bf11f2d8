package loopdev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Attach binds a free loop device to the regular file f (opened
// read-write, or read-only for a read-only device) with autoclear, and
// returns the device, open: the caller mounts it (by Name) before closing
// it, or closing it detaches the device at once.
func Attach(f *os.File, readOnly bool) (*os.File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("loop device for %s: %w", f.Name(), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("loop device for %s: not a regular file", f.Name())
	}
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("loop device for %s: %w", f.Name(), err)
	}
	defer ctl.Close()
	flags := os.O_RDWR
	if readOnly {
		flags = os.O_RDONLY
	}
	var last error
	for try := 0; try < 64; try++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("loop device for %s: get a free device: %w", f.Name(), err)
		}
		name := fmt.Sprintf("/dev/loop%d", n)
		dev, err := os.OpenFile(name, flags|unix.O_CLOEXEC, 0)
		if errors.Is(err, os.ErrNotExist) {
			// Just made by LOOP_CTL_GET_FREE: devtmpfs shows the node
			// a moment later.
			last = err
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("loop device for %s: %w", f.Name(), err)
		}
		cfg := unix.LoopConfig{Fd: uint32(f.Fd())}
		cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR
		if readOnly {
			cfg.Info.Flags |= unix.LO_FLAGS_READ_ONLY
		}
		copy(cfg.Info.File_name[:len(cfg.Info.File_name)-1], f.Name())
		err = unix.IoctlLoopConfigure(int(dev.Fd()), &cfg)
		if err == nil {
			return dev, nil
		}
		dev.Close()
		if !errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("loop device for %s: configure %s: %w", f.Name(), name, err)
		}
		last = err // another attach took it first
	}
	return nil, fmt.Errorf("loop device for %s: no free device: %w", f.Name(), last)
}

// Backing is the device and inode number of the file behind the loop
// device dev.
func Backing(dev *os.File) (devno, ino uint64, err error) {
	info, err := unix.IoctlLoopGetStatus64(int(dev.Fd()))
	if err != nil {
		return 0, 0, fmt.Errorf("loop device %s: %w", dev.Name(), err)
	}
	return info.Device, info.Inode, nil
}

// SetCapacity makes the loop device dev take the current size of its
// file, after the file has grown.
func SetCapacity(dev *os.File) error {
	if err := unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_SET_CAPACITY, 0); err != nil {
		return fmt.Errorf("loop device %s: set capacity: %w", dev.Name(), err)
	}
	return nil
}

// Backed lists the loop devices (as /dev/loopN) whose file is the one at
// path, told by device and inode number, not by name.
func Backed(path string) ([]string, error) {
	var want unix.Stat_t
	if err := unix.Stat(path, &want); err != nil {
		return nil, err
	}
	ms, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			continue // detached meanwhile
		}
		var st unix.Stat_t
		if unix.Stat(strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)"), &st) != nil {
			continue
		}
		if st.Dev == want.Dev && st.Ino == want.Ino {
			out = append(out, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(m))))
		}
	}
	return out, nil
}

// WaitDetached waits until no loop device is backed by the file at path:
// an autoclear device goes away a moment after its last user (the kernel
// runs the detach asynchronously), and nothing may touch the file as a
// filesystem offline before. It gives up after timeout and names the
// devices still attached.
func WaitDetached(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		devs, err := Backed(path)
		if err != nil {
			return err
		}
		if len(devs) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is still attached to %s (mounted somewhere, or in use)", path, strings.Join(devs, ", "))
		}
		time.Sleep(2 * time.Millisecond)
	}
}
