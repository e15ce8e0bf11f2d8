package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	rpminst "github.com/vzkit/vzkit/installer/rpm"
	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/internal/saferoot"
	"github.com/vzkit/vzkit/metadata"
	"github.com/vzkit/vzkit/repo"
	"github.com/vzkit/vzkit/repo/fetch"
	"github.com/vzkit/vzkit/repo/lockfile"
	"github.com/vzkit/vzkit/repo/rpmmd"
	"github.com/vzkit/vzkit/repo/rpmmd/solve"
)

// ErrRPMUpdate is returned by the RPM back end's Installed and Upgrade:
// updating an RPM cache in place is not built yet (rebuild it instead).
var ErrRPMUpdate = errors.New("updating an RPM cache in place is not supported yet: rebuild it with vzpkg build")

// rpmBackend is the back end of rpm-md repositories: indexes by
// repo/rpmmd, the solver repo/rpmmd/solve, installation by installer/rpm
// with the root's own rpm.
type rpmBackend struct {
	tmpl    *metadata.Template
	arch    string
	indexes []*rpmmd.Index
	repos   []metadata.Repository // the template's repository of each index
	keyring *pgp.Keyring          // every key of the template and its repositories
	result  *solve.Result         // the last solve, for the install order
}

func (b *rpmBackend) Format() repo.Format { return repo.FormatRPM }

// Load opens every repository. A file dependency of one repository may be
// met by a file of another, and each repository's filelists.xml keeps
// only the paths some dependency names: with several repositories every
// primary is read first (without filelists), then each repository is
// opened again with the union of all their file dependencies. The data
// files are kept in the index cache by checksum, so the second opening
// fetches only filelists.xml.
func (b *rpmBackend) Load(ctx context.Context, env Env) ([]Index, error) {
	b.tmpl, b.arch = env.Template, env.Template.Arch[0]
	b.indexes, b.repos, b.keyring = nil, nil, nil
	keyrings := make([]*pgp.Keyring, len(env.Template.Repositories))
	for i, rp := range env.Template.Repositories {
		kr, err := Keyring(ctx, env.Client, append(append([]metadata.Key(nil), env.Template.Keys...), rp.Keys...))
		if err != nil {
			return nil, fmt.Errorf("repository %s: %w", rp.Name, err)
		}
		keyrings[i] = kr
		if kr != nil {
			if b.keyring == nil {
				b.keyring = kr
			} else {
				b.keyring = b.keyring.Merge(kr)
			}
		}
	}
	open := func(i int, o rpmmd.Options) (*rpmmd.Index, error) {
		rp := env.Template.Repositories[i]
		o.CacheDir, o.Logger = env.IndexCache, env.Logger
		ix, err := rpmmd.Open(ctx, env.Client, rpmmd.Source{Name: rp.Name, URIs: rp.URLs(), Metalink: rp.Metalink, Mirrorlist: rp.Mirrorlist, Keyring: keyrings[i], Insecure: rp.Insecure}, o)
		if err != nil {
			return nil, fmt.Errorf("repository %s: %w", rp.Name, err)
		}
		return ix, nil
	}
	repos := env.Template.Repositories
	fileDeps := map[string]bool{}
	if len(repos) > 1 {
		for i := range repos {
			ix, err := open(i, rpmmd.Options{NoFilelists: true})
			if err != nil {
				return nil, err
			}
			for p := range rpmmd.FileDeps(ix.Packages) {
				fileDeps[p] = true
			}
		}
	}
	var out []Index
	for i, rp := range repos {
		ix, err := open(i, rpmmd.Options{FileDeps: fileDeps})
		if err != nil {
			return nil, err
		}
		b.indexes = append(b.indexes, ix)
		b.repos = append(b.repos, rp)
		out = append(out, Index{Source: lockfile.Source{Repository: rp.Name, Mirror: ix.Mirror, Packages: b.neutralAll(len(b.indexes) - 1)},
			Signed: ix.Signed, Signers: ix.Signers})
	}
	return out, nil
}

