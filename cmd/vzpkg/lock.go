package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/repo/lockfile"
)

type lockOptions struct {
	resolveOptions
	file string
}

func newLockCommand(a *app) *cobra.Command {
	var o lockOptions
	c := &cobra.Command{
		Use:   "lock NAME",
		Short: "Pin a template's package set in a lock file",
		Long: `Resolve the template as build does (same --mirror, --arch ...), verify its
repository indexes, solve the package set and write a lock file (JSON):
the template name and metadata digest, the architecture, each repository
suite's Release date and the SHA-256 of its InRelease (or Release) file, and
every package with its version, architecture, SHA-256, size, pool file name
and repository. The file is written atomically and is the same bytes for
the same repository state.

A build given the lock file installs exactly those packages, or fails
naming every one that changed or vanished from its repository.`,
		Example: `  vzpkg lock debian-12-minimal
  vzpkg lock debian-12-minimal -o /srv/locks/debian-12-minimal.lock.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return a.lock(ctx, args[0], o, cmd.OutOrStdout())
		},
	}
	addResolveFlags(c, &o.resolveOptions)
	c.Flags().StringVarP(&o.file, "output", "o", "", "lock file to write (default NAME.lock.json in the current directory)")
	return c
}

func (a *app) lock(ctx context.Context, name string, o lockOptions, out io.Writer) error {
	p, err := a.newPipeline(ctx, name, o.resolveOptions, out)
	if err != nil {
		return err
	}
	if err := p.LoadIndexes(ctx); err != nil {
		return err
	}
	if err := p.Solve(ctx); err != nil {
		return err
	}
	l, err := p.Lock(ctx)
	if err != nil {
		return err
	}
	path := o.file
	if path == "" {
		path = p.Template().Name + ".lock.json"
	}
	if err := lockfile.Write(path, l); err != nil {
		return err
	}
	fmt.Fprintf(out, "lock: %d packages from %d repository suites written to %s\n", len(l.Packages), len(l.Repositories), path)
	return nil
}
