package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cache/oci"
)

func init() { cacheCommands = append(cacheCommands, newCachePullCommand) }

func newCachePullCommand(a *app) *cobra.Command {
	var insecure bool
	c := &cobra.Command{
		Use:   "pull REGISTRY/REPO:TAG|@DIGEST",
		Short: "Pull a cache from an OCI registry into the cache directory",
		Long: `Pull an image pushed by "vzpkg cache push" and write NAME.tar.zst and
NAME.json into the cache directory. Every digest is checked (manifest,
config, layer) and the layer must equal the SHA-256 its manifest records;
nothing is written when a check fails.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.cacheStore()
			if err != nil {
				return err
			}
			res, err := oci.Pull(cmd.Context(), args[0], s.Dir, oci.Options{Insecure: insecure})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pulled %s@%s: %s\n", args[0], res.Digest, res.CachePath)
			return nil
		},
	}
	c.Flags().BoolVar(&insecure, "insecure", false, "allow a plain-HTTP registry")
	return c
}
