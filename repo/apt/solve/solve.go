package solve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/vzkit/vzkit/repo/apt"
)

// Variant names a base package set, as mmdebstrap's --variant does.
type Variant string

const (
	// VariantCustom installs only Options.Include and their dependencies.
	VariantCustom Variant = "custom"
	// VariantEssential installs the Essential: yes packages.
	VariantEssential Variant = "essential"
	// VariantRequired adds Priority: required packages and apt.
	VariantRequired Variant = "required"
	// VariantMinbase is VariantRequired under debootstrap's name.
	VariantMinbase Variant = "minbase"
	// VariantImportant adds Priority: important packages.
	VariantImportant Variant = "important"
	// VariantStandard adds Priority: standard packages.
	VariantStandard Variant = "standard"
)

// priorityLevel is the least important Priority a variant selects, 0 for
// none.
func (v Variant) priorityLevel() (int, error) {
	switch v {
	case VariantCustom, VariantEssential:
		return 0, nil
	case VariantRequired, VariantMinbase:
		return priorities["required"], nil
	case VariantImportant:
		return priorities["important"], nil
	case VariantStandard:
		return priorities["standard"], nil
	}
	return 0, fmt.Errorf("solve: unknown variant %q (want custom, essential, required, minbase, important or standard)", string(v))
}

// Options says what to install.
type Options struct {
	Variant Variant
	// Include lists extra relations to install, in Depends syntax: a name,
	// a virtual name, "foo (>= 1.2)" or "a | b".
	Include []string
	// Exclude lists package names that must not be chosen. An excluded
	// package selected by the variant is dropped; one needed by a
	// dependency makes Solve fail, naming the chain.
	Exclude []string
}

// Result is the chosen package set and an install order hint.
type Result struct {
	// Packages is the chosen set, sorted by name.
	Packages []apt.Package
	// Essential lists the packages of the first stage (the Essential: yes
	// set and what it depends on) in install order: dependencies first.
	Essential []string
	// Rest lists the remaining packages in install order.
	Rest []string
	// Reasons says why each package was chosen: "essential",
	// "priority required", "apt", "include foo", or "dependency of bar".
	Reasons map[string]string
}

// Names returns the names of the chosen packages, sorted.
func (r *Result) Names() []string {
	out := make([]string, len(r.Packages))
	for i, p := range r.Packages {
		out[i] = p.Name
	}
	return out
}

// maxSteps bounds the number of install attempts, so that backtracking over
// a pathological index fails instead of running for ever.
const maxSteps = 1 << 20

// Solve builds an Index from pkgs for arch and solves opts on it.
func Solve(ctx context.Context, pkgs []apt.Package, arch string, opts Options) (*Result, error) {
	ix, err := NewIndex(ctx, pkgs, arch)
	if err != nil {
		return nil, err
	}
	return ix.Solve(ctx, opts)
}

// state is one solving run: the marked set and how to undo it.
type state struct {
	ctx      context.Context
	ix       *Index
	excluded map[string]bool
	marked   map[string]*entry
	order    []*entry            // marking order, for rollback
	parent   map[string]string   // who pulled a package in; "" for a root
	reason   map[string]string   // why a root was selected
	neg      map[string][]negRef // target name -> Conflicts/Breaks of marked packages
	steps    int
}

// negRef is one Conflicts or Breaks alternative of a marked package.
type negRef struct {
	from  *entry
	field string
	a     alt
}

// Solve chooses the package set for opts.
func (ix *Index) Solve(ctx context.Context, opts Options) (*Result, error) {
	level, err := opts.Variant.priorityLevel()
	if err != nil {
		return nil, err
	}
	s := &state{
		ctx: ctx, ix: ix,
		excluded: make(map[string]bool),
		marked:   make(map[string]*entry),
		parent:   make(map[string]string),
		reason:   make(map[string]string),
		neg:      make(map[string][]negRef),
	}
	for _, name := range opts.Exclude {
		s.excluded[strings.TrimSpace(name)] = true
	}

	// Stage 1: the essential set, like mmdebstrap's
	// "apt-get install ?essential" into an empty root.
	var roots []*entry
	if opts.Variant != VariantCustom {
		for _, e := range ix.base {
			if e.pkg.Essential {
				roots = s.addRoot(roots, e, "essential")
			}
		}
	}
	if err := s.stage(roots); err != nil {
		return nil, err
	}
	essential := slices.Clone(s.order)

	// Stage 2: priorities, apt and includes on top of stage 1.
	roots = nil
	if level > 0 {
		for _, e := range ix.base {
			if e.prio <= level && !e.pkg.Essential {
				roots = s.addRoot(roots, e, "priority "+e.pkg.Priority)
			}
		}
		e, ok := ix.cands["apt"]
		if !ok {
			return nil, &UnmetError{Relation: "apt", Reason: fmt.Sprintf("no such package (variant %s needs it)", opts.Variant)}
		}
		if s.excluded["apt"] {
			return nil, &UnmetError{Relation: "apt", Reason: fmt.Sprintf("excluded, but variant %s needs it", opts.Variant)}
		}
		roots = s.addRoot(roots, e, "apt")
	}
	for _, inc := range opts.Include {
		e, err := s.pickInclude(inc, roots)
		if err != nil {
			return nil, err
		}
		if e != nil {
			roots = s.addRoot(roots, e, "include "+strings.TrimSpace(inc))
		}
	}
	if err := s.stage(roots); err != nil {
		return nil, err
	}
	if err := s.checkConflicts(); err != nil {
		return nil, err
	}
	return s.result(essential), nil
}

