package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vzkit/vzkit/runtime/sandbox"
)

// ExecOptions describe a command run inside a container.
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

// process is the sandbox process of o running args.
func (o ExecOptions) process(args []string) sandbox.Process {
	return sandbox.Process{
		Args: args, Env: append(append([]string{}, containerEnv...), o.Env...), Cwd: "/",
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr,
		TTY: o.TTY, ConsoleSize: o.ConsoleSize, Resize: o.Resize,
	}
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
	return sb.Exec(ctx, o.process(args))
}

// maxScript bounds the host-side script runscript reads into memory.
const maxScript = 64 << 20

// RunScript copies the host file script into the container, runs it with
// the interpreter of its #! line (/bin/sh without one), removes it, and
// returns its exit status. A running container runs it beside its other
// processes, taking no lock, as Exec does. A stopped one runs it as OpenVZ
// does: under the container's lock, its root mounted for the script, no
// init started, the script in a one-off sandbox with the container's
// privileges (oneOff), the root unmounted again.
func (s *Store) RunScript(ctx context.Context, ctid, script string, o ExecOptions) (int, error) {
	data, err := readScript(script)
	if err != nil {
		return -1, err
	}
	c, err := s.Load(ctid)
	if err != nil {
		return -1, err
	}
	sb, _, err := s.running(c)
	if err != nil {
		return -1, err
	}
	if sb == nil {
		lk, err := s.LockCT(ctid)
		if err != nil {
			return -1, err
		}
		defer lk.Unlock()
		if c, err = s.Load(ctid); err != nil {
			return -1, err
		}
		// It may have been started before the lock was ours.
		if sb, _, err = s.running(c); err != nil {
			return -1, err
		}
	}
	if sb != nil {
		s.rotateConsole(ctid)
		return s.runScriptIn(c, data, script, o, func(p sandbox.Process) (int, error) { return sb.Exec(ctx, p) })
	}
	status := -1
	err = s.oneOff(ctx, c, "runscript", func(run func(sandbox.Process) (int, error)) error {
		var err error
		status, err = s.runScriptIn(c, data, script, o, run)
		return err
	})
	return status, err
}

func readScript(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("runscript: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("runscript: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: runscript: %s is not a regular file", ErrBadParam, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxScript+1))
	if err != nil {
		return nil, fmt.Errorf("runscript: %w", err)
	}
	if len(data) > maxScript {
		return nil, fmt.Errorf("%w: runscript: %s is larger than %d MiB", ErrBadParam, path, maxScript>>20)
	}
	return data, nil
}

// runScriptIn places the script in c's mounted root, runs it with run and
// removes it. It goes to the top of the root, not /tmp: a running
// container may have a tmpfs over its /tmp (systemd's tmp.mount), which
// would hide a file written from the host. The root is the container's,
// so the file is made through saferoot, with O_EXCL under a random name
// that nothing in the container can have planted, readable by its root
// only.
func (s *Store) runScriptIn(c *Container, data []byte, script string, o ExecOptions, run func(sandbox.Process) (int, error)) (int, error) {
	r, err := c.openRoot()
	if err != nil {
		return -1, err
	}
	defer r.Close()
	var rnd [8]byte
	rand.Read(rnd[:])
	name := ".vzkit-runscript-" + hex.EncodeToString(rnd[:]) + "-" + filepath.Base(script)
	f, err := r.Create(name, 0o700)
	if err != nil {
		return -1, fmt.Errorf("container %s: copy script: %w", c.ID, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	defer func() {
		if err := r.Remove(name); err != nil {
			s.log().Warn("runscript: copy of the script not removed", "ctid", c.ID, "file", "/"+name, "err", err)
		}
	}()
	if err != nil {
		return -1, fmt.Errorf("container %s: copy script: %w", c.ID, err)
	}
	return run(o.process(scriptCommand(data, "/"+name)))
}

// scriptCommand is the command that runs the script at path as the kernel
// would for its "#!INTERPRETER [ARGUMENT]" line (everything after the
// interpreter is one argument, as execve(2) has it): INTERPRETER
// [ARGUMENT] PATH; without a #! line, /bin/sh PATH. Running the
// interpreter, not the file, also works where the file system is noexec.
func scriptCommand(data []byte, path string) []string {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	rest, ok := bytes.CutPrefix(line, []byte("#!"))
	t := strings.Trim(string(rest), " \t\r")
	if !ok || t == "" {
		return []string{"/bin/sh", path}
	}
	i := strings.IndexAny(t, " \t")
	if i < 0 {
		return []string{t, path}
	}
	return []string{t[:i], strings.Trim(t[i:], " \t"), path}
}
