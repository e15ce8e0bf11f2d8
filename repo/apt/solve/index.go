package solve

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"

	"github.com/vzkit/vzkit/repo/apt"
)

// Index is a solver's view of one or more Packages indexes for one native
// architecture. Build it once and solve as often as needed; it is safe for
// concurrent use.
type Index struct {
	arch     string
	nat      native
	cands    map[string]*entry      // name -> candidate (highest version)
	provides map[string][]provision // virtual or real name -> candidates providing it
	names    []string               // candidate names, sorted
	// base lists, in name order, the candidates a variant can select
	// (Essential, or Priority standard or more important), so Solve need
	// not walk all names.
	base []*entry
}

// entry is one candidate package with its lazily parsed relationships.
type entry struct {
	pkg  apt.Package
	ver  version.Version
	prio int

	once      sync.Once
	err       error
	depends   []relation // Depends then Pre-Depends, apt's order
	pre       []relation // Pre-Depends alone, for the install order
	conflicts []relation
	breaks    []relation

	provided []string // names this candidate Provides, filled by NewIndex
}

// provision is one Provides alternative of a candidate.
type provision struct {
	e   *entry
	op  string // "=" for a versioned provide, "" otherwise
	ver version.Version
}

// priorities ranks Priority values as apt does: lower is more important.
var priorities = map[string]int{"required": 1, "important": 2, "standard": 3, "optional": 4, "extra": 5}

func priorityRank(p string) int {
	if r, ok := priorities[strings.ToLower(p)]; ok {
		return r
	}
	return 6
}

// NewIndex builds an Index from the stanzas of Packages indexes. Only
// packages of architecture arch or "all" are considered; of several versions
// of one name the highest wins (on a tie, the first given).
func NewIndex(ctx context.Context, pkgs []apt.Package, arch string) (*Index, error) {
	if arch == "" || arch == "all" || arch == "any" {
		return nil, fmt.Errorf("solve: native architecture %q is not a concrete architecture", arch)
	}
	spec, err := dependency.ParseArch(arch)
	if err != nil {
		return nil, fmt.Errorf("solve: native architecture %q: %w", arch, err)
	}
	ix := &Index{arch: arch, nat: native{name: arch, spec: spec}, cands: make(map[string]*entry), provides: make(map[string][]provision)}
	for i := range pkgs {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p := &pkgs[i]
		if p.Architecture != arch && p.Architecture != "all" {
			continue
		}
		if p.Name == "" {
			return nil, fmt.Errorf("solve: stanza %d has no Package field", i)
		}
		v, err := version.Parse(p.Version)
		if err != nil {
			return nil, fmt.Errorf("solve: package %s: version %q: %w", p.Name, p.Version, err)
		}
		if old, ok := ix.cands[p.Name]; ok && version.Compare(v, old.ver) <= 0 {
			continue
		}
		ix.cands[p.Name] = &entry{pkg: *p, ver: v, prio: priorityRank(p.Priority)}
	}
	ix.names = make([]string, 0, len(ix.cands))
	for name := range ix.cands {
		ix.names = append(ix.names, name)
	}
	sort.Strings(ix.names)
	for _, name := range ix.names {
		if e := ix.cands[name]; e.pkg.Essential || e.prio <= priorities["standard"] {
			ix.base = append(ix.base, e)
		}
	}
	// Provides of candidates only: apt ignores what non-candidate versions
	// provide. Walking in name order keeps provider lists deterministic.
	for _, name := range ix.names {
		e := ix.cands[name]
		if e.pkg.Provides == "" {
			continue
		}
		rels, err := parseRelations(e.pkg.Provides, ix.nat)
		if err != nil {
			return nil, fmt.Errorf("solve: package %s %s: Provides: %w", name, e.pkg.Version, err)
		}
		for _, r := range rels {
			for _, a := range r.alts {
				if a.op != "" && a.op != "=" {
					return nil, fmt.Errorf("solve: package %s %s: Provides: %s: only \"=\" is allowed", name, e.pkg.Version, a)
				}
				ix.provides[a.name] = append(ix.provides[a.name], provision{e: e, op: a.op, ver: a.ver})
				e.provided = append(e.provided, a.name)
			}
		}
	}
	return ix, nil
}

