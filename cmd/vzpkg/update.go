package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/pipeline"
)

type updateOptions struct {
	resolveOptions
	cacheDir string
	keepRoot bool
	signKey  string
}

func newUpdateCommand(a *app) *cobra.Command {
	var o updateOptions
	c := &cobra.Command{
		Use:   "update NAME",
		Short: "Upgrade the packages of an existing template cache in place",
		Long: `Bring the cache of template NAME up to date with its repositories, as
OpenVZ's vzpkgcache does in update mode:

  1. unpack the current cache into a build root and read its dpkg database,
     which must agree with the cache's manifest
  2. verify the template's repository indexes and solve the installed set
     against them: every installed package gets the newest candidate, new
     dependencies (and new template includes) are added
  3. when nothing changes, print "NAME is up to date" and leave the cache
     alone; otherwise download the changed packages into the package store
     and install them with the root's own dpkg inside a sandbox with no
     network, then rerun the template's post-install and pre-cache scripts
  4. pack the root into a new cache, move the current one to NAME-old
     (NAME-old.tar.zst, NAME-old.json, and the signature and SBOM if any)
     and put the new one (with a new SBOM) in its place, manifest last

The upgraded and added packages are printed as "name old -> new". The new
cache gets a new SBOM; it is signed only when --sign is given.`,
		Example: `  vzpkg update debian-12-minimal`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return a.update(ctx, args[0], o, cmd.OutOrStdout())
		},
	}
	addResolveFlags(c, &o.resolveOptions)
	c.Flags().StringVarP(&o.cacheDir, "cache-dir", "o", "", "the cache directory (default $TEMPLATE/cache)")
	c.Flags().BoolVar(&o.keepRoot, "keep-root", false, "keep the build root directory (for debugging); its path is printed")
	c.Flags().StringVar(&o.signKey, "sign", "", "sign the new cache with this OpenPGP secret key file (writes NAME.tar.zst.asc)")
	return c
}

func (a *app) update(ctx context.Context, name string, o updateOptions, out io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("update: must run as root (packages are installed inside a container sandbox)")
	}
	p, err := a.newPipeline(ctx, name, o.resolveOptions, out)
	if err != nil {
		return err
	}
	cacheDir := o.cacheDir
	if cacheDir == "" {
		cacheDir = p.conf.CacheDir()
	}
	if err := p.LoadIndexes(ctx); err != nil {
		return err
	}
	res, err := p.Update(ctx, pipeline.UpdateOptions{CacheDir: cacheDir, KeepRoot: o.keepRoot, SignKey: o.signKey})
	p.render.mu.Lock()
	p.render.finishTransfer()
	p.render.mu.Unlock()
	if err != nil {
		return err
	}
	if len(res.Changes) == 0 {
		fmt.Fprintf(out, "%s is up to date\n", p.Template().Name)
		return nil
	}
	for _, c := range res.Changes {
		old := c.Old
		if old == "" {
			old = "(new)"
		}
		fmt.Fprintf(out, "upgraded: %s %s -> %s\n", c.New.Name, old, c.New.Version)
	}
	fmt.Fprintf(out, "cache: %s (%s, sha256 %s); previous cache kept as %s\n", res.Cache, cli.HumanBytes(res.Manifest.Archive.Size),
		res.Manifest.Archive.SHA256, res.OldCache)
	p.printTimings()
	return nil
}
