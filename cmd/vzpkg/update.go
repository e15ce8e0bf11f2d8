package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vzkit/vzkit/installer/deb"
	"github.com/vzkit/vzkit/internal/atomicfile"
	"github.com/vzkit/vzkit/internal/saferoot"

	"github.com/spf13/cobra"
	"pault.ag/go/debian/control"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/cache/sbom"
	"github.com/vzkit/vzkit/cache/sign"
	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/metadata"
	"github.com/vzkit/vzkit/repo"
	"github.com/vzkit/vzkit/repo/apt"
	"github.com/vzkit/vzkit/repo/apt/solve"
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

// maxStatusSize bounds /var/lib/dpkg/status read from a cache root; a
// standard system's is about 1 MiB.
const maxStatusSize = 64 << 20

// installedPkg is one package of a root's dpkg database.
type installedPkg struct {
	apt.Package
	Status string // e.g. "install ok installed"
}

// upgrade is one package the update installs: Old is "" for a new one.
type upgrade struct {
	Old string
	New apt.Package
}

func (a *app) update(ctx context.Context, name string, o updateOptions, out io.Writer) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("update: must run as root (packages are installed inside a container sandbox)")
	}
	p, err := a.newPipeline(ctx, name, o.resolveOptions, out)
	if err != nil {
		return err
	}
	t := p.tmpl
	cacheDir := o.cacheDir
	if cacheDir == "" {
		cacheDir = p.conf.CacheDir()
	}
	cachePath := filepath.Join(cacheDir, t.Cache.Name+".tar.zst")
	m, err := cache.ReadManifest(cache.ManifestPath(cachePath))
	if err != nil {
		return fmt.Errorf("update %s: no usable cache in %s (build it first): %w", t.Name, cacheDir, err)
	}
	if m.Format != "" && m.Format != cache.FormatDeb {
		return fmt.Errorf("update %s: cache %s holds %s packages, this template installs deb", t.Name, cachePath, m.Format)
	}
	if m.Arch != p.arch() {
		return fmt.Errorf("update %s: cache %s is for %s, not %s", t.Name, cachePath, m.Arch, p.arch())
	}
	if d := t.Digest(); m.MetadataDigest != d {
		fmt.Fprintf(out, "note: %s was built from other metadata (%s); the update uses the current template (%s)\n", cachePath, m.MetadataDigest, d)
	}
	if err := p.loadIndexes(ctx); err != nil {
		return err
	}

	buildBase := filepath.Join(p.conf.Get("TEMPLATE"), "build")
	if err := os.MkdirAll(buildBase, 0o700); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	root, err := os.MkdirTemp(buildBase, t.Name+"-update-")
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer func() {
		if o.keepRoot {
			fmt.Fprintf(out, "build root kept at %s\n", root)
			return
		}
		if rmErr := saferoot.RemoveTree(root); rmErr != nil && err == nil {
			err = fmt.Errorf("update: remove build root: %w", rmErr)
		}
	}()
	// MkdirTemp makes it 0700, but it becomes the container's "/", which
	// every user must be able to traverse.
	if err := os.Chmod(root, 0o755); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	// What the cache and its packages put in the root is untrusted: the
	// host reads it only through r.
	r, err := saferoot.Open(root)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer r.Close()
	if err := p.stage("unpack", func() error {
		return cache.Unpack(ctx, cachePath, root, cache.UnpackOptions{RequireManifest: true})
	}); err != nil {
		return fmt.Errorf("update %s: %w", t.Name, err)
	}
	installed, err := readInstalled(r)
	if err != nil {
		return fmt.Errorf("update %s: %w", t.Name, err)
	}
	if err := crossCheck(m, installed, out); err != nil {
		return fmt.Errorf("update %s: cache %s: %w", t.Name, cachePath, err)
	}

	var changes []upgrade
	var res *solve.Result
	if err := p.stage("solve", func() error {
		var err error
		res, changes, err = p.planUpdate(ctx, installed)
		return err
	}); err != nil {
		return fmt.Errorf("update %s: %w", t.Name, err)
	}
	if len(changes) == 0 {
		fmt.Fprintf(out, "%s is up to date\n", t.Name)
		return nil
	}
	var fetchList []apt.Package
	for _, c := range changes {
		fetchList = append(fetchList, c.New)
	}
	if err := p.stage("download", func() error {
		stats, err := repo.Download(ctx, p.client, p.store, p.neutral(fetchList), repo.DownloadOptions{})
		p.download = stats
		if err == nil {
			fmt.Fprintf(out, "download: %d fetched (%s), %d already in %s\n", stats.Downloaded, cli.HumanBytes(stats.Bytes), stats.Cached, p.store.Root())
		}
		return err
	}); err != nil {
		return fmt.Errorf("update %s: %w", t.Name, err)
	}

	// Known before anything runs, so that maintainer scripts stamp the
	// same date the cache is clamped to.
	epoch, err := updateEpoch(m, p.packageStorePaths(changes))
	if err != nil {
		return err
	}
	stateDir, err := p.sandboxStateDir()
	if err != nil {
		return err
	}
	dpkgLog := io.Discard
	if a.Verbose {
		dpkgLog = out
	}
	if err := p.stage("install", func() error {
		return p.installUpgrades(ctx, root, stateDir, changes, epoch, dpkgLog)
	}); err != nil {
		return fmt.Errorf("update %s: %w", t.Name, err)
	}
	after, err := readInstalled(r)
	if err != nil {
		return fmt.Errorf("update %s: %w", t.Name, err)
	}
	for _, c := range changes {
		got := after[c.New.Name]
		if got == nil || got.Version != c.New.Version || got.Status != "install ok installed" {
			return fmt.Errorf("update %s: dpkg did not install %s %s (database says %+v)", t.Name, c.New.Name, c.New.Version, got)
		}
	}
	if err := p.stage("scripts", func() error {
		if err := p.runTemplateScript(ctx, root, stateDir, metadata.PostInstall, out); err != nil {
			return err
		}
		return p.runTemplateScript(ctx, root, stateDir, metadata.PreCache, out)
	}); err != nil {
		return fmt.Errorf("update %s: %w", t.Name, err)
	}

	nm := *m
	nm.Archive = cache.Archive{}
	nm.MetadataDigest = t.Digest()
	nm.Format = cache.FormatDeb
	nm.Mirror = p.mirror()
	nm.MirrorSigned = p.indexes[0].Signed
	nm.Tool = "vzpkg " + version
	nm.Packages = updatedPackages(m, res, changes)
	tmpDir, err := os.MkdirTemp(cacheDir, "."+t.Cache.Name+".update-")
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	if err := p.stage("pack", func() error {
		newCache, _, err := cache.Save(ctx, tmpDir, root, &nm, cache.PackOptions{SourceDateEpoch: epoch, Level: t.Cache.ZstdLevel})
		if err != nil {
			return err
		}
		// The SBOM describes one cache file: the new one gets its own,
		// the old one keeps its SBOM under the -old name.
		if _, err = sbom.Write(ctx, newCache, sbom.Options{Root: root}); err != nil || o.signKey == "" {
			return err
		}
		_, err = sign.SignFile(ctx, newCache, o.signKey)
		return err
	}); err != nil {
		return fmt.Errorf("update %s: %w", t.Name, err)
	}
	if err := replaceCache(cacheDir, tmpDir, t.Cache.Name); err != nil {
		return fmt.Errorf("update %s: %w", t.Name, err)
	}
	for _, c := range changes {
		old := c.Old
		if old == "" {
			old = "(new)"
		}
		fmt.Fprintf(out, "upgraded: %s %s -> %s\n", c.New.Name, old, c.New.Version)
	}
	fmt.Fprintf(out, "cache: %s (%s, sha256 %s); previous cache kept as %s\n", cachePath, cli.HumanBytes(nm.Archive.Size),
		nm.Archive.SHA256, filepath.Join(cacheDir, t.Cache.Name+"-old.tar.zst"))
	p.printTimings()
	return nil
}