// neutralAll converts the packages of the i-th index, for the lock file.
// One whose checksum is not sha256 is left out: it cannot be stored or
// locked, and Solve refuses it by name if it is chosen.
func (b *rpmBackend) neutralAll(i int) []repo.Package {
	ix := b.indexes[i]
	out := make([]repo.Package, 0, len(ix.Packages))
	for j := range ix.Packages {
		if np, err := neutralRPM(ix, &ix.Packages[j]); err == nil {
			out = append(out, np)
		}
	}
	return out
}

// neutralRPM is the format-neutral value of an rpm-md package. The package
// store is addressed by SHA-256, so a repository that gives another
// checksum for a package is refused for it.
func neutralRPM(ix *rpmmd.Index, p *rpmmd.Package) (repo.Package, error) {
	if p.Checksum.Type != "sha256" {
		return repo.Package{}, fmt.Errorf("package %s: checksum type %q: the package store needs sha256", p.NEVRA(), p.Checksum.Type)
	}
	return repo.Package{
		Format:        repo.FormatRPM,
		Name:          p.Name,
		Version:       solve.EVRString(p.EVR),
		Arch:          p.Arch,
		Repository:    p.Repository,
		BaseURLs:      ix.PackageMirrors(p),
		Location:      p.Location,
		Size:          p.Size,
		Checksum:      repo.Checksum{Algo: repo.SHA256, Hex: strings.ToLower(p.Checksum.Value)},
		InstalledSize: p.InstalledSize,
	}, nil
}

// rpmKey identifies one package file across its rpm-md and neutral forms.
type rpmKey struct{ name, version, arch, sha string }

func keyOf(p *rpmmd.Package) rpmKey {
	return rpmKey{p.Name, solve.EVRString(p.EVR), p.Arch, strings.ToLower(p.Checksum.Value)}
}

// roots are the template's package requests: the variant and the
// includes, groups (@id) expanded over the merged comps of every
// repository; conditional packagereqs of the groups are returned apart.
func (b *rpmBackend) roots(all []rpmmd.Package) (roots []string, cond []rpmmd.PackageReq, err error) {
	var comps *rpmmd.Comps
	for _, ix := range b.indexes {
		if ix.Comps == nil {
			continue
		}
		if comps == nil {
			comps = ix.Comps
		} else {
			comps = comps.Merge(ix.Comps)
		}
	}
	var refs []string
	if v := b.tmpl.Packages.Variant; v != "" {
		refs = append(refs, v)
	}
	refs = append(refs, b.tmpl.Packages.Include...)
	for _, ref := range refs {
		if !strings.HasPrefix(ref, "@") && !strings.HasPrefix(ref, "pattern:") {
			roots = append(roots, ref)
			continue
		}
		sel, err := rpmmd.Expand(ref, comps, all, rpmmd.ExpandOptions{})
		if err != nil {
			return nil, nil, err
		}
		roots = append(roots, sel.Packages...)
		cond = append(cond, sel.Conditional...)
	}
	return roots, cond, nil
}

