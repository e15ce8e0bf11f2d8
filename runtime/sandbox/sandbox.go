package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"

	_ "github.com/opencontainers/cgroups/devices" // device cgroup rules for the minimal /dev
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // C constructor of the re-executed init
	"golang.org/x/sys/unix"
)

// ErrNotExist is wrapped by Load's error when no sandbox has that ID.
var ErrNotExist = errors.New("sandbox does not exist")

// ErrNotRunning is wrapped by errors of operations that need a live init.
var ErrNotRunning = errors.New("sandbox not running")

// Init must be the first call in main() of every binary that starts
// sandboxes, and in TestMain of test binaries that do. When the process was
// re-executed by libcontainer as a container's init it runs libcontainer's
// init and never returns; otherwise it returns at once.
func Init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		dieWithCaller()
		libcontainer.Init()
	}
}

// dieWithCallerName names the memfd that Run hands its init as its first
// extra file (descriptor 3): the mark of a sandbox that must die with the
// process that runs it.
const dieWithCallerName = "vzkit-die-with-caller"

// dieWithCaller runs in the re-executed binary before libcontainer's init,
// in the very process that becomes the sandbox's init (libcontainer's C
// constructor has already made the namespaces). Marked by Run, it asks the
// kernel for SIGKILL when its parent, the Run caller's thread, ends;
// libcontainer's init keeps the setting across its credential changes and
// the exec of the payload. (libcontainer's own ParentDeathSignal only
// covers the short-lived process it starts first.)
func dieWithCaller() {
	target, err := os.Readlink("/proc/self/fd/3")
	if err != nil || target != "/memfd:"+dieWithCallerName+" (deleted)" {
		return
	}
	unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	unix.Close(3)
}

// ConsoleSize is a terminal's size in character cells.
type ConsoleSize struct {
	Rows, Cols uint16
}

// Process is a process to run in a sandbox.
type Process struct {
	Args []string
	Env  []string // nil = a standard PATH only
	Cwd  string   // "" = "/"
	UID  uint32
	GID  uint32

	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// TTY allocates a pty for the process, its input fed from Stdin and its
	// output (stdout and stderr together) written to Stdout; Stderr is
	// unused. Exec returns once the process has exited and every process
	// that kept the pty open (a backgrounded child, say) has closed it.
	TTY         bool
	ConsoleSize *ConsoleSize
	// Resize carries live window-size changes for the pty; optional.
	Resize <-chan ConsoleSize
}

// Status is the lifecycle state of a sandbox.
type Status string

const (
	Created Status = "created" // init set up but its program not yet started
	Running Status = "running"
	Paused  Status = "paused"
	Stopped Status = "stopped" // init has exited; Destroy cleans up
)

// State is a sandbox's status and its init's host PID (0 when stopped).
type State struct {
	Status  Status
	InitPID int
}

// Sandbox is a handle on a created sandbox.
type Sandbox struct {
	c *libcontainer.Container
	// initDone is closed once the init started by this process has been
	// reaped; nil for a Loaded handle.
	initDone chan struct{}
}

// Run creates a sandbox, runs p as its init, waits, and destroys the
// sandbox. It returns p's exit status, 128+signal when p was killed. When
// ctx ends the sandbox is killed and ctx's error is returned with the status.
//
// The sandbox dies with the calling process, SIGKILL included: its init
// gets SIGKILL as parent-death signal (see dieWithCaller), so a killed
// vzpkg never leaves a package's maintainer script running. The kernel
// sends that signal when the thread that started the init ends, so Run
// keeps the calling goroutine on its thread until it returns.
func Run(ctx context.Context, cfg Config, p Process) (status int, err error) {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	s, err := create(ctx, cfg)
	if err != nil {
		return -1, err
	}
	defer func() {
		if derr := s.Destroy(); derr != nil && err == nil {
			err = derr
		}
	}()
	return s.run(ctx, p, true)
}

