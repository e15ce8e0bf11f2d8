package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cache/oci"
	cachestore "github.com/vzkit/vzkit/cache/store"
	"github.com/vzkit/vzkit/cmd/internal/cli"
)

func newCachePullCommand(a *app) *cobra.Command {
	var opts oci.Options
	c := &cobra.Command{
		Use:   "pull REGISTRY/REPO:TAG|REGISTRY/REPO@DIGEST",
		Short: "Pull a cache from an OCI registry into the cache directory",
		Long: `Pull an image pushed by "vzpkg cache push" and write NAME.tar.zst and
NAME.json into the cache directory. Every digest is checked (manifest,
config, layer) and the layer must equal the SHA-256 its manifest records;
nothing is written when a check fails.

NAME is --name, else it comes from the reference you typed: the last part
of the repository, a dash and the tag, or the first 12 hex digits of the
digest:
  registry.example.org/vzkit/debian:12                     -> debian-12
  registry.example.org/vzkit/debian@sha256:0123456789ab... -> debian-0123456789ab
The registry and the tag or digest must be written out (no implied Docker
Hub, no implied "latest"). The name the image's own manifest gives is never
used: the NAME.json written says NAME.

If cache NAME exists and is already this image's layer (same SHA-256), the
pull writes nothing and says so. If it holds anything else, the pull is
refused and names its files: --replace replaces that cache (its signature
and SBOM go with it, they describe the old bytes), --name pulls beside it.
A replaced cache is removed only after the new layer has been downloaded
and checked.

Registries are spoken to over HTTPS only, with TLS certificates verified,
including localhost and private addresses. --insecure allows plain HTTP to
the registry of this reference when it does not answer over HTTPS (a local
test registry); credentials come from ~/.docker/config.json.`,
		Example: `  vzpkg cache pull registry.example.org/vzkit/debian:12
  vzpkg cache pull registry.example.org/vzkit/debian:12 --replace      # the tag moved on
  vzpkg cache pull registry.example.org/vzkit/debian:12 --name debian-12-upstream
  vzpkg cache pull 127.0.0.1:5000/vzkit/debian:12 --insecure           # plain-HTTP test registry`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Name != "" {
				if _, err := cachestore.CheckName(opts.Name); err != nil {
					return cli.UsageError(fmt.Errorf("--name: %w", err))
				}
			}
			s, err := a.cacheStore()
			if err != nil {
				return err
			}
			res, err := oci.Pull(cmd.Context(), args[0], s.Dir, opts)
			if err != nil {
				return registryHint(err)
			}
			if res.Unchanged {
				fmt.Fprintf(cmd.OutOrStdout(), "cache %s already is %s@%s: nothing written (%s)\n", res.Name, args[0], res.Digest, res.CachePath)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pulled %s@%s as cache %s: %s\n", args[0], res.Digest, res.Name, res.CachePath)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&opts.Name, "name", "", "local cache name (default: from the reference, REPO-TAG)")
	f.BoolVar(&opts.Replace, "replace", false, "replace a cache of that name that holds other bytes")
	f.BoolVar(&opts.Insecure, "insecure", false, "allow plain HTTP to this registry")
	return c
}
