package main

import (
	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
)

// app is the state shared by vzpkg's commands: the global flags.
type app struct {
	cli.Globals
	templateDirs []string // --templates, searched before /etc/vzkit/templates and the shipped set
}

func newRootCommand() *cobra.Command {
	a := &app{}
	root := &cobra.Command{
		Use:   "vzpkg",
		Short: "Build OpenVZ-style template caches from template metadata",
		Long: `vzpkg turns template metadata (YAML: repositories, keys, package lists,
scripts) into a template cache: a reproducible tar.zst that vzctl creates
containers from.

Templates are looked up by name in --templates directories, then
/etc/vzkit/templates, then the templates shipped inside vzpkg.

Exit codes: 0 success, 1 failure (the message says why), 2 bad command line,
3 lint found problems.`,
		Example: `  vzpkg list
  vzpkg build debian-12-minimal
  vzctl create 101 --ostemplate debian-12-minimal`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	a.Register(root)
	cli.GroupCommand(root)
	cli.SetVersion(root, version)
	root.PersistentFlags().StringArrayVar(&a.templateDirs, "templates", nil, "extra template directory (repeatable), searched first")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return cli.UsageError(err) })
	root.AddCommand(
		cli.ConfigCommand(&a.Globals),
		cli.ManCommand(manual(root)),
	)
	// One file per command, each built by its constructor.
	for _, add := range []func(*app) *cobra.Command{
		newListCommand, newShowCommand, newLintCommand, newFetchCommand, newLockCommand,
		newBuildCommand, newUpdateCommand, newCacheCommand, newInspectCommand,
	} {
		root.AddCommand(add(a))
	}
	completeTree(root, a)
	return root
}
