package main

import (
	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

func main() {
	sandbox.Init() // a container's init re-executes this binary; must come first
	cli.Exit("vzctl", openvzCode(newRootCommand().Execute()))
}
