//go:build seccomp

package sandbox

import (
	"slices"
	"testing"
)

func TestRebootEndsSandboxOnly(t *testing.T) {
	cfg := testConfig(t)
	cfg.Capabilities = append(slices.Clone(DefaultCapabilities), "CAP_SYS_BOOT")
	// Denied by seccomp (EPERM): the shell carries on.
	status, out, _ := sh(t, cfg, "poweroff -f; echo survived")
	if status != 0 || out != "survived\n" {
		t.Errorf("poweroff with reboot denied: status %d, %q", status, out)
	}
	// Allowed: in a PID namespace reboot(2) kills the namespace's init,
	// which the kernel reports as killed by SIGINT for a power-off, and
	// nothing else happens (this test still runs).
	cfg.AllowSyscalls = []string{"reboot"}
	status, out, _ = sh(t, cfg, "poweroff -f; echo survived")
	if status != 128+2 || out != "" {
		t.Errorf("poweroff with reboot allowed: status %d, %q; want 130 (SIGINT) and no output", status, out)
	}
}
