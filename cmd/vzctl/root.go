package main

import (
	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
)

// app is the state shared by vzctl's commands: the global flags.
type app struct {
	cli.Globals
}

func newRootCommand() *cobra.Command {
	a := &app{}
	root := &cobra.Command{
		Use:   "vzctl",
		Short: "Create and run containers from template caches, the OpenVZ way",
		Long: `vzctl manages containers made from vzpkg's template caches, with OpenVZ's
commands, flags, config files (CTID.conf of KEY="value" lines) and exit codes.` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	a.Register(root)
	cli.GroupCommand(root)
	cli.SetVersion(root, version)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return cli.UsageError(err) })
	root.AddCommand(
		cli.ConfigCommand(&a.Globals),
		cli.ManCommand(manual(root, newVzlistCommand())),
	)
	// One file per command, each built by its constructor.
	for _, add := range []func(*app) *cobra.Command{
		newCreateCommand, newStartCommand, newStopCommand, newRestartCommand, newStatusCommand,
		newMountCommand, newUmountCommand, newDestroyCommand, newSetCommand, newExecCommand,
		newEnterCommand, newRunscriptCommand, newListCommand, newCloneCommand, newInitCommand, newUbcCommand,
		newCheckCommand, newChkpntCommand, newRestoreCommand,
	} {
		root.AddCommand(add(a))
	}
	completeTree(root, a)
	return root
}
