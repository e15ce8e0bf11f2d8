package hooks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"
)

// chrootExec runs commands with the root as / through chroot(2): a real
// shell in a real root, without needing the sandbox package.
type chrootExec struct{ root string }

func (c chrootExec) Exec(ctx context.Context, args, env []string, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, stdout, stderr, "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: c.root}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

func busyboxRoot(t *testing.T) string {
	t.Helper()
	testenv.NeedRoot(t, "chroot")
	bb := testenv.NeedTool(t, "busybox", "busybox-static")
	root := t.TempDir()
	for _, d := range []string{"bin", "etc", "tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755)
	for _, applet := range []string{"sh", "echo", "cat", "env", "touch"} {
		os.Symlink("busybox", filepath.Join(root, "bin", applet))
	}
	return root
}

func TestRunSeesDocumentedEnvironmentInsideRoot(t *testing.T) {
	root := busyboxRoot(t)
	info := Info{TemplateName: "debian-12-minimal", Distro: "debian", Release: "12", Arch: "amd64",
		Variant: "minbase", Mirror: "file:///srv/mirror", Variables: map[string]string{"site-name": "lab"}}
	body := "echo \"$VZKIT_HOOK $TEMPLATE_NAME $DISTRO $RELEASE $ARCH $VARIANT $MIRROR $VZKIT_VAR_SITE_NAME\" > /etc/built-by\n"
	var log bytes.Buffer
	err := Run(context.Background(), chrootExec{root}, root, Script{Stage: PostInstall, Body: []byte(body), Origin: "t.yaml:3:5"}, info, &log)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "etc/built-by"))
	if err != nil {
		t.Fatalf("script did not write inside the root: %v", err)
	}
	want := "post-install debian-12-minimal debian 12 amd64 minbase file:///srv/mirror lab\n"
	if string(got) != want {
		t.Errorf("script saw %q, want %q", got, want)
	}
	left, _ := filepath.Glob(filepath.Join(root, "tmp", "*"))
	if len(left) != 0 {
		t.Errorf("script file left behind: %v", left)
	}
}

func TestFailingScriptReportsItsOutput(t *testing.T) {
	root := busyboxRoot(t)
	body := "echo preparing\necho 'no space for frobnicator' >&2\nexit 7\necho never\n"
	err := Run(context.Background(), chrootExec{root}, root, Script{Stage: PreCache, Body: []byte(body), Origin: "t.yaml:9:3"}, Info{}, nil)
	var se *ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("want ScriptError, got %v", err)
	}
	if se.Status != 7 {
		t.Errorf("status %d, want 7", se.Status)
	}
	msg := err.Error()
	for _, want := range []string{"pre-cache", "t.yaml:9:3", "exit status 7", "preparing", "no space for frobnicator"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "never") {
		t.Errorf("sh -e should stop at the failing command: %q", msg)
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	tb := &tailBuffer{limit: 8}
	tb.Write([]byte("0123456789"))
	tb.Write([]byte("ab"))
	if got := tb.String(); got != "[...]\n456789ab" {
		t.Errorf("got %q", got)
	}
}
