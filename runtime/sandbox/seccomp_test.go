//go:build seccomp

package sandbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSeccompFilterInstalled(t *testing.T) {
	cfg := testConfig(t)
	out := mustSh(t, cfg, "grep -E '^Seccomp(_filters)?:' /proc/self/status")
	if !strings.Contains(out, "Seccomp:\t2\n") {
		t.Errorf("%q: want seccomp filter mode 2", out)
	}
}

// TestSeccompDeniesSyscall runs the test binary itself inside a sandbox (with
// the host's /usr for its shared libraries) to make a syscall on the deny
// list that succeeds unprivileged on the host.
func TestSeccompDeniesSyscall(t *testing.T) {
	cfg := testConfig(t)
	if errno := probeSyscall(); errno != 0 {
		t.Skipf("get_mempolicy fails on the host too (errno %d)", errno)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, d := range []string{"usr", "proc", "sys", "dev", "tmp"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Debian's merged /usr: the loader and libc are reached through these.
	for _, l := range []string{"lib", "lib64", "bin"} {
		if err := os.Symlink("usr/"+l, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Root = root
	cfg.Mounts = []Mount{
		{Source: "/usr", Destination: "/usr", ReadOnly: true},
		{Source: self, Destination: "/probe", ReadOnly: true},
	}
	var out, errb bytes.Buffer
	status, err := Run(context.Background(), cfg, Process{
		Args: []string{"/probe"}, Env: []string{probeEnv + "=1"}, Stdout: &out, Stderr: &errb,
	})
	if err != nil || status != 0 {
		t.Fatalf("probe: status %d, %v, stderr %q", status, err, errb.String())
	}
	if got := strings.TrimSpace(out.String()); got != "EPERM" {
		t.Errorf("get_mempolicy inside the sandbox: %q, want EPERM", got)
	}
}
