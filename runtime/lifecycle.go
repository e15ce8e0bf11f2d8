package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/runtime/sandbox"
)

const sigRTMinPlus3 = unix.Signal(34 + 3) // SIGRTMIN+3: systemd's "halt"

// containerEnv is the environment of processes vzctl starts in a container.
var containerEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"container=vzkit", // systemd and friends check this
}

func (s *Store) load(c *Container) (*sandbox.Sandbox, error) {
	sb, err := sandbox.Load(s.sandboxDir(), sandboxID(c.ID))
	if errors.Is(err, sandbox.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	return sb, nil
}

// running returns the container's sandbox when its init is alive.
func (s *Store) running(c *Container) (*sandbox.Sandbox, int, error) {
	sb, err := s.load(c)
	if err != nil || sb == nil {
		return nil, 0, err
	}
	st, err := sb.State()
	if err != nil {
		return nil, 0, fmt.Errorf("container %s: %w", c.ID, err)
	}
	if st.Status == sandbox.Stopped || st.InitPID <= 0 {
		return nil, 0, nil
	}
	return sb, st.InitPID, nil
}

// IsRunning reports whether the container's init is alive.
func (s *Store) IsRunning(c *Container) (bool, error) {
	sb, _, err := s.running(c)
	return sb != nil, err
}

// Mount mounts the container's root at VE_ROOT (`vzctl mount`).
func (s *Store) Mount(ctx context.Context, ctid string) error {
	lk, err := s.LockCT(ctid)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	c, err := s.Load(ctid)
	if err != nil {
		return err
	}
	return s.mount(c)
}

// Umount unmounts a stopped container's root (`vzctl umount`).
func (s *Store) Umount(ctx context.Context, ctid string) error {
	lk, err := s.LockCT(ctid)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	c, err := s.Load(ctid)
	if err != nil {
		return err
	}
	if run, err := s.IsRunning(c); err != nil {
		return err
	} else if run {
		return fmt.Errorf("container %s: %w (stop it to unmount)", ctid, ErrRunning)
	}
	return s.umount(c)
}

// Start mounts the container and starts its init; it returns once the
// init runs. An image without /sbin/init gets the minimal init.
func (s *Store) Start(ctx context.Context, ctid string, o StartOptions) error {
	// A container checkpointed into its default dump resumes from it, as
	// OpenVZ's VE_STOP_MODE=suspend has it.
	if s.HasDump(ctid, "") {
		return s.restore(ctx, ctid, "", o)
	}
	lk, err := s.LockCT(ctid)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	return s.start(ctx, ctid, o)
}

// StartOptions are the parameters of `vzctl start`.
type StartOptions struct {
	// Wait makes a boot that is not done within the boot timeout an
	// error (ErrBootTimeout); without it start only logs it, the
	// container keeps booting.
	Wait bool
	// Force starts a container whose CTID.conf says DISABLED="yes".
	Force bool
	// restore, when set, restores the container from this dump (made by
	// Checkpoint) instead of booting its init.
	restore *dump
}

// KeyDisabled is the CTID.conf key that stops a container from being
// started (vzctl set --disabled yes), unless start --force.
const KeyDisabled = "DISABLED"

func (s *Store) start(ctx context.Context, ctid string, o StartOptions) (err error) {
	c, err := s.Load(ctid)
	if err != nil {
		return err
	}
	if c.Get(KeyDisabled) == "yes" && !o.Force {
		return fmt.Errorf("container %s: %w: DISABLED=\"yes\" in %s (start --force starts it anyway; set --disabled no --save enables it)", ctid, ErrStartDisabled, c.ConfPath)
	}
	if run, err := s.IsRunning(c); err != nil {
		return err
	} else if run {
		return fmt.Errorf("container %s: %w", ctid, ErrRunning)
	}
	// A sandbox whose init died on its own still has state and a cgroup.
	if sb, err := s.load(c); err != nil {
		return err
	} else if sb != nil {
		if err := sb.Destroy(); err != nil {
			return fmt.Errorf("container %s: clean up stopped sandbox: %w", ctid, err)
		}
	}
	ips, err := parseIPs(c.IPs())
	if err != nil {
		return fmt.Errorf("container %s: IP_ADDRESS in %s: %w", ctid, c.ConfPath, err)
	}
	if err := s.ensureIDRange(c); err != nil {
		return err
	}
	wasMounted, err := s.IsMounted(c)
	if err != nil {
		return err
	}
	// The disk quota is in place before the init runs (an image is
	// resized offline, before it is mounted). A second-level quota the
	// host cannot give is said, not a reason to stay down.
	rc, err := s.Resources(c)
	if err != nil {
		return err
	}
	if err := s.applyDiskQuota(ctx, c, rc.Disk); errors.Is(err, ErrQuotaUnsupported) {
		s.log().Warn("disk quota not applied", "ctid", ctid, "err", err)
	} else if err != nil {
		return err
	}
	if err := s.mount(c); err != nil {
		return err
	}
	var sb *sandbox.Sandbox
	defer func() {
		if err == nil {
			return
		}
		if sb != nil {
			sb.Destroy()
		}
		os.Remove(s.inForceRecord(ctid))
		os.Remove(s.stateRecord(ctid))
		if s.Net != nil {
			s.Net.Detach(context.WithoutCancel(ctx), ctid)
		}
		s.keepConsole(ctid)
		s.closeGate(ctid)
		if !wasMounted {
			s.umount(c)
		}
	}()
	os.Remove(s.keptConsoleLog(ctid)) // of an earlier start that failed
	kind, err := s.ensureInitKind(c)
	if err != nil {
		return err
	}
	prof, err := profileOf(c, kind)
	if err != nil {
		return err
	}
	if err := s.writeConfFiles(c); err != nil {
		return err
	}
	res, err := s.sandboxResources(c, rc, s.host(c))
	if err != nil {
		return err
	}
	root, console, err := s.openGate(c, prof.idmap)
	if err != nil {
		return err
	}
	cfg := sandbox.Config{
		ID:         sandboxID(ctid),
		Root:       root,
		StateDir:   s.sandboxDir(),
		Hostname:   hostnameOf(c),
		CgroupPath: s.cgroupPath(ctid),
		Resources:  res,
	}
	prof.apply(&cfg)
	var argv []string
	switch kind {
	case InitMinimal:
		dir, a, err := s.initFS(ctx)
		if err != nil {
			return err
		}
		argv = a
		cfg.Mounts = append(cfg.Mounts, sandbox.Mount{Source: dir, Destination: initMountPoint, ReadOnly: true})
	default:
		argv = []string{"/sbin/init"}
	}
	logf, err := openConsole(console)
	if err != nil {
		return fmt.Errorf("container %s: console log: %w", ctid, err)
	}
	defer logf.Close()
	if kind == InitSysV {
		// What init and the rc scripts write to /dev/console lands in
		// the console log, beside the init's own stdout and stderr.
		// systemd gets no /dev/console: it logs to its journal, and its
		// console-getty.service (skipped without /dev/console) would
		// restart agetty on a file that is no terminal until it fails.
		cfg.Console = console
	}
	if o.restore != nil {
		s.log().Info("restoring container", "ctid", ctid, "init", kind, "dump", o.restore.dir, "privileged", prof.idmap == nil)
		sb, err = sandbox.Restore(ctx, cfg, sandbox.Process{Stdout: logf, Stderr: logf}, o.restore.options())
		if err != nil {
			return fmt.Errorf("container %s: %w: %w", ctid, ErrRestore, err)
		}
	} else {
		s.log().Info("starting container", "ctid", ctid, "init", kind, "argv", argv, "privileged", prof.idmap == nil, "console", console)
		sb, err = sandbox.Start(ctx, cfg, sandbox.Process{
			Args: argv, Env: containerEnv, Cwd: "/", Stdout: logf, Stderr: logf,
		})
		if err != nil {
			return fmt.Errorf("container %s: start %s: %w", ctid, strings.Join(argv, " "), err)
		}
	}
	st, err := sb.State()
	if err != nil {
		return fmt.Errorf("container %s: %w", ctid, err)
	}
	if st.InitPID <= 0 {
		// It has died already, before its network or boot is looked at.
		return s.initExited(ctid, kind)
	}
	// What the sandbox holds from now on, until a live set changes it.
	if err := s.recordInForce(ctid, rc); err != nil {
		return err
	}
	var att *NetAttachment
	if s.Net != nil && len(ips) > 0 {
		if att, err = s.attach(ctx, c, st.InitPID, ips); err != nil {
			return err
		}
	} else if len(ips) > 0 {
		s.log().Warn("no network backend: IP_ADDRESS not configured", "ctid", ctid)
	}
	// Recorded before the wait, so that a stop after an interrupted start
	// still knows how to shut this init down.
	layout, err := c.Layout()
	if err != nil {
		return err
	}
	rs := &RunState{
		CTID: ctid, Started: time.Now().UTC(), Init: kind, InitPID: st.InitPID,
		SandboxID: cfg.ID, CgroupPath: cfg.CgroupPath, Privileged: prof.idmap == nil,
		Layout: layout, Private: c.Private, Root: c.Root, Network: att,
	}
	for _, m := range cfg.Mounts {
		rs.Mounts = append(rs.Mounts, StateMount{Source: m.Source, Destination: m.Destination, ReadOnly: m.ReadOnly})
	}
	if err := s.writeState(rs); err != nil {
		return err
	}
	if o.restore != nil {
		return nil // it booted before its checkpoint
	}
	return s.waitBoot(ctx, ctid, sb, st.InitPID, kind, o.Wait)
}

// openConsole opens the console log for the init's stdout and stderr:
// found without following a symlink, then reopened through /proc so
// that the descriptor the init keeps carries no O_NOFOLLOW (CRIU reopens
// it through /proc/self/fd at a restore, which O_NOFOLLOW refuses).
func openConsole(path string) (*os.File, error) {
	pf, err := os.OpenFile(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(pf.Fd()), &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", pf.Fd()), os.O_WRONLY|os.O_APPEND, 0)
}

// hostnameOf is the kernel hostname of c's sandboxes: HOSTNAME, else
// "ctCTID".
func hostnameOf(c *Container) string {
	if h := c.Get("HOSTNAME"); h != "" {
		return h
	}
	return "ct" + c.ID
}

// oneOff runs fn in stopped container c as OpenVZ runs a script there:
// its root mounted (and unmounted afterwards, unless it was mounted
// before), no init, and run giving each process a sandbox of its own on
// that root with the privileges the container has running (as a minimal
// init's: no extras for an init that is not there) and only a loopback
// network. suffix tells the sandbox apart from the container's own, which
// cannot run meanwhile: the caller holds c's lock.
func (s *Store) oneOff(ctx context.Context, c *Container, suffix string, fn func(run func(sandbox.Process) (int, error)) error) (err error) {
	if err := s.ensureIDRange(c); err != nil {
		return err
	}
	was, err := s.IsMounted(c)
	if err != nil {
		return err
	}
	if err := s.mount(c); err != nil {
		return err
	}
	if !was {
		defer func() {
			if uerr := s.umount(c); uerr != nil && err == nil {
				err = uerr
			}
		}()
	}
	prof, err := profileOf(c, InitMinimal)
	if err != nil {
		return err
	}
	// A script in a stopped container is held as the container would be.
	rc, err := s.Resources(c)
	if err != nil {
		return err
	}
	res, err := s.sandboxResources(c, rc, s.host(c))
	if err != nil {
		return err
	}
	root, _, err := s.openGate(c, prof.idmap)
	if err != nil {
		return err
	}
	defer s.closeGate(c.ID)
	cfg := sandbox.Config{
		ID: sandboxID(c.ID) + "-" + suffix, Root: root, StateDir: s.sandboxDir(),
		Hostname: hostnameOf(c), CgroupPath: s.cgroupPath(c.ID) + "-" + suffix,
		Resources: res,
	}
	prof.apply(&cfg)
	return fn(func(p sandbox.Process) (int, error) { return sandbox.Run(ctx, cfg, p) })
}

// attach connects a starting container with addresses to the network,
// once no one else (the host, a running container) holds them. Only now
// does the host get what routed networking needs (forwarding, proxy ARP;
// package runtime/net): a host whose containers have no address is left
// as it is.
func (s *Store) attach(ctx context.Context, c *Container, pid int, ips []netip.Prefix) (*NetAttachment, error) {
	lk, err := s.ipLock()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	defer lk.Unlock()
	if err := s.checkIPsFree(ctx, c.ID, ips, false); err != nil {
		return nil, fmt.Errorf("container %s: IP_ADDRESS: %w", c.ID, err)
	}
	att, err := s.Net.Attach(ctx, c.ID, fmt.Sprintf("/proc/%d/ns/net", pid), c.IPs())
	if err != nil {
		return nil, fmt.Errorf("container %s: network: %w", c.ID, err)
	}
	return att, nil
}

// detectInit tells the init of a root from its /sbin/init: systemd,
// SysV-style, or none (the minimal init). It is only asked when a
// container is made (or, once, for one made by an older vzkit): from then
// on the kind is configuration, whatever the image's /sbin/init becomes.
func detectInit(root string) InitKind {
	// SecureJoin resolves /sbin/init and its (often absolute) symlinks as
	// the container would see them, without leaving root.
	p, err := securejoin.SecureJoin(root, "/sbin/init")
	if err != nil {
		return InitMinimal
	}
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return InitMinimal
	}
	if strings.Contains(strings.TrimPrefix(p, root), "systemd") {
		return InitSystemd
	}
	return InitSysV
}

// forgetInit removes what a run left in STATEDIR: the state record, the
// resources in force and the gate with the console log.
func (s *Store) forgetInit(ctid string) {
	os.Remove(s.stateRecord(ctid))
	os.Remove(s.inForceRecord(ctid))
	os.Remove(s.keptConsoleLog(ctid))
	s.closeGate(ctid)
}

// shutdownSignal is the signal that asks an init of kind to power off.
func shutdownSignal(kind InitKind) unix.Signal {
	switch kind {
	case InitSystemd:
		return sigRTMinPlus3
	case InitSysV:
		return unix.SIGPWR
	}
	return unix.SIGTERM
}

// StopOptions are the parameters of `vzctl stop`.
type StopOptions struct {
	Fast    bool          // kill at once, no clean shutdown
	Timeout time.Duration // 0 = STOP_TIMEOUT of CTID.conf, else of vz.conf
	// SkipUmount leaves the root mounted at VE_ROOT (status "mounted").
	SkipUmount bool
}

// stopTimeout is STOP_TIMEOUT of the container's CTID.conf, else of vz.conf.
func (s *Store) stopTimeout(c *Container) (time.Duration, error) {
	v, where := s.G.Get("STOP_TIMEOUT"), s.G.Origin("STOP_TIMEOUT")
	if cv, ok := c.Conf.Get("STOP_TIMEOUT"); ok && cv != "" {
		v, where = cv, fmt.Sprintf("%s:%d", c.ConfPath, c.Conf.Line("STOP_TIMEOUT"))
	}
	secs, err := strconv.Atoi(v)
	if err != nil || secs < 0 {
		return 0, fmt.Errorf("%w: %s: STOP_TIMEOUT=%q: want a number of seconds, 0 or more", ErrBadParam, where, v)
	}
	return time.Duration(secs) * time.Second, nil
}

// Stop shuts the container down: the init's shutdown signal, then, after
// the timeout (or at once with Fast), every process is killed; the root is
// unmounted.
func (s *Store) Stop(ctx context.Context, ctid string, o StopOptions) error {
	lk, err := s.LockCT(ctid)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	return s.stop(ctx, ctid, o)
}

func (s *Store) stop(ctx context.Context, ctid string, o StopOptions) error {
	c, err := s.Load(ctid)
	if err != nil {
		return err
	}
	sb, pid, err := s.running(c)
	if err != nil {
		return err
	}
	if sb == nil {
		// Clean up after an init that exited on its own, then report.
		if stale, _ := s.load(c); stale != nil {
			stale.Destroy()
		}
		s.forgetInit(ctid)
		s.umount(c)
		return fmt.Errorf("container %s: %w", ctid, ErrNotRunning)
	}
	if !o.Fast {
		if o.Timeout == 0 {
			if o.Timeout, err = s.stopTimeout(c); err != nil {
				return err
			}
		}
		// An init whose start did not get as far as its record (killed
		// before it) is asked the way any process is.
		kind := InitMinimal
		rs, ok, err := s.RunState(ctid)
		if err != nil {
			s.log().Warn("state record unreadable: stopping the init as a minimal one", "ctid", ctid, "err", err)
		} else if ok {
			kind = rs.Init
		}
		s.log().Info("stopping container", "ctid", ctid, "init", kind, "timeout", o.Timeout)
		if err := s.waitExit(ctx, pid, func() error { return s.requestShutdown(sb, pid, kind) }, o.Timeout); err != nil {
			return err
		}
	}
	if err := sb.Destroy(); err != nil {
		return fmt.Errorf("container %s: %w", ctid, err)
	}
	if s.Net != nil {
		if err := s.Net.Detach(ctx, ctid); err != nil {
			s.log().Warn("network teardown failed", "ctid", ctid, "err", err)
		}
	}
	s.forgetInit(ctid)
	if o.SkipUmount {
		return nil
	}
	return s.umount(c)
}

// waitExit asks the init to shut down and waits, through a pidfd, until it
// exits or timeout passes; a timeout is not an error (the caller kills).
func (s *Store) waitExit(ctx context.Context, pid int, shutdown func() error, timeout time.Duration) error {
	pfd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("watch init %d: %w", pid, err)
	}
	defer unix.Close(pfd)
	if err := shutdown(); err != nil {
		return fmt.Errorf("shut down init %d: %w", pid, err)
	}
	deadline := time.Now().Add(timeout)
	for ctx.Err() == nil {
		left := time.Until(deadline)
		if left <= 0 {
			s.log().Warn("clean shutdown timed out, killing", "pid", pid, "timeout", timeout)
			return nil
		}
		ms := min(left.Milliseconds()+1, 500) // wake up now and then for ctx
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}, int(ms))
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("watch init %d: %w", pid, err)
		}
		if n > 0 {
			return nil
		}
	}
	return ctx.Err()
}

