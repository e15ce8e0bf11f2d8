package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is the version a program reports: linked (set with -X by `make
// build`) unless it is empty or "dev", else what the Go toolchain recorded
// from the checkout (`go build` in a git work tree stamps the commit), so a
// binary built by the tests still names the commit it came from.
func Version(linked string) string {
	if linked != "" && linked != "dev" {
		return linked
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "dev-" + rev + dirty
}

// SetVersion gives root a --version flag that prints the program, its
// version and the Go release and platform it was built for.
func SetVersion(root *cobra.Command, version string) {
	root.Version = version
	root.SetVersionTemplate(fmt.Sprintf("%s %s (%s, %s/%s)\n",
		root.Name(), version, runtime.Version(), runtime.GOOS, runtime.GOARCH))
}
