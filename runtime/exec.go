package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vzkit/vzkit/runtime/sandbox"
)

// ExecOptions describe a command run inside a running container.
type ExecOptions struct {
	Args   []string // one element is run with "sh -c", as OpenVZ's exec does
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Env    []string // added to the container's default environment

	TTY         bool // allocate a pty (enter); Stdout gets stdout and stderr
	ConsoleSize *sandbox.ConsoleSize
	Resize      <-chan sandbox.ConsoleSize
}

// Exec runs a command in a running container and returns its exit status
// (128+signal when it was killed). It takes no lock: like OpenVZ, exec and
// enter run beside other operations on the same container.
func (s *Store) Exec(ctx context.Context, ctid string, o ExecOptions) (int, error) {
	c, err := s.Load(ctid)
	if err != nil {
		return -1, err
	}
	sb, _, err := s.running(c)
	if err != nil {
		return -1, err
	}
	if sb == nil {
		return -1, fmt.Errorf("container %s: %w", ctid, ErrNotRunning)
	}
	s.rotateConsole(ctid)
	args := o.Args
	if len(args) == 0 {
		return -1, fmt.Errorf("%w: no command to run", ErrBadParam)
	}
	if len(args) == 1 {
		args = []string{"/bin/sh", "-c", args[0]}
	}
	env := append(append([]string{}, containerEnv...), o.Env...)
	return sb.Exec(ctx, sandbox.Process{
		Args: args, Env: env, Cwd: "/",
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr,
		TTY: o.TTY, ConsoleSize: o.ConsoleSize, Resize: o.Resize,
	})
}

// RunScript copies a host script into the running container's /tmp, runs
// it with /bin/sh and removes it; it returns the script's exit status.
func (s *Store) RunScript(ctx context.Context, ctid, script string, o ExecOptions) (int, error) {
	c, err := s.Load(ctid)
	if err != nil {
		return -1, err
	}
	if run, err := s.IsRunning(c); err != nil {
		return -1, err
	} else if !run {
		return -1, fmt.Errorf("container %s: %w", ctid, ErrNotRunning)
	}
	data, err := os.ReadFile(script)
	if err != nil {
		return -1, fmt.Errorf("runscript: %w", err)
	}
	r, err := c.openRoot()
	if err != nil {
		return -1, err
	}
	defer r.Close()
	var rnd [8]byte
	rand.Read(rnd[:])
	name := "tmp/vzkit-runscript-" + hex.EncodeToString(rnd[:]) + "-" + filepath.Base(script)
	// An image lacking /tmp gets a root-only one, which is all the script
	// needs.
	if err := r.MkdirAll("tmp", 0o700); err != nil {
		return -1, fmt.Errorf("container %s: %w", ctid, err)
	}
	// O_EXCL on a random name: nothing in the container can pre-plant it.
	f, err := r.Create(name, 0o700)
	if err != nil {
		return -1, fmt.Errorf("container %s: copy script: %w", ctid, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	defer r.Remove(name)
	if err != nil {
		return -1, fmt.Errorf("container %s: copy script: %w", ctid, err)
	}
	o.Args = []string{"/bin/sh", "/" + name}
	return s.Exec(ctx, ctid, o)
}
