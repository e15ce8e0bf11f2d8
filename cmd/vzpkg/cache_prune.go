package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	cachestore "github.com/vzkit/vzkit/cache/store"
	"github.com/vzkit/vzkit/cmd/internal/cli"
)

func newCachePruneCommand(a *app) *cobra.Command {
	var olderThan string
	var dryRun bool
	c := &cobra.Command{
		Use:   "prune --older-than AGE [--dry-run]",
		Short: "Remove template caches older than an age",
		Long: `Remove every cache (invalid ones included) whose file was last written more
than AGE ago, as "vzpkg cache rm" would. AGE is a number of days or weeks
(30d, 2w, 1d12h) or a Go duration (12h, 90m). The file's modification time
counts, not the manifest's SOURCE_DATE_EPOCH, which reproducible builds set
in the past on purpose. --dry-run prints what would go and removes nothing.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if olderThan == "" {
				return cli.UsageError(fmt.Errorf("--older-than is required"))
			}
			age, err := cachestore.ParseAge(olderThan)
			if err != nil {
				return cli.UsageError(err)
			}
			s, err := a.cacheStore()
			if err != nil {
				return err
			}
			now := time.Now()
			pruned, err := s.Prune(cmd.Context(), age, cachestore.PruneOptions{DryRun: dryRun, Now: now})
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			for _, e := range pruned {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s, written %s ago)\n", verb, e.Name, cli.HumanBytes(e.Size), humanAge(e.Age(now)))
			}
			if len(pruned) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "no cache in %s is older than %s\n", s.Dir, olderThan)
			}
			return err
		},
	}
	c.Flags().StringVar(&olderThan, "older-than", "", "age beyond which caches go: 30d, 2w, 12h, 90m")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be removed, remove nothing")
	return c
}
