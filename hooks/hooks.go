package hooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/saferoot"
)

// Stage names a point in the build where template scripts run.
type Stage string

const (
	PreInstall  Stage = "pre-install"  // root unpacked, before packages are configured
	PostInstall Stage = "post-install" // packages configured
	PreCache    Stage = "pre-cache"    // last step before the root is packed
)

// Script is one template script.
type Script struct {
	Stage  Stage
	Body   []byte
	Origin string // where it was defined, e.g. "debian.yaml:42:5" or a file path
}

// Executor runs a command inside the root being built and returns its exit
// status. cmd wires it to the build sandbox.
type Executor interface {
	Exec(ctx context.Context, args, env []string, stdout, stderr io.Writer) (int, error)
}

// Info is the template information a script receives in its environment.
type Info struct {
	TemplateName, Distro, Release, Arch, Variant, Mirror string
	Variables                                            map[string]string
}

// Env returns the documented environment for stage.
func (in Info) Env(stage Stage) []string {
	env := []string{
		"VZKIT_HOOK=" + string(stage),
		"TEMPLATE_NAME=" + in.TemplateName,
		"DISTRO=" + in.Distro,
		"RELEASE=" + in.Release,
		"ARCH=" + in.Arch,
		"VARIANT=" + in.Variant,
		"MIRROR=" + in.Mirror,
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root",
		"LC_ALL=C.UTF-8",
		"DEBIAN_FRONTEND=noninteractive",
	}
	names := make([]string, 0, len(in.Variables))
	for k := range in.Variables {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		env = append(env, "VZKIT_VAR_"+envName(k)+"="+in.Variables[k])
	}
	return env
}

func envName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, s)
}

// tailLimit bounds how much of a script's output is kept for the error.
const tailLimit = 64 << 10

// Run runs script inside root (the directory the Executor treats as /).
// log receives the script's output as it runs (may be nil). A non-zero exit
// is an error that names the script and carries the end of its output.
//
// The root is untrusted (packages and earlier scripts wrote it): the script
// file is created and removed through internal/saferoot, so a /tmp that is
// a symlink resolves inside the root, as the sandbox sees it, and nothing
// on the host is written or removed through it.
func Run(ctx context.Context, exec Executor, root string, script Script, info Info, log io.Writer) (err error) {
	if len(script.Body) == 0 {
		return nil
	}
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	r, err := saferoot.Open(root)
	if err != nil {
		return fmt.Errorf("%s script: %w", script.Stage, err)
	}
	defer r.Close()
	if err := r.MkdirAll("tmp", 0o777|os.ModeSticky); err != nil {
		return fmt.Errorf("%s script: %w", script.Stage, err)
	}
	name := "tmp/vzkit-" + string(script.Stage) + "-" + hex.EncodeToString(rnd[:]) + ".sh"
	// O_EXCL under a name nothing could guess: never write through a file
	// or link the root already has.
	f, err := r.Create(name, 0o700)
	if err != nil {
		return fmt.Errorf("%s script: %w", script.Stage, err)
	}
	defer func() {
		// The script may have removed itself or its /tmp.
		rmErr := r.Remove(name)
		gone := errors.Is(rmErr, fs.ErrNotExist) || errors.Is(rmErr, unix.ENOTDIR)
		if rmErr != nil && !gone && err == nil {
			err = fmt.Errorf("%s script: %w", script.Stage, rmErr)
		}
	}()
	if _, err := f.Write(script.Body); err != nil {
		f.Close()
		return fmt.Errorf("%s script: %w", script.Stage, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s script: %w", script.Stage, err)
	}

	tail := &tailBuffer{limit: tailLimit}
	var out io.Writer = tail
	if log != nil {
		out = io.MultiWriter(log, tail)
	}
	status, err := exec.Exec(ctx, []string{"/bin/sh", "-e", "/" + name}, info.Env(script.Stage), out, out)
	if err != nil {
		return fmt.Errorf("%s script (%s): %w", script.Stage, script.Origin, err)
	}
	if status != 0 {
		return &ScriptError{Stage: script.Stage, Origin: script.Origin, Status: status, Output: tail.String()}
	}
	return nil
}

// ScriptError reports a template script that exited non-zero.
type ScriptError struct {
	Stage  Stage
	Origin string
	Status int
	Output string // the end of what it printed
}

func (e *ScriptError) Error() string {
	msg := fmt.Sprintf("%s script (%s) failed with exit status %d", e.Stage, e.Origin, e.Status)
	if out := strings.TrimRight(e.Output, "\n"); out != "" {
		msg += "; its output:\n" + indent(out)
	}
	return msg
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	buf       bytes.Buffer
	limit     int
	truncated bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if over := t.buf.Len() - t.limit; over > 0 {
		t.buf.Next(over)
		t.truncated = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	if t.truncated {
		return "[...]\n" + t.buf.String()
	}
	return t.buf.String()
}