// Restart stops (cleanly) a running container and starts it again.
func (s *Store) Restart(ctx context.Context, ctid string, o StopOptions, so StartOptions) error {
	lk, err := s.LockCT(ctid)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if err := s.stop(ctx, ctid, o); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	return s.start(ctx, ctid, so)
}

// StartOnBoot starts every stopped container with ONBOOT="yes" and returns
// the errors of those that failed, joined; a CTID.conf that cannot be read
// is one of those errors, not a reason to start nothing.
func (s *Store) StartOnBoot(ctx context.Context) (started []string, err error) {
	regs, err := s.Scan()
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, r := range regs {
		if r.Err != nil { // reported, and the others still start
			errs = append(errs, r.Err)
			continue
		}
		c := r.C
		if c.Get("ONBOOT") != "yes" || c.Get(KeyDisabled) == "yes" {
			continue
		}
		if run, err := s.IsRunning(c); err == nil && run {
			continue
		}
		if err := s.Start(ctx, c.ID, StartOptions{}); err != nil {
			errs = append(errs, err)
			continue
		}
		started = append(started, c.ID)
	}
	return started, errors.Join(errs...)
}

// Status is a container's state as `vzctl status` reports it.
type Status struct {
	CTID    string `json:"ctid"`
	Name    string `json:"name,omitempty"`
	Exist   bool   `json:"exist"`
	Mounted bool   `json:"mounted"`
	Running bool   `json:"running"`
	NProc   int    `json:"nproc"`
	InitPID int    `json:"init_pid,omitempty"`
}

// String is OpenVZ's one-line form: "CTID 101 exist mounted running".
func (st Status) String() string {
	w := []string{"CTID", st.CTID, "deleted", "unmounted", "down"}
	if st.Exist {
		w[2] = "exist"
	}
	if st.Mounted {
		w[3] = "mounted"
	}
	if st.Running {
		w[4] = "running"
	}
	return strings.Join(w, " ")
}

// StatusOf reports whether ctid exists, is mounted and runs.
func (s *Store) StatusOf(ctid string) (Status, error) {
	st := Status{CTID: ctid}
	c, err := s.Load(ctid)
	if errors.Is(err, ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	return s.status(c)
}

func (s *Store) status(c *Container) (Status, error) {
	st := Status{CTID: c.ID, Name: c.Name(), Exist: true}
	var err error
	if st.Mounted, err = s.IsMounted(c); err != nil {
		return st, err
	}
	sb, pid, err := s.running(c)
	if err != nil || sb == nil {
		return st, err
	}
	st.Running, st.InitPID = true, pid
	s.rotateConsole(c.ID)
	pids, err := sb.Pids()
	if err != nil {
		return st, fmt.Errorf("container %s: %w", c.ID, err)
	}
	st.NProc = len(pids)
	return st, nil
}
