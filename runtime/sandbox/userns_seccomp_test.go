//go:build seccomp

package sandbox

import (
	"testing"
)

// TestNestedUserNamespace: a new user namespace inside a sandbox is refused
// unless NestedUserNS asks for it, in privileged and unprivileged sandboxes.
func TestNestedUserNamespace(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*testing.T) Config
	}{{"privileged", func(t *testing.T) Config { return testConfig(t) }}, {"userns", userNSConfig}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg(t)
			// unshare(2) and clone(2) with CLONE_NEWUSER: busybox unshare
			// uses the former, a forked shell in it the latter.
			if status, out, errs := sh(t, cfg, "unshare -U -r true"); status == 0 {
				t.Errorf("unshare -U succeeded: %s %s", out, errs)
			}
			cfg.NestedUserNS = true
			cfg.ID += "-nested"
			if status, out, errs := sh(t, cfg, "unshare -U -r true"); status != 0 {
				t.Errorf("with NestedUserNS, unshare -U failed: %d %s %s", status, out, errs)
			}
		})
	}
}
