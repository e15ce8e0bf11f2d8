package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/runtime"
)

// newInitCommand is the minimal init that start bind-mounts into images
// without /sbin/init; it only works as a container's PID 1.
func newInitCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    runtime.InitCommand,
		Short:  "Minimal container init (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			os.Exit(runtime.MinimalInit())
		},
	}
}
