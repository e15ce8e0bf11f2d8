package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI, where nothing may be missing.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips t, or fails it under CI, because something it needs is not
// here; the message says what and how to get it.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("prerequisite missing under CI: %s", msg)
	}
	t.Skip(msg)
}

// NeedRoot requires euid 0; why says what the test does with it.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root: %s", why)
	}
}

// NeedTool requires an executable on PATH, from Debian package pkg, and
// returns its path.
func NeedTool(t testing.TB, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		Missing(t, "%s not installed (apt-get install %s)", tool, pkg)
	}
	return p
}

// Run runs name with args in dir (the current one when empty), the
// environment extended by env, and returns its stdout; the test fails
// with the command's stderr when it does.
func Run(t testing.TB, dir string, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return out
}
