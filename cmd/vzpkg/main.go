package main

import (
	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

func main() {
	// Package scripts run in sandboxes whose init is this binary re-executed:
	// that must happen before anything else.
	sandbox.Init()
	cli.Exit("vzpkg", newRootCommand().Execute())
}
