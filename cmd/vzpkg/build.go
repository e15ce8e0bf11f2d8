package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/metadata"
	"github.com/vzkit/vzkit/pipeline"
	"github.com/vzkit/vzkit/repo"
)

type buildOptions struct {
	resolveOptions
	sources  sourcesOptions
	outDir   string
	keepRoot bool
	tmpfs    pipeline.TmpfsMode
	signKey  string
	lockfile string
	simulate bool
}

func newBuildCommand(a *app) *cobra.Command {
	var o buildOptions
	c := &cobra.Command{
		Use:   "build NAME",
		Short: "Build a template cache from template metadata",
		Long: `Build the template cache NAME.tar.zst (and its manifest NAME.json):

  1. fetch the repositories' indexes and verify them with the template's keys
  2. solve the package set (variant + include - exclude)
  3. download the packages into the package store (reused by later builds)
  4. unpack them and let the distro's own dpkg install them inside a sandbox
     with no network, running the template's pre-install script before
     packages are configured, then post-install and pre-cache; for an RPM
     distribution (rpm-md repositories) every package is verified, rpm's own
     closure is unpacked, the template's keys are imported and the distro's
     rpm installs the whole set in one transaction (pre-install runs before it)
  5. pack the root into a reproducible tar.zst in the cache directory
     ($TEMPLATE/cache, or -o DIR), with its manifest NAME.json, an SPDX SBOM
     NAME.spdx.json and, with --sign KEY, a signature NAME.tar.zst.asc

The mirror comes from --mirror, VZKIT_MIRROR_<DISTRO>, or this host's apt
sources, in that order; the build says which it used. SOURCE_DATE_EPOCH, when
set, clamps every timestamp in the cache; otherwise the newest package's build
date is used. Nothing half-built is left behind on failure or Ctrl-C. The root is built
in a tmpfs when MemAvailable allows (--tmpfs), which spares the disk dpkg's
many small writes and makes removing it instant. The install stage, the
longest, shows dpkg's progress: on a terminal the package being unpacked or
configured and the count ("install: configuring libc6 (37/94)"), in a log one
line per dpkg step with its count and time.

--simulate stops after step 2, as mmdebstrap --simulate and dnf --assumeno
do: it prints the package set the build would install, one "name version
arch" line each in name order (RPM versions as [epoch:]version-release), or
with -o json a list of objects; nothing is downloaded and neither the
package store nor the cache directory is touched. With --simulate, -o is the
output format (table or json), since nothing is written.
` + sourcesHelp,
		Example: `  vzpkg build debian-12-minimal
  vzpkg build debian-13-minimal --mirror http://mirror.example/debian -o /srv/caches
  vzpkg build debian-12-minimal --mirror http://127.0.0.1:3142/debian --sources-mirror http://deb.example.org/debian
  vzpkg build fedora-42-minimal
  vzpkg build debian-12-minimal --simulate          # the package set, one "name version arch" line each
  vzpkg build debian-12-minimal --simulate -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if o.simulate {
				return a.simulate(ctx, args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return a.build(ctx, args[0], o, cmd.OutOrStdout())
		},
	}
	addResolveFlags(c, &o.resolveOptions)
	addSourcesFlags(c, &o.sources)
	c.Flags().StringVarP(&o.outDir, "output-dir", "o", "", "write the cache here instead of $TEMPLATE/cache")
	c.Flags().StringVar(&o.lockfile, "lockfile", "", "install exactly the packages pinned in this lock file (see vzpkg lock); fails naming what changed")
	c.Flags().StringVar(&o.signKey, "sign", "", "sign the cache with this OpenPGP secret key file (writes NAME.tar.zst.asc)")
	o.tmpfs = pipeline.TmpfsAuto
	c.Flags().Var(&o.tmpfs, "tmpfs", "build the root in memory: auto (when MemAvailable allows), always or never")
	c.Flags().BoolVar(&o.simulate, "simulate", false, "only resolve: print the package set the build would install (-o table|json)")
	c.Flags().BoolVar(&o.keepRoot, "keep-root", false, "keep the built root directory (for debugging); its path is printed")
	return c
}

func (a *app) build(ctx context.Context, name string, o buildOptions, out io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("build: must run as root (packages are installed inside a container sandbox)")
	}
	p, err := a.newPipeline(ctx, name, o.resolveOptions, out)
	if err != nil {
		return err
	}
	for _, src := range p.resolved.Vars {
		if src.Name != "arch" {
			fmt.Fprintf(out, "$%s = %s (from %s)\n", src.Name, src.Value, src.From)
		}
	}
	cacheDir := o.outDir
	if cacheDir == "" {
		cacheDir = p.conf.CacheDir()
	}
	// The cache's own repository configuration is written for apt only:
	// an RPM distribution's comes with its release package (fedora-repos,
	// almalinux-repos), which the root's rpm installs like any other.
	var repos []metadata.Repository
	var sourceVars []varValue
	if p.Format() == repo.FormatDeb {
		repos, sourceVars, err = containerSources(p.resolved, o.resolveOptions, o.sources)
		if err != nil {
			return err
		}
	}
	if err := p.LoadIndexes(ctx); err != nil {
		return err
	}
	if o.lockfile != "" {
		err = p.SolveLocked(ctx, o.lockfile)
	} else {
		err = p.Solve(ctx)
	}
	if err != nil {
		return err
	}
	if err := p.fetchPackages(ctx); err != nil {
		return err
	}
	for _, v := range sourceVars {
		if v.Name != "arch" {
			fmt.Fprintf(out, "container apt sources: $%s = %s\n", v.Name, v.Value)
		}
	}
	res, err := p.Build(ctx, pipeline.BuildOptions{CacheDir: cacheDir, KeepRoot: o.keepRoot, Tmpfs: o.tmpfs, SignKey: o.signKey, Repositories: repos})
	if err != nil {
		return err
	}
	m := res.Manifest
	fmt.Fprintf(out, "sbom: %s\n", res.SBOM)
	if res.Signature != "" {
		fmt.Fprintf(out, "signature: %s\n", res.Signature)
	}
	fmt.Fprintf(out, "cache: %s (%s, %d entries, %s unpacked, sha256 %s)\n", res.Cache, cli.HumanBytes(m.Archive.Size),
		m.Archive.Entries, cli.HumanBytes(m.Archive.TarSize), m.Archive.SHA256)
	fmt.Fprintf(out, "packages: %d, downloaded %s (%d from the store)\n", len(m.Packages), cli.HumanBytes(p.Downloaded().Bytes), p.Downloaded().Cached)
	p.printTimings()
	return nil
}

// simulatedPackage is one line of build --simulate, one object of its JSON.
type simulatedPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
	Format  string `json:"format"`
}

// simulate resolves the package set as build would and prints it to out;
// the pipeline's progress goes to progress, so that out holds the list
// alone.
func (a *app) simulate(ctx context.Context, name string, o buildOptions, out, progress io.Writer) error {
	format, err := cli.ParseFormat(cmp.Or(o.outDir, string(cli.Table)))
	if err != nil {
		return cli.UsageError(fmt.Errorf("--simulate: -o is the output format: %w", err))
	}
	p, err := a.newPipeline(ctx, name, o.resolveOptions, progress)
	if err != nil {
		return err
	}
	if err := p.LoadIndexes(ctx); err != nil {
		return err
	}
	if o.lockfile != "" {
		err = p.SolveLocked(ctx, o.lockfile)
	} else {
		err = p.Solve(ctx)
	}
	if err != nil {
		return err
	}
	var pkgs []simulatedPackage
	for _, pkg := range p.Solution().Packages {
		pkgs = append(pkgs, simulatedPackage{pkg.Name, pkg.Version, pkg.Arch, string(pkg.Format)})
	}
	slices.SortFunc(pkgs, func(x, y simulatedPackage) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Arch, y.Arch))
	})
	if format == cli.JSON {
		if pkgs == nil {
			pkgs = []simulatedPackage{}
		}
		return cli.WriteJSON(out, pkgs)
	}
	var b strings.Builder
	for _, pkg := range pkgs {
		fmt.Fprintf(&b, "%s %s %s\n", pkg.Name, pkg.Version, pkg.Arch)
	}
	_, err = io.WriteString(out, b.String())
	return err
}
