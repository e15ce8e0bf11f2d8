package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cache/oci"
	"github.com/vzkit/vzkit/cmd/internal/cli"
)

func newCacheExportCommand(a *app) *cobra.Command {
	var layoutDir, dockerArchive, tag string
	var gz bool
	c := &cobra.Command{
		Use:   "export NAME (--oci DIR | --docker-archive FILE)",
		Short: "Export a cache as an OCI image layout or a docker-archive tarball",
		Long: `Export the cache as a single-layer OCI image: the cache file itself is the
layer (tar+zstd), so the layer digest is the cache's SHA-256, and the image's
labels carry the cache manifest (org.openvz.vzkit.manifest). The image is
reproducible: the same cache always gives the same digest.

--oci DIR writes (or adds to) an OCI image layout; "podman pull oci:DIR"
reads it. --docker-archive FILE writes a "docker save" tarball for
"docker load" / "podman load". --gzip re-encodes the layer for runtimes older
than docker 23 / podman 4 (such an image cannot be pulled back as a cache).`,
		Example: `  vzpkg cache export debian-12-minimal --oci /srv/oci
  vzpkg cache export debian-12-minimal --docker-archive debian.tar --tag vzkit/debian:12`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (layoutDir == "") == (dockerArchive == "") {
				return cli.UsageError(fmt.Errorf("give exactly one of --oci DIR and --docker-archive FILE"))
			}
			p, err := a.cachePath(args[0])
			if err != nil {
				return err
			}
			opts := oci.Options{Gzip: gz}
			if layoutDir != "" {
				d, err := oci.ExportLayout(cmd.Context(), p, layoutDir, opts)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "exported %s to OCI layout %s: %s\n", p, layoutDir, d)
				return nil
			}
			id, err := oci.ExportDockerArchive(cmd.Context(), p, dockerArchive, tag, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "exported %s to %s: image %s\n", p, dockerArchive, id)
			return nil
		},
	}
	c.Flags().StringVar(&layoutDir, "oci", "", "OCI image layout directory to write")
	c.Flags().StringVar(&dockerArchive, "docker-archive", "", "docker-archive tarball to write")
	c.Flags().StringVar(&tag, "tag", "", "image tag in the docker archive (default vzkit/NAME:latest)")
	c.Flags().BoolVar(&gz, "gzip", false, "gzip the layer for old container runtimes")
	return c
}