// readInstalled reads the root's dpkg database (the status file) into
// package values the solver understands, by name. The file must be a
// regular one: a symlink or FIFO there is an error, never followed or
// opened.
func readInstalled(r *saferoot.Root) (map[string]*installedPkg, error) {
	const status = "/var/lib/dpkg/status"
	data, err := r.ReadFile(status, maxStatusSize)
	if err != nil {
		return nil, fmt.Errorf("dpkg database: %w", err)
	}
	return parseStatus(data, status)
}

// parseStatus parses a dpkg status file; name is used in errors.
func parseStatus(data []byte, name string) (map[string]*installedPkg, error) {
	pr, err := control.NewParagraphReader(bytes.NewReader(data), nil)
	if err != nil {
		return nil, fmt.Errorf("dpkg database %s: %w", name, err)
	}
	out := map[string]*installedPkg{}
	for {
		para, err := pr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("dpkg database %s: %w", name, err)
		}
		v := para.Values
		if v["Package"] == "" || v["Version"] == "" {
			// Packages known only by selection or purged leave stanzas
			// without a version; they are not installed.
			continue
		}
		ip := &installedPkg{Status: v["Status"], Package: apt.Package{
			Name: v["Package"], Version: v["Version"], Architecture: v["Architecture"], MultiArch: v["Multi-Arch"],
			Essential: v["Essential"] == "yes", Priority: v["Priority"], Section: v["Section"], Source: v["Source"],
			Depends: v["Depends"], PreDepends: v["Pre-Depends"], Provides: v["Provides"], Conflicts: v["Conflicts"],
			Breaks: v["Breaks"], Replaces: v["Replaces"], Recommends: v["Recommends"],
		}}
		if prev, dup := out[ip.Name]; dup {
			return nil, fmt.Errorf("dpkg database %s: %s listed twice (%s and %s); multi-arch roots are not supported",
				name, ip.Name, prev.Architecture, ip.Architecture)
		}
		out[ip.Name] = ip
	}
	return out, nil
}

