package solve

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/vzkit/vzkit/repo/rpmmd"
)

// compatArches lists, for a native architecture, the architectures whose
// packages it can install, best first; noarch ranks with the native one.
// The lists follow rpm's arch_compat for the architectures templates use.
var compatArches = map[string][]string{
	"x86_64":  {"x86_64", "i686", "i586", "i486", "i386", "athlon"},
	"i686":    {"i686", "i586", "i486", "i386", "athlon"},
	"aarch64": {"aarch64"},
	"ppc64le": {"ppc64le"},
	"s390x":   {"s390x"},
	"riscv64": {"riscv64"},
	"armv7hl": {"armv7hl", "armv7l", "armv6hl"},
}

// IndexOptions say how to read the packages.
type IndexOptions struct {
	// Arch is the native architecture, e.g. x86_64.
	Arch string
	// Repositories orders rpmmd.Package.Repository names by priority,
	// highest first; a provider from an earlier repository wins over any
	// from a later one (dnf's priority=). Unlisted repositories come last,
	// equal to each other. Empty: all repositories are equal.
	Repositories []string
}

// Index is a solver's view of the packages of one or more repositories
// for one native architecture. Build it once and solve as often as
// needed; it is safe for concurrent use.
type Index struct {
	arch     string
	pkgs     []*pkg
	byName   map[string][]*pkg      // name -> packages, best first
	provides map[string][]provision // provided name -> packages, in index order
	files    map[string][]*pkg      // file path -> packages owning it
	// obsoleters maps a name to the packages that obsolete it.
	obsoleters map[string][]*pkg
	// negative maps a name to the packages whose Conflicts, or Requires
	// with an unless, mention it: the packages whose relations a new
	// package with that name among its provides or files can break.
	negative map[string][]*pkg
}

// pkg is one installable package with its lazily parsed dependencies.
type pkg struct {
	p    *rpmmd.Package
	id   int // position in the index: the last tie-breaker
	arch int // rank of its architecture, 0 best
	prio int // rank of its repository, 0 best

	once      sync.Once
	err       error
	requires  []*req
	conflicts []*Expr

	provs []named // what it provides, its own name first

	negOnce sync.Once
	negQ    []*pkg // see Index.negativeFor
}

// req is one Requires entry.
type req struct {
	e   *Expr
	pre bool
	dep rpmmd.Dep // as written, for messages
}

// provision is one Provides entry of a package (or its implicit
// "name = epoch:version-release").
type provision struct {
	p   *pkg
	op  rpmmd.Op
	evr rpmmd.EVR
}

// named is a provision with the name it provides.
type named struct {
	name string
	pv   provision
}

// Key names a package in results: "name.arch".
func Key(p *rpmmd.Package) string { return p.Name + "." + p.Arch }

func (p *pkg) key() string { return Key(p.p) }

// nevra formats p as dnf prints it: name-[epoch:]version-release.arch.
func (p *pkg) nevra() string { return p.p.Name + "-" + EVRString(p.p.EVR) + "." + p.p.Arch }