// rels parses e's relationship fields once.
func (ix *Index) rels(e *entry) error {
	e.once.Do(func() {
		parse := func(field, value string) []relation {
			if e.err != nil {
				return nil
			}
			r, err := parseRelations(value, ix.nat)
			if err != nil {
				e.err = fmt.Errorf("package %s %s: %s: %w", e.pkg.Name, e.pkg.Version, field, err)
			}
			return r
		}
		deps := parse("Depends", e.pkg.Depends)
		e.pre = parse("Pre-Depends", e.pkg.PreDepends)
		e.depends = append(deps, e.pre...)
		e.conflicts = parse("Conflicts", e.pkg.Conflicts)
		e.breaks = parse("Breaks", e.pkg.Breaks)
	})
	return e.err
}

// archOK reports whether candidate e may satisfy an alternative qualified
// with qual. Only native and "all" packages are candidates, so an unqualified
// or native-qualified alternative always matches; ":any" needs Multi-Arch:
// allowed (apt's implicit "pkg:any" provide); other architectures never match.
func (ix *Index) archOK(qual string, e *entry) bool {
	switch qual {
	case "", "native", ix.arch:
		return true
	case "any":
		return e.pkg.MultiArch == "allowed"
	}
	return false
}

// provideArchOK is archOK for a package that provides the name: for ":any"
// a provider must be Multi-Arch: foreign or allowed, the packages that may
// satisfy dependencies across architectures.
func (ix *Index) provideArchOK(qual string, e *entry) bool {
	switch qual {
	case "", "native", ix.arch:
		return true
	case "any":
		return e.pkg.MultiArch == "allowed" || e.pkg.MultiArch == "foreign"
	}
	return false
}

// satisfiedBy reports whether candidate e satisfies alternative a, either
// as the named package or through a Provides.
func (ix *Index) satisfiedBy(a alt, e *entry) bool {
	if e.pkg.Name == a.name && ix.archOK(a.qual, e) && versionOK(a.op, a.ver, e.ver) {
		return true
	}
	for _, pv := range ix.provides[a.name] {
		if pv.e == e && ix.provideOK(a, pv) {
			return true
		}
	}
	return false
}

// provideOK reports whether provision pv satisfies a. An unversioned provide
// satisfies only unversioned alternatives (Debian policy 7.5).
func (ix *Index) provideOK(a alt, pv provision) bool {
	if !ix.provideArchOK(a.qual, pv.e) {
		return false
	}
	if a.op == "" {
		return true
	}
	return pv.op == "=" && versionOK(a.op, a.ver, pv.ver)
}

// satisfiers lists the candidates that satisfy a, ranked as apt's
// CompareProviders ranks them for a fresh install.
func (ix *Index) satisfiers(a alt) []*entry {
	var out []*entry
	if e, ok := ix.cands[a.name]; ok && ix.archOK(a.qual, e) && versionOK(a.op, a.ver, e.ver) {
		out = append(out, e)
	}
	for _, pv := range ix.provides[a.name] {
		if pv.e.pkg.Name != a.name && ix.provideOK(a, pv) && !containsEntry(out, pv.e) {
			out = append(out, pv.e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if (x.pkg.Name == a.name) != (y.pkg.Name == a.name) {
			return x.pkg.Name == a.name
		}
		if x.pkg.Essential != y.pkg.Essential {
			return x.pkg.Essential
		}
		if x.prio != y.prio {
			return x.prio < y.prio
		}
		return x.pkg.Name < y.pkg.Name
	})
	return out
}

// whyNot explains why no candidate satisfies a.
func (ix *Index) whyNot(a alt) string {
	switch a.qual {
	case "", "any", "native", ix.arch:
	default:
		return "architecture " + a.qual + " is not solved for (only " + ix.arch + " and all)"
	}
	e, real := ix.cands[a.name]
	if !real && len(ix.provides[a.name]) == 0 {
		return "no such package"
	}
	if real && !ix.archOK(a.qual, e) {
		return fmt.Sprintf("%s is Multi-Arch: %q, which does not satisfy :%s", a.name, e.pkg.MultiArch, a.qual)
	}
	if real {
		return "only version " + e.pkg.Version + " is available"
	}
	return "no provider satisfies it"
}

func containsEntry(list []*entry, e *entry) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}