// addRoot appends e to roots unless it is excluded or already there.
func (s *state) addRoot(roots []*entry, e *entry, why string) []*entry {
	name := e.pkg.Name
	if s.excluded[name] {
		slog.Debug("solve: excluded package not installed", "package", name, "selected as", why)
		return roots
	}
	if _, ok := s.marked[name]; ok || slices.Contains(roots, e) {
		return roots
	}
	s.reason[name] = why
	return append(roots, e)
}

// pickInclude resolves one include relation to the package to add as a
// root, or nil when the marked set or roots already satisfy it.
func (s *state) pickInclude(inc string, roots []*entry) (*entry, error) {
	rels, err := parseRelations(inc, s.ix.nat)
	if err != nil {
		return nil, fmt.Errorf("solve: include %q: %w", inc, err)
	}
	if len(rels) != 1 {
		return nil, fmt.Errorf("solve: include %q: want exactly one relation, got %d", inc, len(rels))
	}
	r := rels[0]
	if s.satisfied(r) {
		return nil, nil
	}
	for _, a := range r.alts {
		for _, e := range roots {
			if s.ix.satisfiedBy(a, e) {
				return nil, nil
			}
		}
	}
	var reasons []string
	for _, a := range r.alts {
		cands := s.ix.satisfiers(a)
		if len(cands) == 0 {
			reasons = append(reasons, a.name+": "+s.ix.whyNot(a))
		}
		for _, e := range cands {
			if s.excluded[e.pkg.Name] {
				reasons = append(reasons, e.pkg.Name+" is excluded")
				continue
			}
			return e, nil
		}
	}
	return nil, &UnmetError{Relation: r.String(), Reason: strings.Join(reasons, "; ")}
}

// stage marks all roots, then resolves their dependencies in order, as
// apt-get install does with the packages named on its command line.
func (s *state) stage(roots []*entry) error {
	for _, e := range roots {
		if err := s.mark(e, ""); err != nil {
			return err
		}
	}
	for _, e := range roots {
		if err := s.resolve(e, nil); err != nil {
			return err
		}
	}
	return nil
}

// mark adds e to the marked set.
func (s *state) mark(e *entry, parent string) error {
	if err := s.ix.rels(e); err != nil {
		return fmt.Errorf("solve: %w", err)
	}
	name := e.pkg.Name
	s.marked[name] = e
	s.parent[name] = parent
	s.order = append(s.order, e)
	for _, f := range []struct {
		field string
		rels  []relation
	}{{"Conflicts", e.conflicts}, {"Breaks", e.breaks}} {
		for _, r := range f.rels {
			for _, a := range r.alts {
				s.neg[a.name] = append(s.neg[a.name], negRef{from: e, field: f.field, a: a})
			}
		}
	}
	return nil
}

// rollback unmarks everything marked after the first n packages.
func (s *state) rollback(n int) {
	for i := len(s.order) - 1; i >= n; i-- {
		e := s.order[i]
		delete(s.marked, e.pkg.Name)
		delete(s.parent, e.pkg.Name)
		for _, rels := range [][]relation{e.breaks, e.conflicts} {
			for j := len(rels) - 1; j >= 0; j-- {
				for k := len(rels[j].alts) - 1; k >= 0; k-- {
					name := rels[j].alts[k].name
					s.neg[name] = s.neg[name][:len(s.neg[name])-1]
				}
			}
		}
	}
	s.order = s.order[:n]
}

// resolve installs what the marked package e depends on, depth first.
func (s *state) resolve(e *entry, chain []string) error {
	chain = append(slices.Clip(chain), e.pkg.Name)
	for _, r := range e.depends {
		if s.satisfied(r) {
			continue
		}
		if err := s.choose(r, chain); err != nil {
			return err
		}
	}
	return nil
}

// satisfied reports whether a marked package satisfies r.
func (s *state) satisfied(r relation) bool {
	for _, a := range r.alts {
		if s.markedSatisfier(a) != nil {
			return true
		}
	}
	return false
}

// markedSatisfier returns the marked package that satisfies a, preferring
// the package a names, or nil.
func (s *state) markedSatisfier(a alt) *entry {
	if e, ok := s.marked[a.name]; ok && s.ix.archOK(a.qual, e) && versionOK(a.op, a.ver, e.ver) {
		return e
	}
	for _, pv := range s.ix.provides[a.name] {
		if s.marked[pv.e.pkg.Name] == pv.e && s.ix.provideOK(a, pv) {
			return pv.e
		}
	}
	return nil
}

