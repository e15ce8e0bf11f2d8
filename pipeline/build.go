package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/cache/sbom"
	"github.com/vzkit/vzkit/cache/sign"
	"github.com/vzkit/vzkit/metadata"
)

// BuildOptions tune Build.
type BuildOptions struct {
	CacheDir string // where the cache goes (created if missing)
	// KeepRoot keeps the build root (for debugging): the RootKept event
	// says where. A kept root is never a tmpfs.
	KeepRoot bool
	Tmpfs    TmpfsMode
	SignKey  string // OpenPGP secret key file: sign the cache (NAME.tar.zst.asc)
	// Repositories are the template's repositories as the finished
	// root's package manager should use them (its apt sources); nil
	// means the template's own.
	Repositories []metadata.Repository
}

// BuildResult is what Build made.
type BuildResult struct {
	Cache     string // the cache file
	Manifest  *cache.Manifest
	SBOM      string
	Signature string // "" without SignKey
}

// Build installs the solved, fetched set into a new build root with the
// back end's package manager, runs the template's scripts, packs the root
// into a cache with its manifest and SBOM, and signs it when asked. Call
// it after Fetch. The build root goes whatever happens (unless KeepRoot).
func (p *Pipeline) Build(ctx context.Context, o BuildOptions) (res *BuildResult, err error) {
	t := p.cfg.Template
	if p.solution == nil {
		return nil, fmt.Errorf("build %s: nothing solved", t.Name)
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("build: cache directory: %w", err)
	}
	var installed int64
	for _, pkg := range p.solution.Packages {
		installed += pkg.InstalledSize
	}
	if o.KeepRoot {
		o.Tmpfs = TmpfsNever // a kept root must outlive this process's mounts
	}
	br, err := newBuildRoot(p.cfg.BuildDir, t.Name, installed, o.Tmpfs)
	if err != nil {
		return nil, err
	}
	root := br.Path
	defer func() {
		if o.KeepRoot {
			p.emit(RootKept{Path: root})
			return
		}
		if rmErr := br.Remove(); rmErr != nil && err == nil {
			res, err = nil, fmt.Errorf("build: remove build root: %w", rmErr)
		}
	}()
	stateDir, err := p.sandboxStateDir()
	if err != nil {
		return nil, err
	}
	var all []string
	for _, stage := range p.solution.Stages {
		all = append(all, files(p.solution, stage, p.file)...)
	}
	epoch, epochFrom, err := p.sourceDateEpoch(all)
	if err != nil {
		return nil, err
	}
	p.emit(EpochChosen{Epoch: epoch, From: epochFrom})

	repos := o.Repositories
	if repos == nil {
		repos = t.Repositories
	}
	err = p.stage("install", func() error {
		return p.backend.Bootstrap(ctx, InstallRequest{
			Root:         root,
			StateDir:     stateDir,
			Solution:     p.solution,
			File:         p.file,
			Repositories: repos,
			Arch:         p.Arch(),
			PreInstall: func(ctx context.Context) error {
				return p.runTemplateScript(ctx, root, stateDir, metadata.PreInstall)
			},
			SourceDateEpoch: epoch,
			Progress:        func(e InstallProgress) { p.emit(e) },
			Stdout:          p.cfg.Log,
			Stderr:          p.cfg.Log,
			Logger:          p.cfg.Logger,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", t.Name, err)
	}
	if err := p.finalScripts(ctx, root, stateDir); err != nil {
		return nil, fmt.Errorf("build %s: %w", t.Name, err)
	}

	m := &cache.Manifest{
		Name:           t.Cache.Name,
		MetadataDigest: t.Digest(),
		Distro:         t.Distro,
		Release:        t.Release,
		Arch:           p.Arch(),
		Format:         cache.PackageFormat(p.Format()),
		Variant:        t.Variant,
		Mirror:         p.Mirror(),
		MirrorSigned:   p.indexes[0].Signed,
		Tool:           p.cfg.Tool,
	}
	for _, pkg := range p.solution.Packages {
		m.Packages = append(m.Packages, cache.Package{Name: pkg.Name, Version: pkg.Version, Arch: pkg.Arch, SHA256: pkg.Checksum.SHA256()})
	}
	res = &BuildResult{Manifest: m}
	if err := p.stage("pack", func() error {
		var err error
		res.Cache, _, err = cache.Save(ctx, o.CacheDir, root, m, cache.PackOptions{SourceDateEpoch: epoch, Level: t.Cache.ZstdLevel})
		return err
	}); err != nil {
		return nil, fmt.Errorf("build %s: %w", t.Name, err)
	}
	if err := p.stage("sbom", func() error {
		var err error
		res.SBOM, err = sbom.Write(ctx, res.Cache, sbom.Options{Root: root})
		return err
	}); err != nil {
		return nil, fmt.Errorf("build %s: %w", t.Name, err)
	}
	if o.SignKey != "" {
		if res.Signature, err = sign.SignFile(ctx, res.Cache, o.SignKey); err != nil {
			return nil, fmt.Errorf("build %s: %w", t.Name, err)
		}
	}
	return res, nil
}

// cachePath is where a cache NAME lies in dir.
func cachePath(dir, name string) string { return filepath.Join(dir, name+".tar.zst") }
