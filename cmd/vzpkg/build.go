package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	debpkg "pault.ag/go/debian/deb"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/cache/sbom"
	"github.com/vzkit/vzkit/cache/sign"
	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/installer/deb"
	"github.com/vzkit/vzkit/metadata"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

type buildOptions struct {
	resolveOptions
	sources  sourcesOptions
	outDir   string
	keepRoot bool
	tmpfs    tmpfsMode
	signKey  string
	lockfile string
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
     packages are configured, then post-install and pre-cache
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
` + sourcesHelp,
		Example: `  vzpkg build debian-12-minimal
  vzpkg build debian-13-minimal --mirror http://mirror.example/debian -o /srv/caches
  vzpkg build debian-12-minimal --mirror http://127.0.0.1:3142/debian --sources-mirror http://deb.example.org/debian`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return a.build(ctx, args[0], o, cmd.OutOrStdout())
		},
	}
	addResolveFlags(c, &o.resolveOptions)
	addSourcesFlags(c, &o.sources)
	c.Flags().StringVarP(&o.outDir, "output-dir", "o", "", "write the cache here instead of $TEMPLATE/cache")
	c.Flags().StringVar(&o.lockfile, "lockfile", "", "install exactly the packages pinned in this lock file (see vzpkg lock); fails naming what changed")
	c.Flags().StringVar(&o.signKey, "sign", "", "sign the cache with this OpenPGP secret key file (writes NAME.tar.zst.asc)")
	o.tmpfs = "auto"
	c.Flags().Var(&o.tmpfs, "tmpfs", "build the root in memory: auto (when MemAvailable allows), always or never")
	c.Flags().BoolVar(&o.keepRoot, "keep-root", false, "keep the built root directory (for debugging); its path is printed")
	return c
}

