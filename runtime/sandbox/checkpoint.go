package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/opencontainers/runc/libcontainer"
)

// CheckpointOptions say where a checkpoint's images go and what CRIU
// must carry besides memory and processes.
type CheckpointOptions struct {
	// CRIU is the criu binary; "" is criu on PATH.
	CRIU string
	// ImagesDir receives (checkpoint) or holds (restore) CRIU's images;
	// WorkDir its logs.
	ImagesDir, WorkDir string
	// TCPEstablished carries established TCP connections; FileLocks
	// held file locks.
	TCPEstablished, FileLocks bool
	// LeaveRunning keeps the sandbox running after its checkpoint.
	LeaveRunning bool
	// Veths name, for a restore, each veth inside the sandbox and the
	// host side CRIU makes for it.
	Veths []Veth
}

// Veth is a veth pair of a restored sandbox.
type Veth struct{ Inside, Host string }

// criuPathMu serialises the PATH change that points libcontainer, which
// runs "criu" from PATH, at CheckpointOptions.CRIU.
var criuPathMu sync.Mutex

// withCRIU runs fn with criu resolving to bin: libcontainer looks "criu"
// up on PATH, so a binary of another name or place is linked as "criu"
// in a directory of its own put first on PATH while fn runs.
func withCRIU(bin string, fn func() error) error {
	if bin == "" {
		return fn()
	}
	abs, err := exec.LookPath(bin)
	if err != nil {
		return fmt.Errorf("CRIU %s: %w", bin, err)
	}
	dir, err := os.MkdirTemp("", "vzkit-criu-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Symlink(abs, filepath.Join(dir, "criu")); err != nil {
		return err
	}
	criuPathMu.Lock()
	defer criuPathMu.Unlock()
	old := os.Getenv("PATH")
	os.Setenv("PATH", dir+string(os.PathListSeparator)+old)
	defer os.Setenv("PATH", old)
	return fn()
}

func (o CheckpointOptions) criuOpts() *libcontainer.CriuOpts {
	co := &libcontainer.CriuOpts{
		ImagesDirectory: o.ImagesDir, WorkDirectory: o.WorkDir,
		TcpEstablished: o.TCPEstablished, FileLocks: o.FileLocks, LeaveRunning: o.LeaveRunning,
		// The cgroup is the sandbox's own and already made by create:
		// CRIU restores the processes into it and its settings.
		ManageCgroupsMode: "soft",
	}
	for _, v := range o.Veths {
		co.VethPairs = append(co.VethPairs, libcontainer.VethPairName{ContainerInterfaceName: v.Inside, HostInterfaceName: v.Host})
	}
	return co
}

// Checkpoint dumps the running sandbox's processes with CRIU into
// o.ImagesDir; unless o.LeaveRunning the sandbox is stopped afterwards
// (its processes end as CRIU finishes), and its libcontainer state stays
// for Destroy.
func (s *Sandbox) Checkpoint(ctx context.Context, o CheckpointOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.WorkDir, 0o700); err != nil {
		return fmt.Errorf("sandbox %s: checkpoint: %w", s.ID(), err)
	}
	err := withCRIU(o.CRIU, func() error { return s.c.Checkpoint(o.criuOpts()) })
	if err != nil {
		return fmt.Errorf("sandbox %s: checkpoint into %s (CRIU's log: %s): %w", s.ID(), o.ImagesDir, filepath.Join(o.WorkDir, "dump.log"), err)
	}
	return nil
}

// Restore creates sandbox cfg and restores into it the processes that
// Checkpoint dumped into o.ImagesDir, detached as Start's init is: p
// gives only the init's stdio (nil or *os.File).
func Restore(ctx context.Context, cfg Config, p Process, o CheckpointOptions) (*Sandbox, error) {
	for name, f := range map[string]any{"stdin": p.Stdin, "stdout": p.Stdout, "stderr": p.Stderr} {
		if _, ok := f.(*os.File); f != nil && !ok {
			return nil, fmt.Errorf("sandbox %s: %s of a restored init must be an *os.File, not %T", cfg.ID, name, f)
		}
	}
	if err := os.MkdirAll(o.WorkDir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox %s: restore: %w", cfg.ID, err)
	}
	s, err := create(ctx, cfg)
	if err != nil {
		return nil, err
	}
	lp := &libcontainer.Process{Init: true, Stdin: p.Stdin, Stdout: p.Stdout, Stderr: p.Stderr}
	err = withCRIU(o.CRIU, func() error { return s.c.Restore(lp, o.criuOpts()) })
	if err != nil {
		_ = s.c.Destroy()
		return nil, fmt.Errorf("sandbox %s: restore from %s (CRIU's log: %s): %w", cfg.ID, o.ImagesDir, filepath.Join(o.WorkDir, "restore.log"), err)
	}
	s.initDone = make(chan struct{})
	go func() {
		defer close(s.initDone)
		_, _ = lp.Wait()
	}()
	return s, nil
}
