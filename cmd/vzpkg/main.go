// Command vzpkg builds template caches from template metadata.
package main

import (
	"github.com/vzkit/vzkit/cmd/internal/cli"
)

func main() {
	cli.Exit("vzpkg", newRootCommand().Execute())
}