// otherSatisfier returns a marked package other than self that satisfies a
// negative relation's alternative, or nil: a package may conflict with a
// name it provides itself.
func (s *state) otherSatisfier(a alt, self *entry) *entry {
	if e, ok := s.marked[a.name]; ok && e != self && s.ix.archOK(a.qual, e) && versionOK(a.op, a.ver, e.ver) {
		return e
	}
	for _, pv := range s.ix.provides[a.name] {
		if pv.e != self && s.marked[pv.e.pkg.Name] == pv.e && s.ix.provideOK(a, pv) {
			return pv.e
		}
	}
	return nil
}

// choose satisfies the unsatisfied relation r of chain's last package: the
// first alternative, and within it the best ranked package, that can be
// installed with its own dependencies.
func (s *state) choose(r relation, chain []string) error {
	var best *UnmetError
	var reasons []string
	for _, a := range r.alts {
		cands := s.ix.satisfiers(a)
		if len(cands) == 0 {
			reasons = append(reasons, s.altLabel(r, a)+s.ix.whyNot(a))
			continue
		}
		for _, c := range cands {
			if s.excluded[c.pkg.Name] {
				reasons = append(reasons, c.pkg.Name+" is excluded")
				continue
			}
			if err := s.ix.rels(c); err != nil {
				return fmt.Errorf("solve: %w", err)
			}
			if hit := s.conflict(c); hit != "" {
				reasons = append(reasons, hit)
				continue
			}
			if s.steps++; s.steps > maxSteps {
				return fmt.Errorf("solve: gave up after %d install attempts at %s -> %s", maxSteps, strings.Join(chain, " -> "), r)
			}
			if s.steps%1024 == 0 && s.ctx.Err() != nil {
				return s.ctx.Err()
			}
			n := len(s.order)
			if err := s.mark(c, chain[len(chain)-1]); err != nil {
				return err
			}
			err := s.resolve(c, chain)
			if err == nil {
				return nil
			}
			s.rollback(n)
			var ue *UnmetError
			if !errors.As(err, &ue) {
				return err
			}
			if best == nil || len(ue.Chain) > len(best.Chain) {
				best = ue
			}
		}
	}
	if best != nil {
		return best
	}
	return &UnmetError{Chain: slices.Clone(chain), Relation: r.String(), Reason: strings.Join(reasons, "; ")}
}

// altLabel prefixes a reason with the alternative's name when r has several.
func (s *state) altLabel(r relation, a alt) string {
	if len(r.alts) == 1 {
		return ""
	}
	return a.name + ": "
}

// conflict describes why c cannot join the marked set, or returns "".
func (s *state) conflict(c *entry) string {
	for _, f := range []struct {
		field string
		rels  []relation
	}{{"Conflicts", c.conflicts}, {"Breaks", c.breaks}} {
		for _, r := range f.rels {
			for _, a := range r.alts {
				if o := s.otherSatisfier(a, c); o != nil {
					return fmt.Sprintf("%s %s %s, which is chosen", c.pkg.Name, f.field, a)
				}
			}
		}
	}
	for _, name := range append([]string{c.pkg.Name}, c.provided...) {
		for _, n := range s.neg[name] {
			if n.from != c && s.ix.satisfiedBy(n.a, c) {
				return fmt.Sprintf("chosen %s %s %s", n.from.pkg.Name, n.field, n.a)
			}
		}
	}
	return ""
}

// checkConflicts checks Conflicts and Breaks over the final set; roots are
// marked without that check, so two selected packages may clash.
func (s *state) checkConflicts() error {
	names := make([]string, 0, len(s.marked))
	for name := range s.marked {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		e := s.marked[name]
		for _, f := range []struct {
			field string
			rels  []relation
		}{{"Conflicts", e.conflicts}, {"Breaks", e.breaks}} {
			for _, r := range f.rels {
				for _, a := range r.alts {
					if o := s.otherSatisfier(a, e); o != nil {
						return &ConflictError{Package: name, Field: f.field, Relation: a.String(), Other: o.pkg.Name, Chain: s.chain(o.pkg.Name)}
					}
				}
			}
		}
	}
	return nil
}

// chain walks parents from name up to its root and returns root first.
func (s *state) chain(name string) []string {
	var out []string
	for n := name; n != "" && len(out) <= len(s.marked); n = s.parent[n] {
		out = append(out, n)
	}
	slices.Reverse(out)
	return out
}

func (s *state) result(essential []*entry) *Result {
	res := &Result{Reasons: make(map[string]string, len(s.marked))}
	for _, e := range s.order {
		res.Packages = append(res.Packages, e.pkg)
		if p := s.parent[e.pkg.Name]; p != "" {
			res.Reasons[e.pkg.Name] = "dependency of " + p
		} else {
			res.Reasons[e.pkg.Name] = s.reason[e.pkg.Name]
		}
	}
	sort.Slice(res.Packages, func(i, j int) bool { return res.Packages[i].Name < res.Packages[j].Name })
	rest := s.order[len(essential):]
	res.Essential = s.installOrder(essential)
	res.Rest = s.installOrder(rest)
	return res
}
