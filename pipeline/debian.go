package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"pault.ag/go/debian/control"
	debpkg "pault.ag/go/debian/deb"

	"github.com/vzkit/vzkit/installer/deb"
	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/internal/saferoot"
	"github.com/vzkit/vzkit/metadata"
	"github.com/vzkit/vzkit/repo"
	"github.com/vzkit/vzkit/repo/apt"
	"github.com/vzkit/vzkit/repo/apt/solve"
	"github.com/vzkit/vzkit/repo/fetch"
	"github.com/vzkit/vzkit/repo/lockfile"
)

// debian is the back end of apt repositories: indexes by repo/apt, the
// solver repo/apt/solve (mmdebstrap's two stages), installation by
// installer/deb with the root's own dpkg.
type debian struct {
	tmpl    *metadata.Template
	arch    string
	indexes []*apt.Index
	names   []string // the template's repository name of each index
	suites  []string // and the suite it was loaded for
	// installed are the stanzas of the root's dpkg database as Installed
	// last read them: an update solves against them.
	installed map[string]*apt.Package
}

func (d *debian) Format() repo.Format { return repo.FormatDeb }

func (d *debian) Load(ctx context.Context, env Env) ([]Index, error) {
	d.tmpl, d.arch = env.Template, env.Template.Arch[0]
	var out []Index
	for _, rp := range env.Template.Repositories {
		kr, err := Keyring(ctx, env.Client, append(append([]metadata.Key(nil), env.Template.Keys...), rp.Keys...))
		if err != nil {
			return nil, fmt.Errorf("repository %s: %w", rp.Name, err)
		}
		for _, suite := range rp.Suites {
			ix, err := apt.Load(ctx, env.Client, apt.Source{
				URIs: rp.URLs(), Suite: suite, Components: rp.Components, Arch: d.arch,
				Keyring: kr, Insecure: rp.Insecure,
			}, apt.Options{CacheDir: env.IndexCache, Logger: env.Logger})
			if err != nil {
				return nil, fmt.Errorf("repository %s: %w", rp.Name, err)
			}
			d.indexes = append(d.indexes, ix)
			d.names = append(d.names, rp.Name)
			d.suites = append(d.suites, suite)
			src := lockfile.Source{Repository: rp.Name, Suite: suite, Components: rp.Components, Mirror: ix.Mirror,
				Packages: apt.Neutral(ix.Packages, rp.Name)}
			if ix.Release != nil {
				src.Codename, src.Date = ix.Release.Codename, ix.Release.Date
			}
			out = append(out, Index{Source: src, Signed: ix.Signed, Signers: ix.Signers})
		}
	}
	return out, nil
}

// options is what the template asks the solver for; every kind of solve
// must agree on it.
func (d *debian) options() solve.Options {
	variant := d.tmpl.Packages.Variant
	if variant == "" {
		variant = string(solve.VariantCustom)
	}
	return solve.Options{Variant: solve.Variant(variant), Include: d.tmpl.Packages.Include, Exclude: d.tmpl.Packages.Exclude}
}

