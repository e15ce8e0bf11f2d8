package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/cache/sbom"
	"github.com/vzkit/vzkit/cache/sign"
	"github.com/vzkit/vzkit/internal/atomicfile"
	"github.com/vzkit/vzkit/internal/saferoot"
	"github.com/vzkit/vzkit/repo"
)

// UpdateOptions tune Update.
type UpdateOptions struct {
	CacheDir string
	KeepRoot bool   // keep the build root; RootKept says where
	SignKey  string // sign the new cache
}

// UpdateResult is what Update did. Changes is empty when the cache was up
// to date (and left alone).
type UpdateResult struct {
	Cache    string
	OldCache string // where the previous cache now is
	Manifest *cache.Manifest
	Changes  []Change
}

// Update brings the existing cache of the template up to date with its
// repositories, as OpenVZ's vzpkgcache does in update mode: the cache is
// unpacked into a build root, its package database read (it must agree
// with the manifest), the installed set solved against the verified
// indexes, the changed packages installed by the root's own package
// manager and the template's post-install and pre-cache scripts run
// again; the new cache then takes the current one's place, which is kept
// as NAME-old. Call it after LoadIndexes.
func (p *Pipeline) Update(ctx context.Context, o UpdateOptions) (res *UpdateResult, err error) {
	t := p.cfg.Template
	cur := cachePath(o.CacheDir, t.Cache.Name)
	m, err := cache.ReadManifest(cache.ManifestPath(cur))
	if err != nil {
		return nil, fmt.Errorf("update %s: no usable cache in %s (build it first): %w", t.Name, o.CacheDir, err)
	}
	if f := cache.PackageFormat(p.Format()); m.Format != "" && m.Format != f {
		return nil, fmt.Errorf("update %s: cache %s holds %s packages, the template installs %s", t.Name, cur, m.Format, f)
	}
	if m.Arch != p.Arch() {
		return nil, fmt.Errorf("update %s: cache %s is for %s, not %s", t.Name, cur, m.Arch, p.Arch())
	}
	// A back end that cannot update says so before the cache is unpacked.
	if u, ok := p.backend.(interface{ canUpdate() error }); ok {
		if err := u.canUpdate(); err != nil {
			return nil, fmt.Errorf("update %s: %w", t.Name, err)
		}
	}
	if d := t.Digest(); m.MetadataDigest != d {
		p.emit(Note{fmt.Sprintf("%s was built from other metadata (%s); the update uses the current template (%s)", cur, m.MetadataDigest, d)})
	}
	if err := os.MkdirAll(p.cfg.BuildDir, 0o700); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	root, err := os.MkdirTemp(p.cfg.BuildDir, t.Name+"-update-")
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	defer func() {
		if o.KeepRoot {
			p.emit(RootKept{Path: root})
			return
		}
		if rmErr := saferoot.RemoveTree(root); rmErr != nil && err == nil {
			res, err = nil, fmt.Errorf("update: remove build root: %w", rmErr)
		}
	}()
	// MkdirTemp makes it 0700, but it becomes the container's "/", which
	// every user must be able to traverse.
	if err := os.Chmod(root, 0o755); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	// What the cache and its packages put in the root is untrusted: the
	// host reads it only through r.
	r, err := saferoot.Open(root)
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	defer r.Close()
	if err := p.stage("unpack", func() error {
		return cache.Unpack(ctx, cur, root, cache.UnpackOptions{RequireManifest: true})
	}); err != nil {
		return nil, fmt.Errorf("update %s: %w", t.Name, err)
	}
	installed, err := p.backend.Installed(r)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", t.Name, err)
	}
	extra, err := crossCheck(m, installed)
	if err != nil {
		return nil, fmt.Errorf("update %s: cache %s: %w", t.Name, cur, err)
	}
	if len(extra) > 0 {
		p.emit(Note{"installed but not in the manifest (kept and updated too): " + strings.Join(extra, ", ")})
	}

	if err := p.stage("solve", func() error {
		var err error
		p.solution, err = p.backend.Solve(ctx, SolveRequest{Installed: installed})
		return err
	}); err != nil {
		return nil, fmt.Errorf("update %s: %w", t.Name, err)
	}
	res = &UpdateResult{Cache: cur, Changes: p.solution.Changes}
	if len(res.Changes) == 0 {
		return res, nil
	}
	list := make([]repo.Package, len(res.Changes))
	fetched := make([]string, len(res.Changes))
	for i, c := range res.Changes {
		list[i], fetched[i] = c.New, p.file(c.New)
	}
	if err := p.stage("download", func() error { return p.fetch(ctx, list) }); err != nil {
		return nil, fmt.Errorf("update %s: %w", t.Name, err)
	}

	// Known before anything runs, so that maintainer scripts stamp the
	// same date the cache is clamped to.
	epoch, err := p.updateEpoch(m, fetched)
	if err != nil {
		return nil, err
	}
	stateDir, err := p.sandboxStateDir()
	if err != nil {
		return nil, err
	}
	if err := p.stage("install", func() error {
		return p.backend.Upgrade(ctx, InstallRequest{Root: root, StateDir: stateDir, Solution: p.solution, File: p.file, Arch: p.Arch(),
			SourceDateEpoch: epoch, Stdout: p.cfg.Log, Stderr: p.cfg.Log, Logger: p.cfg.Logger})
	}); err != nil {
		return nil, fmt.Errorf("update %s: %w", t.Name, err)
	}
	after, err := p.backend.Installed(r)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", t.Name, err)
	}
	for _, c := range res.Changes {
		got, ok := after[c.New.Name]
		if !ok || got.Version != c.New.Version || !got.Clean {
			return nil, fmt.Errorf("update %s: the package manager did not install %s %s (database says %+v)", t.Name, c.New.Name, c.New.Version, got)
		}
	}
	if err := p.finalScripts(ctx, root, stateDir); err != nil {
		return nil, fmt.Errorf("update %s: %w", t.Name, err)
	}

	nm := *m
	nm.Archive = cache.Archive{}
	nm.MetadataDigest = t.Digest()
	nm.Format = cache.PackageFormat(p.Format())
	nm.Mirror = p.Mirror()
	nm.MirrorSigned = p.indexes[0].Signed
	nm.Tool = p.cfg.Tool
	nm.Packages = updatedPackages(m, p.solution)
	tmpDir, err := os.MkdirTemp(o.CacheDir, "."+t.Cache.Name+".update-")
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	if err := p.stage("pack", func() error {
		newCache, _, err := cache.Save(ctx, tmpDir, root, &nm, cache.PackOptions{SourceDateEpoch: epoch, Level: t.Cache.ZstdLevel})
		if err != nil {
			return err
		}
		// The SBOM describes one cache file: the new one gets its own,
		// the old one keeps its SBOM under the -old name.
		if _, err = sbom.Write(ctx, newCache, sbom.Options{Root: root}); err != nil || o.SignKey == "" {
			return err
		}
		_, err = sign.SignFile(ctx, newCache, o.SignKey)
		return err
	}); err != nil {
		return nil, fmt.Errorf("update %s: %w", t.Name, err)
	}
	if err := replaceCache(o.CacheDir, tmpDir, t.Cache.Name); err != nil {
		return nil, fmt.Errorf("update %s: %w", t.Name, err)
	}
	res.Manifest = &nm
	res.OldCache = cachePath(o.CacheDir, t.Cache.Name+"-old")
	return res, nil
}

