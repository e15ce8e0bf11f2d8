package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func newCacheRmCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove template caches with their manifest, signature and SBOM",
		Long: `Remove each named cache: its manifest NAME.json first (so that an
interrupted removal never leaves a cache that looks valid), then
NAME.tar.{zst,gz,xz}, their .asc signatures and NAME.spdx.json. Invalid
caches are removed the same way. A name with no file is an error; the other
names are still removed.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.cacheStore()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				removed, err := s.Remove(cmd.Context(), name)
				if len(removed) > 0 {
					base := make([]string, len(removed))
					for i, p := range removed {
						base[i] = filepath.Base(p)
					}
					fmt.Fprintf(cmd.OutOrStdout(), "removed %s (%s)\n", name, strings.Join(base, ", "))
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
}
