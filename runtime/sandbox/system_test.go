package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
)

// Tests of the Config fields that serve a full init system as PID 1.

func TestTmpfs(t *testing.T) {
	cfg := testConfig(t)
	cfg.Tmpfs = []Tmpfs{{Destination: "/run", Options: []string{"nosuid", "nodev", "mode=1777", "size=1m"}}}
	out := mustSh(t, cfg, "grep ' /run ' /proc/mounts; stat -c %a /run; echo x >/run/file && ls /run")
	if !strings.HasPrefix(out, "tmpfs /run tmpfs rw,nosuid,nodev") || !strings.Contains(out, "size=1024k") ||
		!strings.HasSuffix(out, "\n1777\nfile\n") {
		t.Errorf("tmpfs /run seen inside:\n%s", out)
	}
	// The writes went to the tmpfs, not to the root directory on the host.
	if _, err := os.Stat(filepath.Join(testRoot, "run", "file")); err == nil {
		t.Error("a write to the tmpfs reached the root directory")
	}
	bad := testConfig(t)
	bad.Tmpfs = []Tmpfs{{Destination: "run"}}
	if _, err := Run(t.Context(), bad, Process{Args: []string{"true"}}); err == nil || !strings.Contains(err.Error(), "tmpfs run") {
		t.Errorf("relative tmpfs path: %v", err)
	}
}

func TestConsole(t *testing.T) {
	cfg := testConfig(t)
	cfg.Console = filepath.Join(t.TempDir(), "console.log")
	if err := os.WriteFile(cfg.Console, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	mustSh(t, cfg, "echo to the console >/dev/console")
	if b, _ := os.ReadFile(cfg.Console); string(b) != "to the console\n" {
		t.Errorf("console file holds %q", b)
	}
	// Without Console there is no /dev/console at all.
	if status, _, _ := sh(t, testConfig(t), "test -e /dev/console"); status == 0 {
		t.Error("/dev/console exists without Config.Console")
	}
}

func TestDelegateCgroup(t *testing.T) {
	cfg := testConfig(t)
	cfg.DelegateCgroup = true
	// Inside its cgroup namespace the sandbox is at the root of every
	// hierarchy; it can make and join a child of its own cgroup.
	var script, dir string
	if cgroups.IsCgroup2UnifiedMode() {
		dir = "/sys/fs/cgroup"
	} else {
		dir = "/sys/fs/cgroup/systemd"
	}
	script = "cat /proc/self/cgroup; mkdir " + dir + "/payload && echo $$ >" + dir + "/payload/cgroup.procs && cat /proc/self/cgroup"
	if !cgroups.IsCgroup2UnifiedMode() {
		// The controllers stay read-only: no way to change its limits.
		script += "; if mkdir /sys/fs/cgroup/memory/x 2>/dev/null; then echo memory writable; fi"
	}
	var before, after []string
	out := mustSh(t, cfg, script)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	half := len(lines) / 2
	before, after = lines[:half], lines[half:]
	if slices.ContainsFunc(before, func(l string) bool { return !strings.HasSuffix(l, ":/") }) {
		t.Errorf("cgroups seen inside are not the namespace's root:\n%s", out)
	}
	want := "0::/payload"
	if !cgroups.IsCgroup2UnifiedMode() {
		want = "name=systemd:/payload"
	}
	if !slices.ContainsFunc(after, func(l string) bool { return strings.HasSuffix(l, want) }) ||
		strings.Contains(out, "memory writable") {
		t.Errorf("delegated cgroup (want %q after the move):\n%s", want, out)
	}

	// Without delegation the cgroup file system is read-only.
	if status, _, _ := sh(t, testConfig(t), "mkdir "+dir+"/payload"); status == 0 {
		t.Error("cgroup writable without DelegateCgroup")
	}
}