func (a *app) build(ctx context.Context, name string, o buildOptions, out io.Writer) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("build: must run as root (packages are installed inside a container sandbox)")
	}
	p, err := a.newPipeline(ctx, name, o.resolveOptions, out)
	if err != nil {
		return err
	}
	t := p.tmpl
	for _, src := range p.resolved.Vars {
		if src.Name != "arch" {
			fmt.Fprintf(out, "$%s = %s (from %s)\n", src.Name, src.Value, src.From)
		}
	}
	cacheDir := o.outDir
	if cacheDir == "" {
		cacheDir = p.conf.CacheDir()
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return fmt.Errorf("build: cache directory: %w", err)
	}
	for _, step := range []func() error{
		func() error { return p.loadIndexes(ctx) },
		func() error {
			if o.lockfile != "" {
				return p.lockedSet(ctx, o.lockfile)
			}
			return p.solveSet(ctx)
		},
		func() error { return p.fetchPackages(ctx) },
	} {
		if err := step(); err != nil {
			return err
		}
	}

	var installed int64
	for _, pkg := range p.solved.Packages {
		installed += pkg.InstalledSize << 10
	}
	if o.keepRoot {
		o.tmpfs = "never" // a kept root must outlive this process's mounts
	}
	br, err := newBuildRoot(filepath.Join(p.conf.Get("TEMPLATE"), "build"), t.Name, installed, o.tmpfs)
	if err != nil {
		return err
	}
	root := br.Path
	defer func() {
		if o.keepRoot {
			fmt.Fprintf(out, "build root kept at %s\n", root)
			return
		}
		if rmErr := br.Remove(); rmErr != nil && err == nil {
			err = fmt.Errorf("build: remove build root: %w", rmErr)
		}
	}()
	stateDir, err := p.sandboxStateDir()
	if err != nil {
		return err
	}

	essential := p.packageFiles(p.solved.Essential)
	rest := p.packageFiles(p.solved.Rest)
	epoch, epochFrom, err := sourceDateEpoch(append(append([]string{}, essential...), rest...))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "SOURCE_DATE_EPOCH=%d (%s)\n", epoch.Unix(), epochFrom)

	dpkgLog := io.Discard
	if a.Verbose {
		dpkgLog = out
	}
	sources, sourceVars, err := containerSources(p.resolved, o.resolveOptions, o.sources)
	if err != nil {
		return err
	}
	for _, v := range sourceVars {
		if v.Name != "arch" {
			fmt.Fprintf(out, "container apt sources: $%s = %s\n", v.Name, v.Value)
		}
	}
	progress := cli.NewSteps(out, "install")
	err = p.stage("install", func() error {
		return deb.Bootstrap(ctx, deb.BootstrapOptions{
			Progress: func(e deb.Progress) {
				switch {
				case e.Finished:
					progress.Done(string(e.Step), e.Done, e.Total)
				case e.Package == "":
					progress.Start(string(e.Step), e.Total)
				default:
					progress.Item(string(e.Step), e.Package, e.Done, e.Total)
				}
			},
			Root:      root,
			Essential: essential,
			Packages:  rest,
			Sources:   sources,
			StateDir:  stateDir,
			PreInstall: func(ctx context.Context, _ string) error {
				return p.runTemplateScript(ctx, root, stateDir, metadata.PreInstall, out)
			},
			Stdout:          dpkgLog,
			Stderr:          dpkgLog,
			Logger:          p.log,
			SourceDateEpoch: epoch,
			AutoInstalled:   p.autoInstalled(),
			Architecture:    p.arch(),
		})
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", t.Name, err)
	}
	if err := p.stage("scripts", func() error {
		if err := p.runTemplateScript(ctx, root, stateDir, metadata.PostInstall, out); err != nil {
			return err
		}
		return p.runTemplateScript(ctx, root, stateDir, metadata.PreCache, out)
	}); err != nil {
		return fmt.Errorf("build %s: %w", t.Name, err)
	}

	m := &cache.Manifest{
		Name:           t.Cache.Name,
		MetadataDigest: t.Digest(),
		Distro:         t.Distro,
		Release:        t.Release,
		Arch:           p.arch(),
		Format:         cache.FormatDeb,
		Variant:        t.Variant,
		Mirror:         p.mirror(),
		MirrorSigned:   p.indexes[0].Signed,
		Tool:           "vzpkg " + version,
	}
	for _, pkg := range p.solved.Packages {
		m.Packages = append(m.Packages, cache.Package{Name: pkg.Name, Version: pkg.Version, Arch: pkg.Architecture, SHA256: pkg.SHA256})
	}
	var cachePath string
	if err := p.stage("pack", func() error {
		var err error
		cachePath, _, err = cache.Save(ctx, cacheDir, root, m, cache.PackOptions{SourceDateEpoch: epoch, Level: t.Cache.ZstdLevel})
		return err
	}); err != nil {
		return fmt.Errorf("build %s: %w", t.Name, err)
	}
	var sbomPath string
	if err := p.stage("sbom", func() error {
		var err error
		sbomPath, err = sbom.Write(ctx, cachePath, sbom.Options{Root: root})
		return err
	}); err != nil {
		return fmt.Errorf("build %s: %w", t.Name, err)
	}
	fmt.Fprintf(out, "sbom: %s\n", sbomPath)
	if o.signKey != "" {
		asc, err := sign.SignFile(ctx, cachePath, o.signKey)
		if err != nil {
			return fmt.Errorf("build %s: %w", t.Name, err)
		}
		fmt.Fprintf(out, "signature: %s\n", asc)
	}
	fmt.Fprintf(out, "cache: %s (%s, %d entries, %s unpacked, sha256 %s)\n", cachePath, cli.HumanBytes(m.Archive.Size),
		m.Archive.Entries, cli.HumanBytes(m.Archive.TarSize), m.Archive.SHA256)
	fmt.Fprintf(out, "packages: %d, downloaded %s (%d from the store)\n", len(m.Packages), cli.HumanBytes(p.download.Bytes), p.download.Cached)
	p.printTimings()
	return nil
}

// sandboxExec runs template scripts inside the build root with no network.
type sandboxExec struct {
	root, stateDir string
}

func (s sandboxExec) Exec(ctx context.Context, args, env []string, stdout, stderr io.Writer) (int, error) {
	return sandbox.Run(ctx, sandbox.Config{
		ID:       fmt.Sprintf("vzkit-hook-%d-%d", os.Getpid(), time.Now().UnixNano()),
		Root:     s.root,
		StateDir: s.stateDir,
		Hostname: "localhost",
		Network:  sandbox.Network{Mode: sandbox.NetNone},
	}, sandbox.Process{Args: args, Env: env, Stdout: stdout, Stderr: stderr})
}

// sourceDateEpoch is SOURCE_DATE_EPOCH when set, else the newest build date
// among the packages (the ar timestamp of their members): the same packages
// give the same cache, and no file in it is dated after its newest package.
func sourceDateEpoch(debs []string) (time.Time, string, error) {
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, "", fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds", v)
		}
		return time.Unix(n, 0), "from the environment", nil
	}
	var newest int64
	for _, f := range debs {
		ts, err := debTimestamp(f)
		if err != nil {
			return time.Time{}, "", err
		}
		newest = max(newest, ts)
	}
	return time.Unix(newest, 0), "the newest package's build date", nil
}

func debTimestamp(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	ar, err := debpkg.LoadAr(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	var newest int64
	for {
		e, err := ar.Next()
		if err == io.EOF {
			return newest, nil
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		newest = max(newest, e.Timestamp)
	}
}