// Start creates a detached sandbox whose init is p and returns once it is
// running. The init keeps running after the calling process exits, so p's
// Stdin, Stdout and Stderr must be nil (/dev/null) or *os.File (a log file,
// say), and TTY is not available: nothing in this process may be needed by
// the init later. ctx bounds the start only.
func Start(ctx context.Context, cfg Config, p Process) (*Sandbox, error) {
	if p.TTY {
		return nil, fmt.Errorf("sandbox %s: a detached init cannot have a TTY", cfg.ID)
	}
	if err := detachedStdio(cfg.ID, p); err != nil {
		return nil, err
	}
	s, err := create(ctx, cfg)
	if err != nil {
		return nil, err
	}
	lp := s.newProcess(p, true)
	lp.Stdin, lp.Stdout, lp.Stderr = p.Stdin, p.Stdout, p.Stderr
	if err := s.c.Run(lp); err != nil {
		_ = s.c.Destroy()
		return nil, fmt.Errorf("sandbox %s: start %q: %w", cfg.ID, p.Args, err)
	}
	s.reap(lp)
	slog.Debug("sandbox started", "id", cfg.ID, "args", p.Args)
	return s, nil
}

// detachedStdio refuses stdio a detached init cannot keep once the
// calling process is gone: anything but nil (/dev/null) or an *os.File.
func detachedStdio(id string, p Process) error {
	for name, f := range map[string]any{"stdin": p.Stdin, "stdout": p.Stdout, "stderr": p.Stderr} {
		if _, ok := f.(*os.File); f != nil && !ok {
			return fmt.Errorf("sandbox %s: %s of a detached init must be an *os.File, not %T", id, name, f)
		}
	}
	return nil
}

// reap waits for init lp, this process's child, so that a long-lived
// caller collects no zombie; initDone is closed once it has exited. The
// init does not depend on this goroutine.
func (s *Sandbox) reap(lp *libcontainer.Process) {
	s.initDone = make(chan struct{})
	go func() {
		defer close(s.initDone)
		_, _ = lp.Wait()
	}()
}

// Load returns a handle on the sandbox id kept in stateDir, which may have
// been started by another process. Its error wraps ErrNotExist when there is
// no such sandbox.
func Load(stateDir, id string) (*Sandbox, error) {
	c, err := libcontainer.Load(stateDir, id)
	if err != nil {
		if errors.Is(err, libcontainer.ErrNotExist) {
			return nil, fmt.Errorf("sandbox %s in %s: %w", id, stateDir, ErrNotExist)
		}
		return nil, fmt.Errorf("sandbox %s in %s: load: %w", id, stateDir, err)
	}
	return &Sandbox{c: c}, nil
}

// create makes the libcontainer container; a stopped leftover with the same
// ID (from a crashed run) is destroyed first, a live one is an error.
func create(ctx context.Context, cfg Config) (*Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	lc, err := cfg.libcontainerConfig()
	if err != nil {
		return nil, err
	}
	if cfg.DelegateCgroup && cfg.UserNS != nil {
		if err := cfg.chownDelegatedCgroup(); err != nil {
			return nil, err
		}
	}
	c, err := libcontainer.Create(cfg.StateDir, cfg.ID, lc)
	if errors.Is(err, libcontainer.ErrExist) {
		old, lerr := Load(cfg.StateDir, cfg.ID)
		if lerr != nil {
			return nil, fmt.Errorf("sandbox %s: exists, and %w", cfg.ID, lerr)
		}
		if st, serr := old.c.Status(); serr != nil || st != libcontainer.Stopped {
			return nil, fmt.Errorf("sandbox %s in %s: %w", cfg.ID, cfg.StateDir, libcontainer.ErrExist)
		}
		slog.Info("removing stopped leftover sandbox", "id", cfg.ID, "statedir", cfg.StateDir)
		if err := old.Destroy(); err != nil {
			return nil, err
		}
		c, err = libcontainer.Create(cfg.StateDir, cfg.ID, lc)
	}
	if err != nil {
		return nil, fmt.Errorf("sandbox %s in %s: create: %w", cfg.ID, cfg.StateDir, err)
	}
	return &Sandbox{c: c}, nil
}

// ID returns the sandbox's ID.
func (s *Sandbox) ID() string { return s.c.ID() }