func (d *debian) Solve(ctx context.Context, req SolveRequest) (*Solution, error) {
	opts := d.options()
	var all []apt.Package
	var names []string // update: the installed packages, by name
	switch {
	case req.Only != nil:
		all = d.native(req.Only)
	case req.Installed != nil:
		// The installed stanzas go first so that, at equal versions, the
		// solver keeps the installed package; a package no longer in any
		// index stays as it is. The roots are every installed package
		// and the template's includes, so upgrades pull in their new
		// dependencies and a template that now includes more gets it.
		for n, ip := range req.Installed {
			if ip.Clean && d.installed[n] != nil {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			all = append(all, *d.installed[n])
		}
		for _, ix := range d.indexes {
			all = append(all, ix.Packages...)
		}
		opts.Variant = solve.VariantCustom
		opts.Include = append(slices.Clone(names), opts.Include...)
	default:
		for _, ix := range d.indexes {
			all = append(all, ix.Packages...)
		}
	}
	res, err := solve.Solve(ctx, all, d.arch, opts)
	if err != nil {
		if req.Installed != nil {
			return nil, fmt.Errorf("solve the installed set: %w", err)
		}
		return nil, err
	}
	s := &Solution{Packages: d.neutral(res.Packages), Stages: [][]string{res.Essential, res.Rest}, Variant: string(opts.Variant)}
	for _, n := range res.Rest {
		// apt would mark exactly these Auto-Installed.
		if strings.HasPrefix(res.Reasons[n], "dependency of ") {
			s.Auto = append(s.Auto, n)
		}
	}
	if req.Installed == nil {
		return s, nil
	}
	chosen := map[string]repo.Package{}
	for _, pkg := range s.Packages {
		chosen[pkg.Name] = pkg
	}
	var dropped []string
	for _, n := range names {
		if _, ok := chosen[n]; !ok {
			dropped = append(dropped, n)
		}
	}
	if len(dropped) > 0 {
		return nil, fmt.Errorf("the update would remove %s (excluded by the template?): rebuild the cache instead", strings.Join(dropped, ", "))
	}
	// Install order: the solver's, dependencies first.
	for _, n := range append(slices.Clone(res.Essential), res.Rest...) {
		pkg := chosen[n]
		ip, ok := req.Installed[n]
		if ok && ip.Clean && ip.Version == pkg.Version {
			continue
		}
		c := Change{New: pkg}
		if ok {
			c.Old = ip.Version
		}
		s.Changes = append(s.Changes, c)
	}
	return s, nil
}

// aptKey identifies one package file across its apt and neutral forms.
type aptKey struct{ name, version, arch, sha string }

// neutral converts solved stanzas, each attributed to the first index
// (in template order) that lists it; installed stanzas no index has keep
// no repository and no file.
func (d *debian) neutral(pkgs []apt.Package) []repo.Package {
	owner := map[aptKey]string{}
	for i, ix := range d.indexes {
		for _, ap := range ix.Packages {
			k := aptKey{ap.Name, ap.Version, ap.Architecture, ap.SHA256}
			if _, ok := owner[k]; !ok {
				owner[k] = d.names[i]
			}
		}
	}
	out := make([]repo.Package, len(pkgs))
	for i := range pkgs {
		out[i] = pkgs[i].Neutral(owner[aptKey{pkgs[i].Name, pkgs[i].Version, pkgs[i].Architecture, pkgs[i].SHA256}])
	}
	return out
}

// native maps neutral packages back to the index stanzas they came from.
func (d *debian) native(pkgs []repo.Package) []apt.Package {
	byKey := map[aptKey]*apt.Package{}
	for _, ix := range d.indexes {
		for i := range ix.Packages {
			ap := &ix.Packages[i]
			k := aptKey{ap.Name, ap.Version, ap.Architecture, ap.SHA256}
			if _, ok := byKey[k]; !ok {
				byKey[k] = ap
			}
		}
	}
	out := make([]apt.Package, 0, len(pkgs))
	for _, np := range pkgs {
		if ap := byKey[aptKey{np.Name, np.Version, np.Arch, np.Checksum.Hex}]; ap != nil {
			out = append(out, *ap)
		}
	}
	return out
}

// LockDigest fetches the suite's InRelease (else Release) again from the
// mirror that served the verified index and returns its SHA-256. apt.Load
// keeps only the parsed text, so the file is fetched a second time; it is
// accepted only when it states the same Date and the same hashes for every
// index file that was used, i.e. when it is the file that was verified, or
// one that says exactly the same thing about the packages.
func (d *debian) LockDigest(ctx context.Context, env Env, i int) (file, sum string, err error) {
	ix, repoName, suite := d.indexes[i], d.names[i], d.suites[i]
	get := func(name string) ([]byte, fetch.Result, error) {
		var buf bytes.Buffer
		res, err := env.Client.Fetch(ctx, fetch.Request{Mirrors: []string{ix.Mirror}, Path: "dists/" + suite + "/" + name, MaxSize: 32 << 20}, &buf)
		return buf.Bytes(), res, err
	}
	file = "InRelease"
	data, res, err := get(file)
	text := data
	if errors.Is(err, fs.ErrNotExist) {
		file = "Release"
		data, res, err = get(file)
		text = data
	} else if err == nil {
		text, err = pgp.ClearsignedText(data)
	}
	if err != nil {
		return "", "", fmt.Errorf("repository %s suite %s: lock: %w", repoName, suite, err)
	}
	rel, err := apt.ParseRelease(text, res.URL)
	if err != nil {
		return "", "", fmt.Errorf("repository %s suite %s: lock: %w", repoName, suite, err)
	}
	same := ix.Release != nil && rel.Date.Equal(ix.Release.Date)
	for _, f := range ix.Files {
		if same && rel.Files[f] != ix.Release.Files[f] {
			same = false
		}
	}
	if !same {
		return "", "", fmt.Errorf("repository %s suite %s changed while locking (%s is not the Release that was verified): run vzpkg lock again",
			repoName, suite, res.URL)
	}
	h := sha256.Sum256(data)
	return file, hex.EncodeToString(h[:]), nil
}

// BuildTime is the newest ar member timestamp of a .deb.
func (d *debian) BuildTime(path string) (time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	ar, err := debpkg.LoadAr(f)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", path, err)
	}
	var newest int64
	for {
		e, err := ar.Next()
		if err == io.EOF {
			return time.Unix(newest, 0), nil
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", path, err)
		}
		newest = max(newest, e.Timestamp)
	}
}

