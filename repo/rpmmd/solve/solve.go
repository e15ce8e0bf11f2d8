package solve

import (
	"context"
	"errors"
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

// maxSteps bounds the install attempts, so that backtracking over a
// pathological index fails instead of running for ever; maxRounds bounds
// the fixpoint passes over conditional (if) dependencies.
const (
	maxSteps  = 1 << 20
	maxRounds = 64
)

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
	roots    []*pkg
	reason   map[*pkg]string
	steps    int
	// avoid holds packages a failed run chose before they blocked a later
	// dependency; the next run tries them last. culprits collects this
	// run's.
	avoid, culprits map[*pkg]bool
}

// Solve chooses the packages that installing roots into an empty root
// needs. A root is a package name, "name.arch", a provided name or a file
// path, optionally versioned ("foo >= 1.2"); comps groups must be
// expanded by the caller.
func (ix *Index) Solve(ctx context.Context, roots []string, opts Options) (*Result, error) {
	avoid := map[*pkg]bool{}
	var first error
	for attempt := 0; ; attempt++ {
		s := &state{
			ctx: ctx, ix: ix,
			excluded: make(map[string]bool),
			sel:      make(map[*pkg]bool),
			byName:   make(map[string][]*pkg),
			parent:   make(map[*pkg]*pkg),
			reason:   make(map[*pkg]string),
			avoid:    avoid,
			culprits: make(map[*pkg]bool),
		}
		for _, n := range opts.Exclude {
			s.excluded[strings.TrimSpace(n)] = true
		}
		res, err := s.run(roots)
		if err == nil || !isUnmet(err) {
			return res, err
		}
		if first == nil {
			// The first run's failure follows the natural order, so it
			// is the one reported if no restart helps.
			first = err
		}
		if len(s.culprits) == 0 || attempt == maxRestarts {
			return nil, first
		}
		// A package chosen early blocked a later dependency: depth-first
		// choice does not backtrack across siblings, so start again with
		// it tried last (libsolv would learn the same from the conflict).
		for p := range s.culprits {
			avoid[p] = true
		}
	}
}

// maxRestarts bounds the runs Solve starts again with blocking packages
// tried last.
const maxRestarts = 16

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
	replaced := s.replaceObsoletedRoots()
	for _, p := range s.roots {
		s.mark(p, nil)
	}
	for _, p := range s.roots {
		if err := s.resolve(p, nil); err != nil {
			return nil, err
		}
	}
	if err := s.fixpoint(); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	keep := s.reachable()
	res := &Result{Reasons: make(map[string]string), Replaced: replaced}
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
		cands = s.ix.rank(a, s.ix.providers(a))
	}
	if len(cands) == 0 {
		return nil, &UnmetError{Dependency: root, Reason: s.ix.whyNot(a)}
	}
	for _, p := range cands {
		if !s.excluded[p.p.Name] {
			return p, nil
		}
	}
	return nil, &UnmetError{Dependency: root, Reason: "only excluded packages provide it: " + nameList(cands)}
}

// replaceObsoletedRoots drops a root that another root obsoletes, as one
// dnf transaction installs only the obsoleter.
func (s *state) replaceObsoletedRoots() map[string]string {
	out := map[string]string{}
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
	return out
}

func (s *state) mark(p *pkg, parent *pkg) {
	s.sel[p] = true
	s.byName[p.p.Name] = append(s.byName[p.p.Name], p)
	s.parent[p] = parent
	s.order = append(s.order, p)
}

