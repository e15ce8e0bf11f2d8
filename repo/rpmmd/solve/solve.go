package solve

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/vzkit/vzkit/repo/rpmmd"
)

// Options say what else constrains a solve.
type Options struct {
	// Exclude lists package names that must not be chosen (dnf's
	// --exclude). A root naming one fails; a dependency only they satisfy
	// fails naming the chain.
	Exclude []string
}

// Result is the chosen package set and its install order.
type Result struct {
	// Packages is the chosen set, sorted by name, then architecture.
	Packages []rpmmd.Package
	// Order lists Key of every chosen package in install order:
	// dependencies first, Requires(pre) edges kept inside cycles.
	Order []string
	// Reasons says why each package (by Key) was chosen: "root foo" or
	// "required by bar.x86_64".
	Reasons map[string]string
	// Replaced maps the Key of a root package that another chosen package
	// obsoletes to the Key of that package.
	Replaced map[string]string
}

// Names returns the names of the chosen packages, sorted.
func (r *Result) Names() []string {
	out := make([]string, len(r.Packages))
	for i := range r.Packages {
		out[i] = r.Packages[i].Name
	}
	return out
}

// maxSteps bounds the choices tried, so that backtracking over a
// pathological index fails instead of running for ever.
const maxSteps = 1 << 16

// Solve builds an Index of pkgs and solves roots on it.
func Solve(ctx context.Context, pkgs []rpmmd.Package, io IndexOptions, roots []string, opts Options) (*Result, error) {
	ix, err := NewIndex(ctx, pkgs, io)
	if err != nil {
		return nil, err
	}
	return ix.Solve(ctx, roots, opts)
}

// state is one solving run: the selected set and how to undo it.
type state struct {
	ctx      context.Context
	ix       *Index
	excluded map[string]bool
	sel      map[*pkg]bool
	byName   map[string][]*pkg // selected packages of a name
	order    []*pkg            // selection order, for rollback
	parent   map[*pkg]*pkg     // who pulled a package in; nil for a root
	level    map[*pkg]int      // the number of choices made when a package was selected
	roots    []*pkg
	reason   map[*pkg]string
	choices  []choice
	// settled packages need no look in pass; settledLog says when each
	// was settled, so that a rollback can unsettle it.
	settled    map[*pkg]bool
	settledLog []settleMark
	// selProv and selFiles index the provisions and files of the
	// selected packages, so atomSat need not walk every provider.
	selProv  map[string][]provision
	selFiles map[string][]*pkg
	steps    int
	replaced map[string]string
}

// Solve chooses the packages that installing roots into an empty root
// needs. A root is a package name, "name.arch", a provided name or a file
// path, optionally versioned ("foo >= 1.2"); comps groups must be
// expanded by the caller.
func (ix *Index) Solve(ctx context.Context, roots []string, opts Options) (*Result, error) {
	s := &state{
		ctx: ctx, ix: ix,
		excluded: make(map[string]bool),
		sel:      make(map[*pkg]bool),
		byName:   make(map[string][]*pkg),
		parent:   make(map[*pkg]*pkg),
		level:    make(map[*pkg]int),
		reason:   make(map[*pkg]string),
		replaced: make(map[string]string),
		settled:  make(map[*pkg]bool),
		selProv:  make(map[string][]provision),
		selFiles: make(map[string][]*pkg),
	}
	for _, n := range opts.Exclude {
		s.excluded[strings.TrimSpace(n)] = true
	}
	return s.run(roots)
}