// files are the store paths of the named packages, in order.
func files(s *Solution, names []string, file func(repo.Package) string) []string {
	byName := map[string]repo.Package{}
	for _, p := range s.Packages {
		byName[p.Name] = p
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, file(byName[n]))
	}
	return out
}

func (d *debian) Bootstrap(ctx context.Context, req InstallRequest) error {
	var essential, rest []string
	if len(req.Solution.Stages) > 0 {
		essential = files(req.Solution, req.Solution.Stages[0], req.File)
	}
	if len(req.Solution.Stages) > 1 {
		rest = files(req.Solution, req.Solution.Stages[1], req.File)
	}
	sources := AptSources(req.Repositories)
	return deb.Bootstrap(ctx, deb.BootstrapOptions{
		Progress: func(e deb.Progress) {
			if req.Progress != nil {
				req.Progress(InstallProgress{Step: string(e.Step), Package: e.Package, Done: e.Done, Total: e.Total, Finished: e.Finished})
			}
		},
		Root:      req.Root,
		Essential: essential,
		Packages:  rest,
		Sources:   sources,
		StateDir:  req.StateDir,
		PreInstall: func(ctx context.Context, _ string) error {
			if req.PreInstall == nil {
				return nil
			}
			return req.PreInstall(ctx)
		},
		Stdout:          req.Stdout,
		Stderr:          req.Stderr,
		Logger:          req.Logger,
		SourceDateEpoch: req.SourceDateEpoch,
		AutoInstalled:   req.Solution.Auto,
		Architecture:    req.Arch,
	})
}

// AptSources are the apt sources a Debian root gets for repos: every
// suite of every repository, on its first URL.
func AptSources(repos []metadata.Repository) deb.Sources {
	var s deb.Sources
	for _, rp := range repos {
		for _, suite := range rp.Suites {
			s.Entries = append(s.Entries, deb.Source{Mirror: strings.TrimRight(rp.URL, "/"), Suite: suite, Components: rp.Components})
		}
	}
	return s
}

// Upgrade lets the root's own dpkg install the changed packages, in the
// solver's order, in a sandbox with no network (installer/deb.Install).
func (d *debian) Upgrade(ctx context.Context, req InstallRequest) error {
	debs := make([]string, len(req.Solution.Changes))
	for i, c := range req.Solution.Changes {
		debs[i] = req.File(c.New)
	}
	return deb.Install(ctx, deb.InstallOptions{
		Root:            req.Root,
		Debs:            debs,
		StateDir:        req.StateDir,
		Stdout:          req.Stdout,
		Stderr:          req.Stderr,
		SourceDateEpoch: req.SourceDateEpoch,
		Logger:          req.Logger,
	})
}

// maxStatusSize bounds /var/lib/dpkg/status read from a cache root; a
// standard system's is about 1 MiB.
const maxStatusSize = 64 << 20

// dpkgInstalled is the state of a package installed with nothing pending.
const dpkgInstalled = "install ok installed"

func (d *debian) Installed(r *saferoot.Root) (map[string]Installed, error) {
	st, err := readInstalled(r)
	if err != nil {
		return nil, err
	}
	d.installed = map[string]*apt.Package{}
	out := map[string]Installed{}
	for n, ip := range st {
		d.installed[n] = &ip.Package
		out[n] = Installed{Name: n, Version: ip.Version, Arch: ip.Architecture, State: ip.Status,
			Present: strings.HasSuffix(ip.Status, " installed"), Clean: ip.Status == dpkgInstalled}
	}
	return out, nil
}

// installedPkg is one package of a root's dpkg database.
type installedPkg struct {
	apt.Package
	Status string // e.g. "install ok installed"
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
