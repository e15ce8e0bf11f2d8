// Command vzctl creates and runs containers from template caches, with
// OpenVZ's commands, flags and exit codes.
package main

import (
	"github.com/vzkit/vzkit/cmd/internal/cli"
)

func main() {
	cli.Exit("vzctl", newRootCommand().Execute())
}