func (s *state) run(roots []string) (*Result, error) {
	for _, r := range roots {
		p, err := s.pickRoot(r)
		if err != nil {
			return nil, err
		}
		if p == nil || slices.Contains(s.roots, p) {
			continue
		}
		if err := p.deps(); err != nil {
			return nil, fmt.Errorf("solve: %w", err)
		}
		s.reason[p] = "root " + strings.TrimSpace(r)
		s.roots = append(s.roots, p)
	}
	s.replaceObsoletedRoots()
	for _, p := range s.roots {
		s.mark(p, nil)
	}
	if err := s.search(); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	keep := s.reachable()
	if s.checkSet(keep) != nil {
		// Dropping what no root reaches must not change what holds; if
		// it would, everything selected stays.
		keep = s.sel
	}
	res := &Result{Reasons: make(map[string]string), Replaced: s.replaced}
	var kept []*pkg
	for _, p := range s.order {
		if !keep[p] {
			continue
		}
		kept = append(kept, p)
		res.Packages = append(res.Packages, *p.p)
		if why, ok := s.reason[p]; ok {
			res.Reasons[p.key()] = why
		} else {
			res.Reasons[p.key()] = "required by " + s.parent[p].key()
		}
	}
	sort.Slice(res.Packages, func(i, j int) bool {
		a, b := &res.Packages[i], &res.Packages[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Arch < b.Arch
	})
	res.Order = s.installOrder(kept)
	return res, nil
}

// pickRoot resolves one root to the package to install, as dnf install
// does with a spec: a package name first, then name.arch, then what
// provides it (a file path included), ranked as for a dependency.
func (s *state) pickRoot(root string) (*pkg, error) {
	root = strings.TrimSpace(root)
	if root == "" {
		return nil, fmt.Errorf("solve: empty root")
	}
	a := &Expr{Op: OpAtom, Name: root}
	if f := strings.Fields(root); len(f) == 3 {
		if cmp, ok := parseCmp(f[1]); ok {
			a = &Expr{Op: OpAtom, Name: f[0], Cmp: cmp, EVR: ParseEVR(f[2])}
		}
	}
	var cands []*pkg
	for _, p := range s.ix.byName[a.Name] {
		if s.ix.matches(a, p) {
			cands = append(cands, p)
		}
	}
	if len(cands) == 0 && a.Cmp == rpmmd.OpAny {
		if i := strings.LastIndexByte(a.Name, '.'); i > 0 {
			for _, p := range s.ix.byName[a.Name[:i]] {
				if p.p.Arch == a.Name[i+1:] {
					cands = append(cands, p)
				}
			}
		}
	}
	if len(cands) == 0 {
		cands = s.ix.policy(s.ix.providers(a))
	}
	if len(cands) == 0 {
		return nil, &UnmetError{Dependency: root, Reason: s.ix.whyNot(a)}
	}
	for _, p := range cands {
		if s.excluded[p.p.Name] {
			continue
		}
		// dnf (obsoletes=True) installs what obsoletes a package asked
		// for instead of it.
		var obs []*pkg
		for _, o := range s.ix.obsoleters[p.p.Name] {
			if obsoletes(o, p) && !s.excluded[o.p.Name] && !slices.Contains(obs, o) {
				obs = append(obs, o)
			}
		}
		if len(obs) > 0 {
			o := s.ix.policy(obs)[0]
			s.replaced[p.key()] = o.key()
			return o, nil
		}
		return p, nil
	}
	return nil, &UnmetError{Dependency: root, Reason: "only excluded packages provide it: " + nameList(cands)}
}

// replaceObsoletedRoots drops a root that another root obsoletes, as one
// dnf transaction installs only the obsoleter.
func (s *state) replaceObsoletedRoots() {
	out := s.replaced
	var kept []*pkg
	for _, p := range s.roots {
		var by *pkg
		for _, q := range s.roots {
			if obsoletes(q, p) {
				by = q
				break
			}
		}
		if by != nil {
			out[p.key()] = by.key()
			continue
		}
		kept = append(kept, p)
	}
	s.roots = kept
}

func (s *state) mark(p *pkg, parent *pkg) {
	s.sel[p] = true
	s.byName[p.p.Name] = append(s.byName[p.p.Name], p)
	s.parent[p] = parent
	s.level[p] = len(s.choices)
	s.order = append(s.order, p)
	for _, n := range p.provs {
		s.selProv[n.name] = append(s.selProv[n.name], n.pv)
	}
	for _, f := range p.p.Files {
		s.selFiles[f] = append(s.selFiles[f], p)
	}
}

// rollback unselects everything selected after the first n packages.
func (s *state) rollback(n int) {
	for i := len(s.order) - 1; i >= n; i-- {
		p := s.order[i]
		delete(s.sel, p)
		delete(s.parent, p)
		delete(s.level, p)
		l := s.byName[p.p.Name]
		s.byName[p.p.Name] = l[:len(l)-1]
		// p was the last to append to these lists.
		for _, n := range p.provs {
			l := s.selProv[n.name]
			s.selProv[n.name] = l[:len(l)-1]
		}
		for _, f := range p.p.Files {
			l := s.selFiles[f]
			s.selFiles[f] = l[:len(l)-1]
		}
	}
	s.order = s.order[:n]
	for len(s.settledLog) > 0 && s.settledLog[len(s.settledLog)-1].at > n {
		delete(s.settled, s.settledLog[len(s.settledLog)-1].p)
		s.settledLog = s.settledLog[:len(s.settledLog)-1]
	}
}

// chainTo returns the names from a root down to p.
func (s *state) chainTo(p *pkg) []string {
	var out []string
	for q := p; q != nil; q = s.parent[q] {
		out = append(out, q.p.Name)
		if len(out) > len(s.order) {
			break
		}
	}
	slices.Reverse(out)
	return out
}

// blocked says why candidate c cannot join the selected set, or "": its
// name and architecture is chosen at another version, it conflicts with
// or obsoletes a chosen package or the other way round, or it would make a
// chosen package's (A unless B) false.
func (s *state) blocked(c *pkg) (string, *pkg) {
	for _, q := range s.byName[c.p.Name] {
		if q.p.Arch == c.p.Arch {
			return q.nevra() + " is chosen already", q
		}
	}
	for _, e := range c.conflicts {
		if s.evalSkip(e, nil, c) {
			o := s.satisfierSkip(e, c)
			return c.nevra() + " conflicts with " + e.String() + ", satisfied by " + o.nevra(), o
		}
	}
	for _, d := range c.p.Obsoletes {
		for _, q := range s.byName[d.Name] {
			if obsoletes(c, q) {
				return c.nevra() + " obsoletes " + q.nevra(), q
			}
		}
	}
	for _, o := range s.ix.obsoleters[c.p.Name] {
		if s.sel[o] && obsoletes(o, c) {
			return c.nevra() + " is obsoleted by " + o.nevra(), o
		}
	}
	// Conflicts and unless of chosen packages that name what c provides
	// or owns.
	for _, q := range s.ix.negativeFor(c) {
		if !s.sel[q] {
			continue
		}
		if err := q.deps(); err != nil {
			continue
		}
		for _, e := range q.conflicts {
			if !s.evalSkip(e, nil, q) && s.evalSkip(e, c, q) {
				return q.nevra() + " conflicts with " + e.String() + ", which " + c.nevra() + " satisfies", q
			}
		}
		for _, r := range q.requires {
			if r.e.Op != OpAtom && s.eval(r.e, nil) && !s.eval(r.e, c) {
				return c.nevra() + " would break " + q.nevra() + "'s Requires " + r.e.String(), q
			}
		}
	}
	return "", nil
}

// check verifies the final set: roots were selected without the
// conflict and obsoletes tests, and conditional dependencies may have
// pulled in packages late.
func (s *state) check() error {
	for _, p := range s.order {
		if !s.sel[p] {
			continue
		}
		for _, e := range p.conflicts {
			if s.evalSkip(e, nil, p) {
				o := s.satisfierSkip(e, p)
				return &ConflictError{Package: p.nevra(), Field: "Conflicts", Relation: e.String(), Other: o.nevra(), Chain: s.chainTo(o)}
			}
		}
		for _, d := range p.p.Obsoletes {
			for _, q := range s.byName[d.Name] {
				if s.sel[q] && obsoletes(p, q) {
					return &ConflictError{Package: p.nevra(), Field: "Obsoletes", Relation: depString(d), Other: q.nevra(), Chain: s.chainTo(q)}
				}
			}
		}
		for _, r := range p.requires {
			if !s.eval(r.e, nil) {
				return &UnmetError{Chain: s.chainTo(p), Dependency: r.e.String(), Reason: "no longer satisfied by the final set"}
			}
		}
	}
	return nil
}

// checkSet is check over the subset keep of the selected packages.
func (s *state) checkSet(keep map[*pkg]bool) error {
	all := s.sel
	s.sel = keep
	defer func() { s.sel = all }()
	return s.check()
}

func depString(d rpmmd.Dep) string {
	e, err := ParseDep(d)
	if err != nil {
		return d.Name
	}
	return e.String()
}

// eval reports whether e holds over the selected set plus extra.
func (s *state) eval(e *Expr, extra *pkg) bool { return s.evalSkip(e, extra, nil) }

// evalSkip is eval with skip left out of the set: a package's Conflicts
// never hit the package itself.
func (s *state) evalSkip(e *Expr, extra, skip *pkg) bool {
	switch e.Op {
	case OpAtom:
		return builtin(e) || s.atomSat(e, extra, skip) != nil
	case OpAnd:
		for _, a := range e.Args {
			if !s.evalSkip(a, extra, skip) {
				return false
			}
		}
		return true
	case OpOr:
		for _, a := range e.Args {
			if s.evalSkip(a, extra, skip) {
				return true
			}
		}
		return false
	case OpIf:
		if s.evalSkip(e.Args[1], extra, skip) {
			return s.evalSkip(e.Args[0], extra, skip)
		}
		return len(e.Args) < 3 || s.evalSkip(e.Args[2], extra, skip)
	case OpUnless:
		if s.evalSkip(e.Args[1], extra, skip) {
			return len(e.Args) == 3 && s.evalSkip(e.Args[2], extra, skip)
		}
		return s.evalSkip(e.Args[0], extra, skip)
	case OpWith, OpWithout:
		return s.singleSat(e, extra, skip) != nil
	}
	return false
}

// in reports whether p counts as selected for an evaluation.
func (s *state) in(p, extra, skip *pkg) bool { return p != skip && (p == extra || s.sel[p]) }

// atomSat returns a selected package satisfying atom a, the one named as
// the atom first, or nil.
func (s *state) atomSat(a *Expr, extra, skip *pkg) *pkg {
	if s.selProv == nil {
		// A state made without Solve (the tests' checker): look at
		// every provider.
		return s.atomIn(s.ix.provides[a.Name], s.ix.files[a.Name], a, extra, skip)
	}
	found := s.atomIn(s.selProv[a.Name], s.selFiles[a.Name], a, nil, skip)
	if extra != nil && extra != skip && (found == nil || found.p.Name != a.Name) && (builtin(a) || s.ix.matches(a, extra)) {
		if found == nil || extra.p.Name == a.Name {
			return extra
		}
	}
	return found
}

// atomIn is atomSat over the given provisions and file owners.
func (s *state) atomIn(provs []provision, owners []*pkg, a *Expr, extra, skip *pkg) *pkg {
	var found *pkg
	for _, pv := range provs {
		if s.in(pv.p, extra, skip) && Overlaps(a.Cmp, a.EVR, pv.op, pv.evr) {
			if pv.p.p.Name == a.Name {
				return pv.p
			}
			if found == nil {
				found = pv.p
			}
		}
	}
	if found == nil && strings.HasPrefix(a.Name, "/") && a.Cmp == rpmmd.OpAny {
		for _, p := range owners {
			if s.in(p, extra, skip) {
				return p
			}
		}
	}
	return found
}

// singleSat returns a selected package that alone satisfies a with or
// without expression, or nil.
func (s *state) singleSat(e *Expr, extra, skip *pkg) *pkg {
	var found *pkg
	e.Args[0].atoms(func(a *Expr) {
		if found != nil {
			return
		}
		for _, p := range s.ix.providers(a) {
			if s.in(p, extra, skip) && s.ix.pkgMatch(e, p) {
				found = p
				return
			}
		}
	})
	return found
}

// pkgMatch reports whether the one package p satisfies e (inside with
// and without, every operand is about the same package).
func (ix *Index) pkgMatch(e *Expr, p *pkg) bool {
	switch e.Op {
	case OpAtom:
		return builtin(e) || ix.matches(e, p)
	case OpAnd, OpWith:
		for _, a := range e.Args {
			if !ix.pkgMatch(a, p) {
				return false
			}
		}
		return true
	case OpOr:
		for _, a := range e.Args {
			if ix.pkgMatch(a, p) {
				return true
			}
		}
		return false
	case OpWithout:
		return ix.pkgMatch(e.Args[0], p) && !ix.pkgMatch(e.Args[1], p)
	case OpIf:
		if ix.pkgMatch(e.Args[1], p) {
			return ix.pkgMatch(e.Args[0], p)
		}
		return len(e.Args) < 3 || ix.pkgMatch(e.Args[2], p)
	case OpUnless:
		if ix.pkgMatch(e.Args[1], p) {
			return len(e.Args) == 3 && ix.pkgMatch(e.Args[2], p)
		}
		return ix.pkgMatch(e.Args[0], p)
	}
	return false
}

// satisfier returns a selected package that makes e true (for messages).
func (s *state) satisfier(e *Expr) *pkg { return s.satisfierSkip(e, nil) }

func (s *state) satisfierSkip(e *Expr, skip *pkg) *pkg {
	if t := s.targets(e, nil, skip); len(t) > 0 {
		return t[0]
	}
	return &pkg{p: &rpmmd.Package{Name: "?"}}
}

// targets returns the selected packages that make e true, the edges of
// the install order: an atom's satisfier, every operand of and, the first
// true alternative of or, the branch an if or unless takes.
func (s *state) targets(e *Expr, extra, skip *pkg) []*pkg {
	if !s.evalSkip(e, extra, skip) {
		return nil
	}
	switch e.Op {
	case OpAtom:
		if p := s.atomSat(e, extra, skip); p != nil {
			return []*pkg{p}
		}
		return nil
	case OpAnd:
		var out []*pkg
		for _, a := range e.Args {
			out = append(out, s.targets(a, extra, skip)...)
		}
		return out
	case OpOr:
		for _, a := range e.Args {
			if s.evalSkip(a, extra, skip) {
				return s.targets(a, extra, skip)
			}
		}
	case OpIf, OpUnless:
		cond := s.evalSkip(e.Args[1], extra, skip)
		if e.Op == OpIf && cond || e.Op == OpUnless && !cond {
			return s.targets(e.Args[0], extra, skip)
		}
		if len(e.Args) == 3 {
			return s.targets(e.Args[2], extra, skip)
		}
	case OpWith, OpWithout:
		if p := s.singleSat(e, extra, skip); p != nil {
			return []*pkg{p}
		}
	}
	return nil
}

// reachable returns the selected packages a root reaches along the
// targets of Requires: what an obsoleted root or an else branch given up
// pulled in is not kept.
func (s *state) reachable() map[*pkg]bool {
	keep := map[*pkg]bool{}
	queue := slices.Clone(s.roots)
	for _, p := range queue {
		keep[p] = true
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, r := range p.requires {
			for _, t := range s.targets(r.e, nil, nil) {
				if !keep[t] {
					keep[t] = true
					queue = append(queue, t)
				}
			}
		}
	}
	return keep
}

// whyNot explains why no package satisfies atom a.
func (ix *Index) whyNot(a *Expr) string {
	var names []*pkg
	for _, pv := range ix.provides[a.Name] {
		if !slices.Contains(names, pv.p) {
			names = append(names, pv.p)
		}
	}
	if len(names) == 0 {
		if strings.HasPrefix(a.Name, "/") && !primaryPath(a.Name) {
			return "no package provides or owns it (primary.xml lists only /etc and bin paths: is filelists.xml loaded?)"
		}
		return "nothing provides it"
	}
	var have []string
	for _, pv := range ix.provides[a.Name] {
		v := pv.p.nevra()
		if pv.p.p.Name != a.Name {
			v = a.Name
			if pv.op != rpmmd.OpAny {
				v += " " + cmpText[pv.op] + " " + EVRString(pv.evr)
			}
			v += " from " + pv.p.nevra()
		}
		have = append(have, v)
		if len(have) == 4 {
			have = append(have, "...")
			break
		}
	}
	return "only " + strings.Join(have, ", ") + " available"
}

// primaryPath reports whether createrepo_c lists path in primary.xml
// (its "primary file" rule), so filelists.xml cannot add an owner.
func primaryPath(path string) bool {
	return strings.HasPrefix(path, "/etc/") || strings.Contains(path, "bin/") || path == "/usr/lib/sendmail"
}

func nameList(ps []*pkg) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.nevra())
	}
	return strings.Join(out, ", ")
}
