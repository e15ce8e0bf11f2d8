package main

import (
	"os"
	"path/filepath"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

func main() {
	sandbox.Init() // a container's init re-executes this binary; must come first
	// Installed as a symlink named vzlist, the binary is OpenVZ's vzlist.
	if filepath.Base(os.Args[0]) == "vzlist" {
		cli.Exit("vzlist", openvzCode(newVzlistCommand().Execute()))
	}
	cli.Exit("vzctl", openvzCode(newRootCommand().Execute()))
}