// Exec runs p inside the running sandbox (joining its namespaces and
// cgroup), waits for it and returns its exit status, 128+signal when killed.
// When ctx ends p is killed.
func (s *Sandbox) Exec(ctx context.Context, p Process) (int, error) {
	// libcontainer would try to join the namespaces of a dead init and fail
	// obscurely.
	if st, err := s.State(); err != nil {
		return -1, err
	} else if st.Status != Running {
		return -1, fmt.Errorf("sandbox %s: exec %q: %w (%s)", s.ID(), p.Args, ErrNotRunning, st.Status)
	}
	return s.run(ctx, p, false)
}

func (s *Sandbox) newProcess(p Process, init bool) *libcontainer.Process {
	env := p.Env
	if len(env) == 0 {
		env = []string{defaultPath}
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	return &libcontainer.Process{
		Args: p.Args, Env: env, Cwd: cwd,
		UID: int(p.UID), GID: int(p.GID),
		Init: init,
	}
}

func (s *Sandbox) run(ctx context.Context, p Process, init bool) (int, error) {
	if len(p.Args) == 0 {
		return -1, fmt.Errorf("sandbox %s: no command", s.ID())
	}
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	lp := s.newProcess(p, init)
	if init {
		fd, err := unix.MemfdCreate(dieWithCallerName, unix.MFD_CLOEXEC)
		if err != nil {
			return -1, fmt.Errorf("sandbox %s: %w", s.ID(), err)
		}
		mark := os.NewFile(uintptr(fd), dieWithCallerName)
		defer mark.Close()
		lp.ExtraFiles = []*os.File{mark} // descriptor 3 of the init
	}
	var con *console
	if p.TTY {
		var err error
		if con, err = newConsole(); err != nil {
			return -1, fmt.Errorf("sandbox %s: %w", s.ID(), err)
		}
		defer con.close()
		lp.ConsoleSocket = con.child
		if p.ConsoleSize != nil {
			lp.ConsoleHeight, lp.ConsoleWidth = p.ConsoleSize.Rows, p.ConsoleSize.Cols
		}
	} else {
		lp.Stdin, lp.Stdout, lp.Stderr = p.Stdin, p.Stdout, p.Stderr
	}
	if err := s.c.Run(lp); err != nil {
		return -1, fmt.Errorf("sandbox %s: run %q: %w", s.ID(), p.Args, err)
	}
	exited := make(chan struct{})
	defer close(exited)
	if con != nil {
		if err := con.attach(p.Stdin, p.Stdout, p.Resize, exited); err != nil {
			_ = lp.Signal(unix.SIGKILL)
			_, _ = lp.Wait()
			return -1, fmt.Errorf("sandbox %s: console: %w", s.ID(), err)
		}
	}
	go func() {
		select {
		case <-ctx.Done():
			// For an init this takes the whole PID namespace with it.
			_ = lp.Signal(unix.SIGKILL)
		case <-exited:
		}
	}()
	ps, werr := lp.Wait()
	if con != nil {
		// All output is read once every holder of the pty's slave side is
		// gone; for an init that is the whole sandbox.
		con.drain()
	}
	if ps == nil {
		return -1, fmt.Errorf("sandbox %s: wait %q: %w", s.ID(), p.Args, werr)
	}
	status := exitStatus(ps)
	if err := ctx.Err(); err != nil {
		return status, fmt.Errorf("sandbox %s: %q: %w", s.ID(), p.Args, err)
	}
	return status, nil
}

func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// Signal sends sig to the sandbox's init.
func (s *Sandbox) Signal(sig os.Signal) error {
	if err := s.c.Signal(sig); err != nil {
		if errors.Is(err, libcontainer.ErrNotRunning) {
			return fmt.Errorf("sandbox %s: signal %v: %w", s.ID(), sig, ErrNotRunning)
		}
		return fmt.Errorf("sandbox %s: signal %v: %w", s.ID(), sig, err)
	}
	return nil
}

// State reports whether the sandbox's init is alive (comparing its PID and
// start time with those recorded, so a reused PID reads as Stopped).
func (s *Sandbox) State() (State, error) {
	st, err := s.c.Status()
	if err != nil {
		return State{}, fmt.Errorf("sandbox %s: status: %w", s.ID(), err)
	}
	var out State
	switch st {
	case libcontainer.Created:
		out.Status = Created
	case libcontainer.Running:
		out.Status = Running
	case libcontainer.Paused:
		out.Status = Paused
	default:
		return State{Status: Stopped}, nil
	}
	ls, err := s.c.State()
	if err != nil {
		return State{}, fmt.Errorf("sandbox %s: state: %w", s.ID(), err)
	}
	out.InitPID = ls.InitProcessPid
	return out, nil
}

// Pids returns the host PIDs of all processes in the sandbox's cgroup.
func (s *Sandbox) Pids() ([]int, error) {
	pids, err := s.c.Processes()
	if err != nil {
		return nil, fmt.Errorf("sandbox %s: processes: %w", s.ID(), err)
	}
	return pids, nil
}

// Set changes the limits of the running sandbox to r: its cgroup, the
// rlimits of its processes and its IPC sysctls. A zero field lifts that
// limit. The sandbox then holds what Start with r would have given it; an
// rlimit raise the host cannot make for running processes is
// ErrRaiseLater, returned once everything else is set.
func (s *Sandbox) Set(r Resources) error {
	cfg := s.c.Config()
	cg := *cfg.Cgroups
	res := *cg.Resources
	base := res.Devices
	for _, l := range cfg.Labels {
		if n, ok := strings.CutPrefix(l, baseDevicesLabel+"="); ok {
			if i, err := strconv.Atoi(n); err == nil && i <= len(base) {
				base = base[:i]
			}
		}
	}
	applyResources(&res, r, true, base)
	cg.Resources = &res
	cfg.Cgroups = &cg
	rl, err := r.rlimits()
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", s.ID(), err)
	}
	cfg.Rlimits = rl
	if err := s.c.Set(cfg); err != nil {
		if errors.Is(err, libcontainer.ErrNotRunning) {
			return fmt.Errorf("sandbox %s: set resources: %w", s.ID(), ErrNotRunning)
		}
		return fmt.Errorf("sandbox %s: set resources: %w", s.ID(), err)
	}
	st, err := s.State()
	if err != nil {
		return err
	}
	return s.setLive(r, st.InitPID)
}

