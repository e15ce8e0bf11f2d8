package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cache/oci"
)

func newCachePushCommand(a *app) *cobra.Command {
	var insecure bool
	c := &cobra.Command{
		Use:   "push NAME REGISTRY/REPO:TAG",
		Short: "Push a cache to an OCI registry",
		Long: `Push the cache as a single-layer OCI image (see "vzpkg cache export") and print
the manifest digest. The registry and the tag must be written out.
Credentials come from ~/.docker/config.json.

Registries are spoken to over HTTPS only, with TLS certificates verified,
including localhost and private addresses. --insecure allows plain HTTP to
the registry of this reference when it does not answer over HTTPS (a local
test registry).

"vzpkg cache pull REGISTRY/REPO:TAG" on another host stores the image as
cache REPO-TAG (debian-12 below), whatever NAME was here.`,
		Example: `  vzpkg cache push debian-12-minimal registry.example.org/vzkit/debian:12
  vzpkg cache push debian-12-minimal 127.0.0.1:5000/vzkit/debian:12 --insecure`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.cachePath(args[0])
			if err != nil {
				return err
			}
			d, err := oci.Push(cmd.Context(), p, args[1], oci.Options{Insecure: insecure})
			if err != nil {
				return registryHint(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pushed %s to %s@%s\n", p, args[1], d)
			return nil
		},
	}
	c.Flags().BoolVar(&insecure, "insecure", false, "allow plain HTTP to this registry")
	return c
}