// crossCheck makes sure the manifest describes the root: every package it
// lists is installed, fully, at that version. Packages dpkg has that the
// manifest lacks (installed by a template script) are kept and reported.
func crossCheck(m *cache.Manifest, installed map[string]*installedPkg, out io.Writer) error {
	var problems []string
	listed := map[string]bool{}
	for _, mp := range m.Packages {
		listed[mp.Name] = true
		ip := installed[mp.Name]
		switch {
		case ip == nil || !strings.HasSuffix(ip.Status, " installed"):
			problems = append(problems, fmt.Sprintf("%s %s is in the manifest but not installed in the root", mp.Name, mp.Version))
		case ip.Version != mp.Version:
			problems = append(problems, fmt.Sprintf("%s is %s in the manifest but %s in the root", mp.Name, mp.Version, ip.Version))
		case ip.Status != "install ok installed":
			problems = append(problems, fmt.Sprintf("%s is %q in the root", mp.Name, ip.Status))
		}
	}
	if len(problems) > 0 {
		return errors.New("manifest and dpkg database disagree: " + strings.Join(problems, "; "))
	}
	var extra []string
	for n, ip := range installed {
		if !listed[n] && ip.Status == "install ok installed" {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		fmt.Fprintf(out, "note: installed but not in the manifest (kept and updated too): %s\n", strings.Join(extra, ", "))
	}
	return nil
}

// planUpdate solves the installed set against the verified indexes. The
// installed stanzas go first so that, at equal versions, the solver keeps
// the installed package; a package no longer in any index stays as it is.
// The roots are every installed package and the template's includes, so
// upgrades pull in their new dependencies and a template that now includes
// more gets it.
func (p *pipeline) planUpdate(ctx context.Context, installed map[string]*installedPkg) (*solve.Result, []upgrade, error) {
	var names []string
	for n, ip := range installed {
		if ip.Status == "install ok installed" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var all []apt.Package
	for _, n := range names {
		all = append(all, installed[n].Package)
	}
	for _, ix := range p.indexes {
		all = append(all, ix.Packages...)
	}
	opts := p.solveOptions()
	opts.Variant = solve.VariantCustom
	opts.Include = append(slices.Clone(names), opts.Include...)
	res, err := solve.Solve(ctx, all, p.arch(), opts)
	if err != nil {
		return nil, nil, fmt.Errorf("solve the installed set: %w", err)
	}
	chosen := map[string]apt.Package{}
	for _, pkg := range res.Packages {
		chosen[pkg.Name] = pkg
	}
	var dropped []string
	for _, n := range names {
		if _, ok := chosen[n]; !ok {
			dropped = append(dropped, n)
		}
	}
	if len(dropped) > 0 {
		return nil, nil, fmt.Errorf("the update would remove %s (excluded by the template?): rebuild the cache instead", strings.Join(dropped, ", "))
	}
	// Install order: the solver's, dependencies first.
	var changes []upgrade
	for _, n := range append(slices.Clone(res.Essential), res.Rest...) {
		pkg := chosen[n]
		ip := installed[n]
		if ip != nil && ip.Status == "install ok installed" && ip.Version == pkg.Version {
			continue
		}
		u := upgrade{New: pkg}
		if ip != nil {
			u.Old = ip.Version
		}
		changes = append(changes, u)
	}
	return res, changes, nil
}

func (p *pipeline) packageStorePaths(changes []upgrade) []string {
	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = p.store.Path(c.New.SHA256)
	}
	return out
}

// installUpgrades lets the root's own dpkg install the changed packages, in
// the solver's order, in a sandbox with no network (installer/deb.Install).
func (p *pipeline) installUpgrades(ctx context.Context, root, stateDir string, changes []upgrade, epoch time.Time, log io.Writer) error {
	debs := make([]string, len(changes))
	for i, c := range changes {
		debs[i] = p.store.Path(c.New.SHA256)
	}
	return deb.Install(ctx, deb.InstallOptions{
		Root:            root,
		Debs:            debs,
		StateDir:        stateDir,
		Stdout:          log,
		Stderr:          log,
		SourceDateEpoch: epoch,
		Logger:          p.log,
	})
}

// updatedPackages is the new manifest's package list: the solved set, with
// the old manifest's digest for what was not touched.
func updatedPackages(m *cache.Manifest, res *solve.Result, changes []upgrade) []cache.Package {
	old := map[string]cache.Package{}
	for _, mp := range m.Packages {
		old[mp.Name] = mp
	}
	changed := map[string]bool{}
	for _, c := range changes {
		changed[c.New.Name] = true
	}
	var out []cache.Package
	for _, pkg := range res.Packages {
		if mp, ok := old[pkg.Name]; ok && !changed[pkg.Name] {
			out = append(out, mp)
			continue
		}
		if !changed[pkg.Name] {
			// Installed outside the manifest (a template script) and unchanged:
			// no archive digest is known.
			out = append(out, cache.Package{Name: pkg.Name, Version: pkg.Version, Arch: pkg.Architecture})
			continue
		}
		out = append(out, cache.Package{Name: pkg.Name, Version: pkg.Version, Arch: pkg.Architecture, SHA256: pkg.SHA256})
	}
	return out
}

// updateEpoch is SOURCE_DATE_EPOCH when set; otherwise the later of the old
// cache's epoch and the newest build date of the installed packages, so an
// update of the same cache with the same packages gives the same bytes.
func updateEpoch(m *cache.Manifest, debs []string) (time.Time, error) {
	epoch, _, err := sourceDateEpoch(debs)
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