// baseDevicesLabel counts the device rules of a sandbox's own (runc's
// defaults and its device nodes), which Set keeps.
const baseDevicesLabel = "vzkit.base-device-rules"

// Destroy kills every process in the sandbox, waits for its init to be
// gone, and removes its cgroup and state. Destroying a stopped sandbox just
// cleans up.
func (s *Sandbox) Destroy() error {
	if err := s.kill(); err != nil {
		return err
	}
	if err := s.c.Destroy(); err != nil {
		return fmt.Errorf("sandbox %s: destroy: %w", s.ID(), err)
	}
	slog.Debug("sandbox destroyed", "id", s.ID())
	return nil
}

// kill sends SIGKILL to the init (which, as PID 1 of its namespace, takes
// every other process with it) and waits until it has exited.
func (s *Sandbox) kill() error {
	st, err := s.State()
	if err != nil {
		return err
	}
	if st.Status == Stopped {
		return nil
	}
	// The init may be another process's child, so wait through a pidfd.
	// Opened before re-checking that the init is alive, it cannot refer
	// to a process that reused the PID.
	pidfd, err := unix.PidfdOpen(st.InitPID, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("sandbox %s: pidfd of init %d: %w", s.ID(), st.InitPID, err)
	}
	defer unix.Close(pidfd)
	if st, err := s.State(); err != nil || st.Status == Stopped {
		return err
	}
	err = s.c.Signal(unix.SIGKILL)
	if errors.Is(err, libcontainer.ErrNotRunning) {
		// libcontainer can lose track of an init that CRIU restored (its
		// recorded start time is not the restored task's); the pidfd
		// names this very process, so the kill cannot hit a reused PID.
		err = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		if errors.Is(err, unix.ESRCH) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("sandbox %s: kill: %w", s.ID(), err)
	}
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("sandbox %s: wait for init %d: %w", s.ID(), st.InitPID, err)
		}
	}
	if s.initDone != nil {
		<-s.initDone
	}
	return nil
}
