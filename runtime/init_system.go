package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/saferoot"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

// bootTimeout bounds how long start waits for an init to come up; running
// past it is logged, not an error: the container runs, only slowly.
const bootTimeout = 90 * time.Second

// bootPoll is how often start looks for an init's readiness marker.
const bootPoll = 50 * time.Millisecond

// initExited is the error of a start whose init exited while booting.
func (s *Store) initExited(ctid string, kind InitKind) error {
	return fmt.Errorf("container %s: %s init exited while booting (its console: %s)", ctid, kind, s.keptConsoleLog(ctid))
}

// waitBoot returns once the init of kind in sb is up: systemd has finished
// booting (`systemctl is-system-running --wait` answers), SysV init has
// opened its control FIFO /run/initctl and left the boot scripts for its
// default runlevel. An init that exits meanwhile is an error; a boot
// slower than bootTimeout is only logged.
//
// strict (start --wait) makes a boot still running after bootTimeout an
// error, ErrBootTimeout.
func (s *Store) waitBoot(ctx context.Context, ctid string, sb *sandbox.Sandbox, pid int, kind InitKind, strict bool) error {
	var ready func() bool
	switch kind {
	case InitSystemd:
		// Its API socket: from now on systemctl can talk to it.
		ready = func() bool { return exists(pid, "/run/systemd/private") }
	case InitSysV:
		// sysvinit titles itself "init boot" while it runs rcS and
		// "init [N]" once in runlevel N, but it retitles itself before
		// the runlevel's rc script is done starting services: up means
		// no /etc/init.d/rc runs any more either, on two looks in a row
		// (init spawns rc N a moment after the title changes).
		settled := false
		ready = func() bool {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			now := err == nil && exists(pid, "/run/initctl") && string(bytes.TrimRight(b, "\x00")) != "init boot" &&
				!rcRunning(sb)
			up := now && settled
			settled = now
			return up
		}
	default:
		return nil
	}
	exited := s.initExited(ctid, kind)
	pfd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return exited // before it could even be watched
	}
	if err != nil {
		return fmt.Errorf("container %s: watch init %d: %w", ctid, pid, err)
	}
	defer unix.Close(pfd)
	bctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	up, err := waitReady(bctx, pfd, pid, ready)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("container %s: wait for init: %w", ctid, ctx.Err())
	case bctx.Err() != nil && strict:
		return fmt.Errorf("container %s: %w: %s init not up after %s", ctid, ErrBootTimeout, kind, bootTimeout)
	case bctx.Err() != nil:
		s.log().Warn("init not up yet, starting anyway", "ctid", ctid, "init", kind, "timeout", bootTimeout)
		return nil
	case err != nil:
		return fmt.Errorf("container %s: %w", ctid, err)
	case !up:
		return exited
	}
	if kind != InitSystemd {
		return nil
	}
	// --wait blocks until the boot job queue is done.
	var out bytes.Buffer
	status, err := sb.Exec(bctx, sandbox.Process{
		Args: []string{"systemctl", "is-system-running", "--wait"}, Env: containerEnv, Stdout: &out, Stderr: &out,
	})
	state := strings.TrimSpace(out.String())
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("container %s: wait for systemd: %w", ctid, ctx.Err())
	case bctx.Err() != nil && strict:
		return fmt.Errorf("container %s: %w: systemd still booting after %s", ctid, ErrBootTimeout, bootTimeout)
	case bctx.Err() != nil:
		s.log().Warn("systemd still booting, starting anyway", "ctid", ctid, "timeout", bootTimeout)
	case err != nil:
		return fmt.Errorf("container %s: systemctl is-system-running: %w", ctid, err)
	case status != 0:
		// degraded (a unit failed) and the like: the container runs.
		s.log().Warn("systemd booted with problems", "ctid", ctid, "state", state)
	default:
		s.log().Info("systemd booted", "ctid", ctid, "state", state)
	}
	return nil
}

// rcRunning reports whether a SysV rc script (/etc/init.d/rc or rcS, run
// by sh) is running in sb.
func rcRunning(sb *sandbox.Sandbox) bool {
	pids, err := sb.Pids()
	if err != nil {
		return false
	}
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && (args[1] == "/etc/init.d/rc" || args[1] == "/etc/init.d/rcS") {
			return true
		}
	}
	return false
}

// exists reports whether path exists in the root of process pid, as its
// mount namespace (its tmpfs /run) has it: resolved inside that root and
// not followed at the end, so nothing the container plants there points
// the host at its own files.
func exists(pid int, path string) bool {
	r, err := saferoot.Open(fmt.Sprintf("/proc/%d/root", pid), saferoot.CrossMounts())
	if err != nil {
		return false
	}
	defer r.Close()
	ok, _ := r.Exists(path)
	return ok
}

// waitReady polls ready until it holds (true), the init behind pidfd
// exits (false) or ctx ends.
func waitReady(ctx context.Context, pidfd, pid int, ready func() bool) (bool, error) {
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 0)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return false, fmt.Errorf("watch init %d: %w", pid, err)
		}
		if n > 0 {
			return false, nil
		}
		if ready() {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(bootPoll):
		}
	}
}

// initctl request of SysV init (sysvinit's initreq.h): what `telinit N`
// writes to /run/initctl.
const (
	initMagic     = 0x03091969
	initCmdRunlvl = 1
	initReqSize   = 384
)

// telinit asks the SysV init with host PID pid to enter runlevel, as
// `telinit` does, through its FIFO /run/initctl. The FIFO is looked up
// with openat2(RESOLVE_IN_ROOT) under the init's root, so no symlink in the
// container leads to a host file, and it is checked to be a FIFO through
// an O_PATH descriptor before it is opened for writing (opening some
// device planted there could have effects of its own).
func telinit(pid int, runlevel byte) error {
	root, err := unix.Open(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("telinit: root of init %d: %w", pid, err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, "run/initctl", &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return fmt.Errorf("telinit: /run/initctl of init %d: %w", pid, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("telinit: /run/initctl of init %d: %w", pid, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return fmt.Errorf("telinit: /run/initctl of init %d is not a FIFO", pid)
	}
	// O_NONBLOCK: fail (ENXIO) rather than hang when init is not reading.
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("telinit: open /run/initctl of init %d: %w", pid, err)
	}
	defer f.Close()
	req := make([]byte, initReqSize)
	binary.NativeEndian.PutUint32(req[0:], initMagic)
	binary.NativeEndian.PutUint32(req[4:], initCmdRunlvl)
	binary.NativeEndian.PutUint32(req[8:], uint32(runlevel))
	// A write of at most PIPE_BUF bytes to a FIFO is atomic.
	if _, err := f.Write(req); err != nil {
		return fmt.Errorf("telinit: write /run/initctl of init %d: %w", pid, err)
	}
	return nil
}

// requestShutdown asks the init of kind to power the container off:
// SIGRTMIN+3 makes systemd halt (in a container it then exits), runlevel 0
// makes SysV init run the rc scripts, whose halt ends the init through
// reboot(2); an init without /run/initctl gets SIGPWR, the minimal init
// SIGTERM.
func (s *Store) requestShutdown(sb *sandbox.Sandbox, pid int, kind InitKind) error {
	if kind == InitSysV {
		err := telinit(pid, '0')
		if err == nil {
			return nil
		}
		s.log().Warn("telinit 0 failed, sending SIGPWR", "pid", pid, "err", err)
	}
	return sb.Signal(shutdownSignal(kind))
}
