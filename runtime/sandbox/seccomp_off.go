//go:build !seccomp

package sandbox

import "github.com/opencontainers/runc/libcontainer/configs"

// defaultSeccomp is nil without the seccomp build tag: libcontainer is then
// built without libseccomp and refuses any filter.
func defaultSeccomp([]string, bool) *configs.Seccomp { return nil }
