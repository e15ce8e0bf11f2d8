package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cache/oci"
)

func init() { cacheCommands = append(cacheCommands, newCachePushCommand) }

func newCachePushCommand(a *app) *cobra.Command {
	var insecure bool
	c := &cobra.Command{
		Use:   "push NAME REGISTRY/REPO:TAG",
		Short: "Push a cache to an OCI registry",
		Long: `Push the cache as a single-layer OCI image (see "vzpkg cache export") and print
the manifest digest. Credentials come from ~/.docker/config.json.
--insecure allows a plain-HTTP registry (for a local one).`,
		Example: `  vzpkg cache push debian-12-minimal registry.example.org/vzkit/debian:12`,
		Args:    usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.cachePath(args[0])
			if err != nil {
				return err
			}
			d, err := oci.Push(cmd.Context(), p, args[1], oci.Options{Insecure: insecure})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pushed %s to %s@%s\n", p, args[1], d)
			return nil
		},
	}
	c.Flags().BoolVar(&insecure, "insecure", false, "allow a plain-HTTP registry")
	return c
}