func (b *rpmBackend) Solve(ctx context.Context, req SolveRequest) (*Solution, error) {
	if req.Installed != nil {
		return nil, ErrRPMUpdate
	}
	var all []rpmmd.Package
	for _, ix := range b.indexes {
		all = append(all, ix.Packages...)
	}
	pkgs := all
	if req.Only != nil {
		want := map[rpmKey]bool{}
		for _, np := range req.Only {
			want[rpmKey{np.Name, np.Version, np.Arch, np.Checksum.Hex}] = true
		}
		pkgs = nil
		for i := range all {
			if want[keyOf(&all[i])] {
				pkgs = append(pkgs, all[i])
			}
		}
	}
	roots, cond, err := b.roots(all)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(b.repos))
	for i, rp := range b.repos {
		names[i] = rp.Name
	}
	io := solve.IndexOptions{Arch: b.arch, Repositories: names}
	opts := solve.Options{Exclude: b.tmpl.Packages.Exclude}
	ix, err := solve.NewIndex(ctx, pkgs, io)
	if err != nil {
		return nil, err
	}
	res, err := ix.Solve(ctx, roots, opts)
	if err != nil {
		return nil, err
	}
	// A conditional packagereq is installed when the package it names
	// is (dnf's rule): solve again with those that now apply, until no
	// more do.
	for len(cond) > 0 {
		chosen := map[string]bool{}
		for _, n := range res.Names() {
			chosen[n] = true
		}
		var more []string
		var rest []rpmmd.PackageReq
		for _, c := range cond {
			if chosen[c.Requires] {
				if !chosen[c.Name] {
					more = append(more, c.Name)
				}
			} else {
				rest = append(rest, c)
			}
		}
		if len(more) == 0 {
			break
		}
		roots, cond = append(roots, more...), rest
		if res, err = ix.Solve(ctx, roots, opts); err != nil {
			return nil, err
		}
	}
	b.result = res

	owner := map[rpmKey]*rpmmd.Index{}
	for _, rix := range b.indexes {
		for i := range rix.Packages {
			if k := keyOf(&rix.Packages[i]); owner[k] == nil {
				owner[k] = rix
			}
		}
	}
	s := &Solution{Variant: b.tmpl.Packages.Variant}
	byKey := map[string]*rpmmd.Package{}
	for i := range res.Packages {
		p := &res.Packages[i]
		byKey[solve.Key(p)] = p
		rix := owner[keyOf(p)]
		if rix == nil {
			return nil, fmt.Errorf("solver chose %s, which no repository lists", p.NEVRA())
		}
		np, err := neutralRPM(rix, p)
		if err != nil {
			return nil, err
		}
		s.Packages = append(s.Packages, np)
		if !strings.HasPrefix(res.Reasons[solve.Key(p)], "root ") {
			s.Auto = append(s.Auto, p.Name)
		}
	}
	var order []string
	for _, k := range res.Order {
		order = append(order, byKey[k].Name)
	}
	s.Stages = [][]string{order}
	return s, nil
}