// crossCheck makes sure the manifest describes the root: every package it
// lists is installed, fully, at that version. Packages the database has
// that the manifest lacks (installed by a template script) are kept and
// returned, sorted.
func crossCheck(m *cache.Manifest, installed map[string]Installed) ([]string, error) {
	var problems []string
	listed := map[string]bool{}
	for _, mp := range m.Packages {
		listed[mp.Name] = true
		ip, ok := installed[mp.Name]
		switch {
		case !ok || !ip.Present:
			problems = append(problems, fmt.Sprintf("%s %s is in the manifest but not installed in the root", mp.Name, mp.Version))
		case ip.Version != mp.Version:
			problems = append(problems, fmt.Sprintf("%s is %s in the manifest but %s in the root", mp.Name, mp.Version, ip.Version))
		case !ip.Clean:
			problems = append(problems, fmt.Sprintf("%s is %q in the root", mp.Name, ip.State))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New("manifest and package database disagree: " + strings.Join(problems, "; "))
	}
	var extra []string
	for n, ip := range installed {
		if !listed[n] && ip.Clean {
			extra = append(extra, n)
		}
	}
	slices.Sort(extra)
	return extra, nil
}

// updatedPackages is the new manifest's package list: the solved set, with
// the old manifest's digest for what was not touched.
func updatedPackages(m *cache.Manifest, s *Solution) []cache.Package {
	old := map[string]cache.Package{}
	for _, mp := range m.Packages {
		old[mp.Name] = mp
	}
	changed := map[string]bool{}
	for _, c := range s.Changes {
		changed[c.New.Name] = true
	}
	var out []cache.Package
	for _, pkg := range s.Packages {
		if mp, ok := old[pkg.Name]; ok && !changed[pkg.Name] {
			out = append(out, mp)
			continue
		}
		if !changed[pkg.Name] {
			// Installed outside the manifest (a template script) and unchanged:
			// no archive digest is known.
			out = append(out, cache.Package{Name: pkg.Name, Version: pkg.Version, Arch: pkg.Arch})
			continue
		}
		out = append(out, cache.Package{Name: pkg.Name, Version: pkg.Version, Arch: pkg.Arch, SHA256: pkg.Checksum.SHA256()})
	}
	return out
}

// updateEpoch is SOURCE_DATE_EPOCH when set; otherwise the later of the old
// cache's epoch and the newest build date of the installed packages, so an
// update of the same cache with the same packages gives the same bytes.
func (p *Pipeline) updateEpoch(m *cache.Manifest, files []string) (time.Time, error) {
	epoch, _, err := p.sourceDateEpoch(files)
	if err != nil || os.Getenv("SOURCE_DATE_EPOCH") != "" {
		return epoch, err
	}
	if old := time.Unix(m.Archive.SourceDateEpoch, 0); old.After(epoch) {
		return old, nil
	}
	return epoch, nil
}

// replaceCache puts the cache pair saved in newDir in place of the current
// one in dir, keeping the current one as NAME-old. The order keeps every
// manifest beside the archive it describes or beside none:
//
//  1. the previous NAME-old set goes, manifest first;
//  2. NAME.json becomes NAME-old.json, then NAME.tar.zst (and its
//     signature and SBOM) become NAME-old.*: the old pair is whole again;
//  3. the new NAME.tar.zst is renamed in, then its signature and SBOM
//     when there are any, then the new NAME.json last.
//
// Interrupted anywhere, NAME is either the old cache, the new one, or an
// archive without a manifest (which no tool takes for a valid cache).
func replaceCache(dir, newDir, name string) error {
	old := name + "-old"
	sidecars := []string{".tar.zst", ".tar.zst.asc", ".spdx.json"}
	for _, f := range append([]string{".json"}, sidecars...) {
		if err := os.Remove(filepath.Join(dir, old+f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the previous %s: %w", old+f, err)
		}
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return err
	}
	for _, f := range append([]string{".json"}, sidecars...) {
		if err := os.Rename(filepath.Join(dir, name+f), filepath.Join(dir, old+f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("keep %s as %s: %w", name+f, old+f, err)
		}
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return err
	}
	for _, f := range []string{".tar.zst", ".tar.zst.asc", ".spdx.json", ".json"} {
		err := os.Rename(filepath.Join(newDir, name+f), filepath.Join(dir, name+f))
		if err != nil && !(f != ".tar.zst" && f != ".json" && errors.Is(err, fs.ErrNotExist)) {
			return fmt.Errorf("put the new %s in place: %w", name+f, err)
		}
	}
	return atomicfile.SyncDir(dir)
}
