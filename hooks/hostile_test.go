package hooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/hostiletest"
)

// TestRunHostileTmp runs a template script in roots whose /tmp is a
// symlink to a host directory (absolute, or climbing out), a FIFO or a
// device node: the script file must never be created or removed through
// it, and Run must fail within the bound naming /tmp. A /tmp symlinked
// inside the root is followed there, as the sandbox sees it.
func TestRunHostileTmp(t *testing.T) {
	root := busyboxRoot(t)
	host := hostiletest.NewCanaries(t, "canary")
	loop := hostiletest.NewLoopDevice(t)
	script := Script{Stage: PostInstall, Body: []byte("echo ran > /ran\n"), Origin: "t.yaml:1:1"}
	for i, th := range []hostiletest.Thing{
		hostiletest.Link(host.Dir), hostiletest.Link(hostiletest.Escaping(host.Dir)),
		hostiletest.Fifo(), hostiletest.Zero(), loop.Node(),
	} {
		t.Run(fmt.Sprintf("%d-%s", i, th.Kind), func(t *testing.T) {
			th.Plant(t, root, "tmp")
			// Checked while the script would run too: a script file
			// written through the symlink is gone again afterwards.
			ex := checkingExec{chrootExec{root}, func() { host.Check(t) }}
			var err error
			hostiletest.Within(t, time.Minute, func() {
				err = Run(context.Background(), ex, root, script, Info{}, nil)
			})
			host.Check(t)
			loop.Check(t)
			if err == nil || !strings.Contains(err.Error(), "/tmp") {
				t.Errorf("Run with /tmp a %v: %v, want an error naming /tmp", th, err)
			}
			if _, err := os.Stat(filepath.Join(root, "ran")); err == nil {
				t.Errorf("the script ran")
			}
		})
	}

	t.Run("symlink inside the root", func(t *testing.T) {
		if err := os.MkdirAll(filepath.Join(root, "var/tmp"), 0o1777); err != nil {
			t.Fatal(err)
		}
		hostiletest.Link("/var/tmp").Plant(t, root, "tmp")
		if err := Run(context.Background(), chrootExec{root}, root, script, Info{}, nil); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(root, "ran")); err != nil || string(b) != "ran\n" {
			t.Errorf("script output %q, %v", b, err)
		}
		if left, _ := os.ReadDir(filepath.Join(root, "var/tmp")); len(left) != 0 {
			t.Errorf("script file left in /var/tmp: %v", left)
		}
	})
}

// checkingExec calls check before it runs anything.
type checkingExec struct {
	chrootExec
	check func()
}

func (c checkingExec) Exec(ctx context.Context, args, env []string, stdout, stderr io.Writer) (int, error) {
	c.check()
	return c.chrootExec.Exec(ctx, args, env, stdout, stderr)
}

// replacingExec runs the script after putting, in a host directory, a
// canary named like the script file; the script itself then makes the
// root's /tmp a symlink to that directory. Removing the script afterwards
// must not follow it there.
type replacingExec struct {
	chrootExec
	hostDir string
	canary  string // the host canary's path, once Exec ran
}

func (r *replacingExec) Exec(ctx context.Context, args, env []string, stdout, stderr io.Writer) (int, error) {
	r.canary = filepath.Join(r.hostDir, filepath.Base(args[len(args)-1]))
	if err := os.WriteFile(r.canary, []byte("host canary\n"), 0o640); err != nil {
		return 0, err
	}
	return r.chrootExec.Exec(ctx, args, env, stdout, stderr)
}

func TestRunScriptReplacesItsTmp(t *testing.T) {
	root := busyboxRoot(t)
	for _, applet := range []string{"mv", "ln"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	// Not under /tmp, or the root's /tmp would lead through itself.
	hostDir, err := os.MkdirTemp("/var/tmp", "hooks-host-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(hostDir) })
	ex := &replacingExec{chrootExec: chrootExec{root}, hostDir: hostDir}
	var log bytes.Buffer
	body := "mv /tmp /tmp.aside\nln -s " + ex.hostDir + " /tmp\n"
	if err := Run(context.Background(), ex, root, Script{Stage: PreCache, Body: []byte(body), Origin: "t.yaml:2:1"}, Info{}, &log); err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	if b, err := os.ReadFile(ex.canary); err != nil || string(b) != "host canary\n" {
		t.Errorf("host canary %s: %q, %v", ex.canary, b, err)
	}
}