// rollback unselects everything selected after the first n packages.
func (s *state) rollback(n int) {
	for i := len(s.order) - 1; i >= n; i-- {
		p := s.order[i]
		delete(s.sel, p)
		delete(s.parent, p)
		l := s.byName[p.p.Name]
		s.byName[p.p.Name] = l[:len(l)-1]
	}
	s.order = s.order[:n]
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

// resolve satisfies the Requires of the selected package p, depth first.
func (s *state) resolve(p *pkg, chain []string) error {
	chain = append(slices.Clip(chain), p.p.Name)
	for _, r := range p.requires {
		if s.eval(r.e, nil) {
			continue
		}
		if err := s.satisfy(r.e, p, chain); err != nil {
			return err
		}
	}
	return nil
}

// fixpoint satisfies Requires that became false after they were looked
// at: an (A if B) whose B was selected later, an else branch whose
// condition changed. It passes over the selected set until nothing
// changes.
func (s *state) fixpoint() error {
	for round := 0; ; round++ {
		if round == maxRounds {
			return fmt.Errorf("solve: conditional dependencies did not settle after %d passes", maxRounds)
		}
		n := len(s.order)
		changed := false
		for _, p := range slices.Clone(s.order) {
			if !s.sel[p] {
				continue
			}
			for _, r := range p.requires {
				if s.eval(r.e, nil) {
					continue
				}
				changed = true
				if err := s.satisfy(r.e, p, s.chainTo(p)); err != nil {
					return err
				}
			}
		}
		if !changed && len(s.order) == n {
			return nil
		}
	}
}

// satisfy makes the false expression e (a Requires of who) true by
// selecting packages; chain ends with who.
func (s *state) satisfy(e *Expr, who *pkg, chain []string) error {
	switch e.Op {
	case OpAtom:
		if builtin(e) {
			return nil
		}
		return s.try(s.ix.rank(e, s.ix.providers(e)), e, e, who, chain)
	case OpAnd:
		for _, a := range e.Args {
			if s.eval(a, nil) {
				continue
			}
			if err := s.satisfy(a, who, chain); err != nil {
				return err
			}
		}
		return nil
	case OpOr:
		// Alternatives in their written order, each rolled back when it
		// fails; the error kept is the one that got furthest.
		var best error
		for _, a := range e.Args {
			n := len(s.order)
			err := s.satisfy(a, who, chain)
			if err == nil {
				return nil
			}
			s.rollback(n)
			if !isUnmet(err) {
				return err
			}
			best = deeper(best, err)
		}
		return best
	case OpIf, OpUnless:
		cond := s.eval(e.Args[1], nil)
		branch := -1
		switch {
		case e.Op == OpIf && cond, e.Op == OpUnless && !cond:
			branch = 0
		case len(e.Args) == 3:
			branch = 2
		}
		if branch < 0 {
			// (A unless B) with B chosen: only undoing B would help.
			other := s.satisfier(e.Args[1])
			return &ConflictError{Package: who.nevra(), Field: "Requires", Relation: e.String(), Other: other.nevra(), Chain: s.chainTo(other)}
		}
		return s.satisfy(e.Args[branch], who, chain)
	case OpWith, OpWithout:
		// One package must satisfy the whole expression: the candidates
		// are what satisfies the first operand's first atom.
		var first *Expr
		e.Args[0].atoms(func(a *Expr) {
			if first == nil {
				first = a
			}
		})
		var cands []*pkg
		seen := map[*pkg]bool{}
		e.Args[0].atoms(func(a *Expr) {
			for _, p := range s.ix.providers(a) {
				if !seen[p] && s.ix.pkgMatch(e, p) {
					seen[p] = true
					cands = append(cands, p)
				}
			}
		})
		sort.Slice(cands, func(i, j int) bool { return cands[i].id < cands[j].id })
		return s.try(s.ix.rank(first, cands), first, e, who, chain)
	}
	return fmt.Errorf("solve: unknown operator %d in %s", e.Op, e)
}

func isUnmet(err error) bool {
	var ue *UnmetError
	var ce *ConflictError
	return errors.As(err, &ue) || errors.As(err, &ce)
}

// deeper keeps the error whose chain goes further from the root.
func deeper(best, err error) error {
	chainLen := func(err error) int {
		var ue *UnmetError
		if errors.As(err, &ue) {
			return len(ue.Chain)
		}
		return 0
	}
	if best == nil || chainLen(err) > chainLen(best) {
		return err
	}
	return best
}

// try selects the first of the ranked candidates that can be installed
// with its own dependencies; e is what they satisfy, for the error.
func (s *state) try(cands []*pkg, atom, e *Expr, who *pkg, chain []string) error {
	if len(cands) == 0 {
		return &UnmetError{Chain: slices.Clone(chain), Dependency: e.String(), Reason: s.ix.whyNot(atom)}
	}
	if len(s.avoid) > 0 {
		cands = slices.Clone(cands)
		sort.SliceStable(cands, func(i, j int) bool { return !s.avoid[cands[i]] && s.avoid[cands[j]] })
	}
	var best error
	var reasons []string
	for _, c := range cands {
		if s.excluded[c.p.Name] {
			reasons = append(reasons, c.nevra()+" is excluded")
			continue
		}
		if err := c.deps(); err != nil {
			return fmt.Errorf("solve: %w", err)
		}
		if why, culprit := s.blocked(c); why != "" {
			reasons = append(reasons, why)
			if s.parent[culprit] != nil && !s.avoid[culprit] {
				s.culprits[culprit] = true
			}
			continue
		}
		if s.steps++; s.steps > maxSteps {
			return fmt.Errorf("solve: gave up after %d install attempts at %s -> %s", maxSteps, strings.Join(chain, " -> "), e)
		}
		if s.steps%1024 == 0 && s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		n := len(s.order)
		s.mark(c, who)
		err := s.resolve(c, chain)
		if err == nil {
			return nil
		}
		s.rollback(n)
		if !isUnmet(err) {
			return err
		}
		best = deeper(best, err)
	}
	if best != nil {
		return best
	}
	return &UnmetError{Chain: slices.Clone(chain), Dependency: e.String(), Reason: strings.Join(reasons, "; ")}
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
	seen := map[*pkg]bool{}
	look := func(name string) (string, *pkg) {
		for _, q := range s.ix.negative[name] {
			if !s.sel[q] || seen[q] {
				continue
			}
			seen[q] = true
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
	if why, q := look(c.p.Name); why != "" {
		return why, q
	}
	for _, d := range c.p.Provides {
		if why, q := look(d.Name); why != "" {
			return why, q
		}
	}
	for _, f := range c.p.Files {
		if why, q := look(f); why != "" {
			return why, q
		}
	}
	return "", nil
}

// check verifies the final set: roots were selected without the
// conflict and obsoletes tests, and conditional dependencies may have
// pulled in packages late.
func (s *state) check() error {
	for _, p := range s.order {
		for _, e := range p.conflicts {
			if s.evalSkip(e, nil, p) {
				o := s.satisfierSkip(e, p)
				return &ConflictError{Package: p.nevra(), Field: "Conflicts", Relation: e.String(), Other: o.nevra(), Chain: s.chainTo(o)}
			}
		}
		for _, d := range p.p.Obsoletes {
			for _, q := range s.byName[d.Name] {
				if obsoletes(p, q) {
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
	var found *pkg
	for _, pv := range s.ix.provides[a.Name] {
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
		for _, p := range s.ix.files[a.Name] {
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
		if strings.HasPrefix(a.Name, "/") {
			return "no package provides or owns this file (only filelists.xml lists every file)"
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

func nameList(ps []*pkg) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.nevra())
	}
	return strings.Join(out, ", ")
}