// NewIndex builds an Index. Source packages and packages of architectures
// the native one cannot run are left out.
func NewIndex(ctx context.Context, pkgs []rpmmd.Package, opts IndexOptions) (*Index, error) {
	compat, ok := compatArches[opts.Arch]
	if !ok {
		known := make([]string, 0, len(compatArches))
		for a := range compatArches {
			known = append(known, a)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("solve: unknown native architecture %q (want one of %s)", opts.Arch, strings.Join(known, ", "))
	}
	archRank := map[string]int{"noarch": 0}
	for i, a := range compat {
		archRank[a] = i
	}
	repoRank := make(map[string]int, len(opts.Repositories))
	for i, r := range opts.Repositories {
		if _, dup := repoRank[r]; !dup {
			repoRank[r] = i
		}
	}
	ix := &Index{
		arch:       opts.Arch,
		byName:     make(map[string][]*pkg),
		provides:   make(map[string][]provision),
		files:      make(map[string][]*pkg),
		obsoleters: make(map[string][]*pkg),
		negative:   make(map[string][]*pkg),
	}
	for i := range pkgs {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rp := &pkgs[i]
		rank, ok := archRank[rp.Arch]
		if !ok {
			continue
		}
		if rp.Name == "" || rp.EVR.Version == "" {
			return nil, fmt.Errorf("solve: package %d (%s) has no name or version", i, rp.Location)
		}
		prio, ok := repoRank[rp.Repository]
		if !ok {
			prio = len(opts.Repositories)
		}
		p := &pkg{p: rp, id: len(ix.pkgs), arch: rank, prio: prio}
		ix.pkgs = append(ix.pkgs, p)
		ix.byName[rp.Name] = append(ix.byName[rp.Name], p)
		// Every package provides its own name at its EVR (rpmbuild adds
		// it; hand-made metadata may not list it).
		self := provision{p: p, op: rpmmd.OpEQ, evr: rp.EVR}
		ix.provides[rp.Name] = append(ix.provides[rp.Name], self)
		p.provs = append(p.provs, named{rp.Name, self})
		for _, d := range rp.Provides {
			if d.Name == rp.Name && d.Op == rpmmd.OpEQ && CompareEVR(d.EVR, rp.EVR) == 0 {
				continue
			}
			pv := provision{p: p, op: d.Op, evr: d.EVR}
			ix.provides[d.Name] = append(ix.provides[d.Name], pv)
			p.provs = append(p.provs, named{d.Name, pv})
		}
		for _, f := range rp.Files {
			if l := ix.files[f]; len(l) == 0 || l[len(l)-1] != p {
				ix.files[f] = append(l, p)
			}
		}
		for _, d := range rp.Obsoletes {
			ix.obsoleters[d.Name] = append(ix.obsoleters[d.Name], p)
		}
		ix.indexNegative(p)
	}
	for _, list := range ix.byName {
		sort.SliceStable(list, func(i, j int) bool { return better(list[i], list[j]) })
	}
	return ix, nil
}

// indexNegative records the names p's Conflicts and unless-Requires
// mention. Unparsable entries are left to deps, which reports them.
func (ix *Index) indexNegative(p *pkg) {
	add := func(name string) {
		if l := ix.negative[name]; len(l) == 0 || l[len(l)-1] != p {
			ix.negative[name] = append(l, p)
		}
	}
	for _, d := range p.p.Conflicts {
		if e, err := ParseDep(d); err == nil {
			e.atoms(func(a *Expr) { add(a.Name) })
		}
	}
	for _, d := range p.p.Requires {
		if !strings.HasPrefix(d.Name, "(") || !strings.Contains(d.Name, "unless") {
			continue
		}
		if e, err := ParseDep(d); err == nil {
			e.atoms(func(a *Expr) { add(a.Name) })
		}
	}
}

// negativeFor lists, once per package, the packages whose Conflicts or
// unless-Requires mention a name c provides or a file c owns: the only
// ones c's selection can offend.
func (ix *Index) negativeFor(c *pkg) []*pkg {
	c.negOnce.Do(func() {
		seen := map[*pkg]bool{}
		add := func(name string) {
			for _, q := range ix.negative[name] {
				if !seen[q] {
					seen[q] = true
					c.negQ = append(c.negQ, q)
				}
			}
		}
		add(c.p.Name)
		for _, d := range c.p.Provides {
			add(d.Name)
		}
		for _, f := range c.p.Files {
			add(f)
		}
	})
	return c.negQ
}

// better orders two packages of one name: repository priority, then
// architecture, then the higher EVR, then index order.
func better(a, b *pkg) bool {
	if a.prio != b.prio {
		return a.prio < b.prio
	}
	if a.arch != b.arch {
		return a.arch < b.arch
	}
	if c := CompareEVR(a.p.EVR, b.p.EVR); c != 0 {
		return c > 0
	}
	return a.id < b.id
}

// Len returns the number of installable packages in the index.
func (ix *Index) Len() int { return len(ix.pkgs) }

// deps parses p's Requires and Conflicts once.
func (p *pkg) deps() error {
	p.once.Do(func() {
		for _, d := range p.p.Requires {
			e, err := ParseDep(d)
			if err != nil {
				p.err = fmt.Errorf("package %s: Requires: %w", p.nevra(), err)
				return
			}
			p.requires = append(p.requires, &req{e: e, pre: d.Pre, dep: d})
		}
		for _, d := range p.p.Conflicts {
			e, err := ParseDep(d)
			if err != nil {
				p.err = fmt.Errorf("package %s: Conflicts: %w", p.nevra(), err)
				return
			}
			p.conflicts = append(p.conflicts, e)
		}
	})
	return p.err
}

// builtin reports whether an atom is satisfied by rpm itself: rpmlib()
// features (createrepo_c drops them from primary.xml, but hand-made
// metadata may keep them).
func builtin(a *Expr) bool { return strings.HasPrefix(a.Name, "rpmlib(") }

// matches reports whether package p satisfies atom a, by a Provides
// (its own name included) or, for a path, by owning the file.
func (ix *Index) matches(a *Expr, p *pkg) bool {
	for _, pv := range ix.provides[a.Name] {
		if pv.p == p && Overlaps(a.Cmp, a.EVR, pv.op, pv.evr) {
			return true
		}
	}
	if strings.HasPrefix(a.Name, "/") && a.Cmp == rpmmd.OpAny {
		for _, q := range ix.files[a.Name] {
			if q == p {
				return true
			}
		}
	}
	return false
}

// providers lists the packages satisfying atom a, in index order, without
// duplicates.
func (ix *Index) providers(a *Expr) []*pkg {
	var out []*pkg
	seen := map[*pkg]bool{}
	for _, pv := range ix.provides[a.Name] {
		if !seen[pv.p] && Overlaps(a.Cmp, a.EVR, pv.op, pv.evr) {
			seen[pv.p] = true
			out = append(out, pv.p)
		}
	}
	if strings.HasPrefix(a.Name, "/") && a.Cmp == rpmmd.OpAny {
		for _, p := range ix.files[a.Name] {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// obsoletes reports whether a obsoletes b: one of a's Obsoletes names b
// (by package name, not by what b provides, as libsolv and dnf do) with a
// range that b's EVR is in. A package never obsoletes itself.
func obsoletes(a, b *pkg) bool {
	if a == b || a.p.Name == b.p.Name {
		return false
	}
	for _, d := range a.p.Obsoletes {
		if d.Name == b.p.Name && Overlaps(d.Op, d.EVR, rpmmd.OpEQ, b.p.EVR) {
			return true
		}
	}
	return false
}

// policy orders the candidates for one choice the way libsolv's
// policy_filter_unwanted does before dnf takes the first: the highest
// repository priority, then the best architecture (noarch equal to the
// native one), then per name the highest EVR are kept in front; of those,
// packages another front package obsoletes go behind; the front is then
// in name order (strcmp). Neither the name the dependency asks for nor
// name length counts: the oracle test shows dnf choosing "aa-long-name"
// over "zz-s" and over a package of the required name. The packages
// pruned come after, in the same order, so that backtracking can still
// reach them.
func (ix *Index) policy(cands []*pkg) []*pkg {
	if len(cands) <= 1 {
		return cands
	}
	bestPrio := cands[0].prio
	for _, c := range cands {
		bestPrio = min(bestPrio, c.prio)
	}
	bestArch := -1
	for _, c := range cands {
		if c.prio == bestPrio && (bestArch < 0 || c.arch < bestArch) {
			bestArch = c.arch
		}
	}
	top := map[string]*pkg{}
	for _, c := range cands {
		if c.prio != bestPrio || c.arch != bestArch {
			continue
		}
		if t, ok := top[c.p.Name]; !ok || better(c, t) {
			top[c.p.Name] = c
		}
	}
	front := func(c *pkg) bool { return top[c.p.Name] == c }
	obsoleted := map[*pkg]bool{}
	for _, c := range cands {
		if !front(c) {
			continue
		}
		for _, o := range ix.obsoleters[c.p.Name] {
			if front(o) && obsoletes(o, c) {
				obsoleted[c] = true
			}
		}
	}
	tier := func(c *pkg) int {
		switch {
		case front(c) && !obsoleted[c]:
			return 0
		case front(c):
			return 1
		}
		return 2
	}
	out := append([]*pkg(nil), cands...)
	sort.SliceStable(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if tx, ty := tier(x), tier(y); tx != ty {
			return tx < ty
		}
		if x.p.Name != y.p.Name {
			return x.p.Name < y.p.Name
		}
		return better(x, y)
	})
	return out
}