// rpmClosure is the package providing /usr/bin/rpm and everything it
// Requires, transitively, among the solved packages, in install order:
// the set rpm needs to run at all. A requirement is met inside the set by
// a package of that name, one that provides it, or one that ships the
// path; every alternative of a rich dependency that the set has is
// followed, which can only add packages (they are installed by rpm's
// transaction anyway).
func rpmClosure(res *solve.Result) ([]string, error) {
	byKey := map[string]*rpmmd.Package{}
	meets := map[string][]string{} // a name, provide or path -> keys
	for i := range res.Packages {
		p := &res.Packages[i]
		k := solve.Key(p)
		byKey[k] = p
		meets[p.Name] = append(meets[p.Name], k)
		for _, d := range p.Provides {
			meets[d.Name] = append(meets[d.Name], k)
		}
		for _, f := range p.Files {
			meets[f] = append(meets[f], k)
		}
	}
	start := meets["/usr/bin/rpm"]
	if len(start) == 0 {
		return nil, errors.New("no package of the solved set ships /usr/bin/rpm: add the distro's rpm package to the template")
	}
	in := map[string]bool{}
	queue := slices.Clone(start)
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		if in[k] {
			continue
		}
		in[k] = true
		for _, d := range byKey[k].Requires {
			words := []string{d.Name}
			if strings.HasPrefix(d.Name, "(") {
				words = strings.FieldsFunc(d.Name, func(r rune) bool { return r == ' ' || r == '(' || r == ')' })
			}
			for _, w := range words {
				queue = append(queue, meets[w]...)
			}
		}
	}
	var out []string
	for _, k := range res.Order {
		if in[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// LockDigest fetches repomd.xml again from the mirror that served the
// verified one and returns its SHA-256; it is accepted only when it
// lists the same data files with the same checksums as the verified one.
func (b *rpmBackend) LockDigest(ctx context.Context, env Env, i int) (file, sum string, err error) {
	ix, name := b.indexes[i], b.repos[i].Name
	var buf bytes.Buffer
	const path = "repodata/repomd.xml"
	res, err := env.Client.Fetch(ctx, fetch.Request{Mirrors: []string{ix.Mirror}, Path: path, MaxSize: 16 << 20}, &buf)
	if err != nil {
		return "", "", fmt.Errorf("repository %s: lock: %w", name, err)
	}
	md, err := rpmmd.ParseRepomd(buf.Bytes(), res.URL)
	if err != nil {
		return "", "", fmt.Errorf("repository %s: lock: %w", name, err)
	}
	same := md.Revision == ix.Repomd.Revision && len(md.Data) == len(ix.Repomd.Data)
	for j := range md.Data {
		if same && (md.Data[j].Type != ix.Repomd.Data[j].Type || md.Data[j].Checksum != ix.Repomd.Data[j].Checksum) {
			same = false
		}
	}
	if !same {
		return "", "", fmt.Errorf("repository %s changed while locking (%s is not the repomd.xml that was verified): run vzpkg lock again", name, res.URL)
	}
	h := sha256.Sum256(buf.Bytes())
	return "repomd.xml", hex.EncodeToString(h[:]), nil
}

// BuildTime is the BUILDTIME of the package's header.
func (b *rpmBackend) BuildTime(file string) (time.Time, error) {
	p, err := rpminst.Open(file)
	if err != nil {
		return time.Time{}, err
	}
	return p.BuildTime()
}

// Bootstrap follows installer/rpm's plan: every package verified, rpm's
// closure extracted, the template's keys imported, then the root's rpm
// installs the whole set in one transaction.
func (b *rpmBackend) Bootstrap(ctx context.Context, req InstallRequest) error {
	if b.result == nil {
		return errors.New("rpm: bootstrap: nothing solved")
	}
	closure, err := rpmClosure(b.result)
	if err != nil {
		return fmt.Errorf("rpm: bootstrap: %w", err)
	}
	insecure := map[string]bool{}
	for _, rp := range b.repos {
		insecure[rp.Name] = rp.Insecure
	}
	byKey := map[string]repo.Package{}
	for _, np := range req.Solution.Packages {
		byKey[np.Name+"."+np.Arch] = np
	}
	o := rpminst.BootstrapOptions{
		Root:            req.Root,
		Keyring:         b.keyring,
		Insecure:        map[string]bool{},
		SHA256:          map[string]string{},
		StateDir:        req.StateDir,
		PreInstall:      req.PreInstall,
		Stdout:          req.Stdout,
		Stderr:          req.Stderr,
		Logger:          req.Logger,
		SourceDateEpoch: req.SourceDateEpoch,
		Step: func(step string, n int, done bool) {
			if req.Progress != nil {
				e := InstallProgress{Step: step, Total: n, Finished: done}
				if done {
					e.Done = n
				}
				req.Progress(e)
			}
		},
	}
	for _, k := range b.result.Order {
		np, ok := byKey[k]
		if !ok {
			return fmt.Errorf("rpm: bootstrap: %s was solved but is not in the solution", k)
		}
		f := req.File(np)
		o.Packages = append(o.Packages, f)
		o.SHA256[f] = np.Checksum.SHA256()
		if insecure[np.Repository] {
			o.Insecure[f] = true
		}
	}
	for _, k := range closure {
		o.Bootstrap = append(o.Bootstrap, req.File(byKey[k]))
	}
	if b.keyring != nil {
		if o.Keys, err = b.keyring.Armored(); err != nil {
			return fmt.Errorf("rpm: bootstrap: keys: %w", err)
		}
	}
	return rpminst.Bootstrap(ctx, o)
}

// canUpdate makes Update refuse before unpacking the cache.
func (b *rpmBackend) canUpdate() error { return ErrRPMUpdate }

// Upgrade is not built for RPM yet.
func (b *rpmBackend) Upgrade(ctx context.Context, req InstallRequest) error { return ErrRPMUpdate }

// Installed is not built for RPM yet: reading the rpmdb (sqlite, Berkeley
// DB or ndb, by distro) needs the root's own rpm.
func (b *rpmBackend) Installed(r *saferoot.Root) (map[string]Installed, error) {
	return nil, ErrRPMUpdate
}
