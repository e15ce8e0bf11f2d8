package main

import (
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func newFetchCommand(a *app) *cobra.Command {
	var o resolveOptions
	c := &cobra.Command{
		Use:   "fetch NAME",
		Short: "Download a template's packages into the package store, without building",
		Long: `Verify the template's repository indexes, solve its package set and download
every package into the content-addressed package store (PACKAGES in vz.conf),
so that a later build needs no network for packages. Packages already in the
store are not downloaded again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			p, err := a.newPipeline(ctx, args[0], o, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			for _, step := range []func() error{
				func() error { return p.LoadIndexes(ctx) },
				func() error { return p.Solve(ctx) },
				func() error { return p.fetchPackages(ctx) },
			} {
				if err := step(); err != nil {
					return err
				}
			}
			p.printTimings()
			return nil
		},
	}
	addResolveFlags(c, &o)
	return c
}
