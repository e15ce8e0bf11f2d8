package solve

import (
	"fmt"
	"slices"
	"strings"
)

// choice is one decision point of the search: a requirement with several
// viable candidates, tried in policy order.
type choice struct {
	n     int // len(state.order) before the choice
	owner *pkg
	e     *Expr
	cands []*pkg
	next  int
	// conf collects the lower levels the failures of the candidates
	// tried so far depended on.
	conf map[int]bool
}

// failure is a requirement no viable candidate is left for.
type failure struct {
	owner    *pkg
	e        *Expr
	reasons  []string
	culprits []*pkg // chosen packages that block candidates
}

// search satisfies every Requires of the selected set, as libsolv's
// resolve_dependencies does for a fresh install: unit propagation first
// (a requirement with one viable candidate takes it at once, so that
// choices see everything that was forced), then the first open
// requirement in selection order is decided by policy; a requirement left
// without candidates backjumps to the latest choice that selected the
// package needing it, one of its ancestors or a package blocking its
// candidates, and tries that choice's next candidate.
func (s *state) search() error {
	var first error
	for {
		applied, open, fail := s.pass()
		if fail != nil {
			err := s.failureError(fail)
			if first == nil {
				first = err
			}
			ok, err2 := s.backjump(fail)
			if err2 != nil {
				return err2
			}
			if !ok {
				return first
			}
			continue
		}
		if applied {
			continue
		}
		if open == nil {
			return nil
		}
		s.choices = append(s.choices, *open)
		if err := s.applyNext(); err != nil {
			return err
		}
	}
}

// pass walks the Requires of every selected package (those selected
// during the walk too) once: satisfied ones are skipped, one with a
// single viable candidate selects it, one with none ends the pass with a
// failure. It returns whether it selected anything and the first
// requirement with several candidates.
func (s *state) pass() (applied bool, open *choice, fail *failure) {
	if s.ctx.Err() != nil {
		return false, nil, &failure{reasons: []string{s.ctx.Err().Error()}}
	}
	// A settled package has every Requires met by expressions that more
	// selected packages cannot make false, and no Conflicts with unless:
	// it needs no look until a rollback removes packages selected after
	// it was settled.
	for i := 0; i < len(s.order); i++ {
		p := s.order[i]
		if s.settled[p] {
			continue
		}
		if p.monotone() && !p.unlessConflict() && s.allMet(p) {
			s.settled[p] = true
			s.settledLog = append(s.settledLog, settleMark{p: p, at: len(s.order)})
			continue
		}
		for _, r := range p.requires {
			if s.eval(r.e, nil) {
				continue
			}
			if a, o, f := s.need(p, r.e, open == nil); f != nil {
				return applied, nil, f
			} else if a {
				applied = true
			} else if open == nil {
				open = o
			}
		}
		// A Conflicts (A unless B) that holds is undone by adding B, as
		// libsolv does (rpmbuild allows unless only in Conflicts).
		for _, e := range p.conflicts {
			if e.Op != OpUnless || len(e.Args) != 2 || !s.evalSkip(e, nil, p) {
				continue
			}
			if a, o, f := s.need(p, e.Args[1], open == nil); f != nil {
				return applied, nil, f
			} else if a {
				applied = true
			} else if open == nil {
				open = o
			}
		}
	}
	return applied, open, nil
}

// need handles the false expression e that p needs: it selects the only
// viable candidate, or returns the choice, or the failure.
//
// Unless full, it stops at the second viable candidate and returns a
// choice without candidates: pass needs the ranked list only for the
// first open requirement, and ranking and the viability tests are most
// of the solving time.
func (s *state) need(p *pkg, e *Expr, full bool) (bool, *choice, *failure) {
	var reasons []string
	var culprits []*pkg
	var viable []*pkg
	cands := s.options(e)
	if full {
		cands = s.ix.policy(cands)
	}
	for _, c := range cands {
		if !full && len(viable) == 2 {
			return false, &choice{owner: p, e: e}, nil
		}
		if s.excluded[c.p.Name] {
			reasons = append(reasons, c.nevra()+" is excluded")
			continue
		}
		if err := c.deps(); err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		if why, q := s.blocked(c); why != "" {
			reasons = append(reasons, why)
			if q != nil && s.sel[q] {
				culprits = append(culprits, q)
			}
			continue
		}
		viable = append(viable, c)
	}
	switch len(viable) {
	case 0:
		return false, nil, &failure{owner: p, e: e, reasons: reasons, culprits: culprits}
	case 1:
		s.mark(viable[0], p)
		return true, nil, nil
	}
	if !full {
		return false, &choice{owner: p, e: e}, nil
	}
	return false, &choice{n: len(s.order), owner: p, e: e, cands: viable, conf: map[int]bool{}}, nil
}

// applyNext selects the next candidate of the latest choice.
func (s *state) applyNext() error {
	if s.steps++; s.steps > maxSteps {
		c := s.choices[len(s.choices)-1]
		return fmt.Errorf("solve: gave up after %d choices at %s -> %s", maxSteps, strings.Join(s.chainTo(c.owner), " -> "), c.e)
	}
	c := &s.choices[len(s.choices)-1]
	s.rollback(c.n)
	p := c.cands[c.next]
	c.next++
	s.mark(p, c.owner)
	return nil
}

// backjump undoes choices up to the latest one that can have caused f
// and moves on to that choice's next candidate; false when no choice is
// left to change. It is conflict-directed: the levels a failure depends
// on are those of the failing package's chain and of the packages that
// blocked its candidates; a choice whose candidates all failed hands on
// the levels its failures depended on, with its owner's chain, so the
// search jumps over unrelated choices instead of trying all their
// combinations.
func (s *state) backjump(f *failure) (bool, error) {
	levels := map[int]bool{}
	if f.owner != nil {
		s.chainLevels(f.owner, levels)
	}
	for _, q := range f.culprits {
		s.chainLevels(q, levels)
	}
	for {
		delete(levels, 0)
		if len(levels) == 0 {
			return false, nil
		}
		top := 0
		for l := range levels {
			top = max(top, l)
		}
		delete(levels, top)
		// The choice that made level top is choices[top-1].
		s.choices = s.choices[:top]
		c := &s.choices[top-1]
		for l := range levels {
			c.conf[l] = true
		}
		if c.next < len(c.cands) {
			return true, s.applyNext()
		}
		s.rollback(c.n)
		levels = c.conf
		s.chainLevels(c.owner, levels)
		s.choices = s.choices[:top-1]
	}
}

// chainLevels adds the levels of p and its ancestors to levels.
func (s *state) chainLevels(p *pkg, levels map[int]bool) {
	for q, n := p, 0; q != nil && n <= len(s.order); q, n = s.parent[q], n+1 {
		levels[s.level[q]] = true
	}
}

// failureError turns f into the error reported: the chain from a root
// to the package with the unmet requirement.
func (s *state) failureError(f *failure) error {
	if f.owner == nil {
		return fmt.Errorf("solve: %s", strings.Join(f.reasons, "; "))
	}
	reason := strings.Join(f.reasons, "; ")
	if reason == "" {
		reason = s.whyNoOptions(f.e)
	}
	return &UnmetError{Chain: s.chainTo(f.owner), Dependency: f.e.String(), Reason: reason}
}

// whyNoOptions explains an expression without candidates.
func (s *state) whyNoOptions(e *Expr) string {
	if e.Op == OpAtom {
		return s.ix.whyNot(e)
	}
	if e.Op == OpUnless && s.eval(e.Args[1], nil) {
		return s.satisfier(e.Args[1]).nevra() + " is chosen"
	}
	var missing []string
	e.atoms(func(a *Expr) {
		if !builtin(a) && len(s.ix.providers(a)) == 0 && !slices.Contains(missing, a.Name) {
			missing = append(missing, a.Name)
		}
	})
	if len(missing) > 0 {
		return "nothing provides " + strings.Join(missing, ", ")
	}
	return "no package satisfies it"
}

// options lists the packages that can make the false expression e true
// (or bring it closer): an atom's providers; for and, the first false
// operand's; for or, every false alternative's together (libsolv ranks
// the union, not the written order: the oracle shows (zeta or alpha)
// choosing alpha); for if and unless, the branch the condition selects,
// and while an if's condition is false, what would make it true, for an
// else (libsolv's (A or not B) and (C or B) picks from C and B alike).
func (s *state) options(e *Expr) []*pkg {
	var out []*pkg
	seen := map[*pkg]bool{}
	add := func(ps []*pkg) {
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	var walk func(e *Expr)
	walk = func(e *Expr) {
		if s.eval(e, nil) {
			return
		}
		switch e.Op {
		case OpAtom:
			if !builtin(e) {
				add(s.ix.providers(e))
			}
		case OpAnd:
			for _, a := range e.Args {
				if !s.eval(a, nil) {
					walk(a)
					return
				}
			}
		case OpOr:
			for _, a := range e.Args {
				walk(a)
			}
		case OpIf:
			if s.eval(e.Args[1], nil) {
				walk(e.Args[0])
			} else if len(e.Args) == 3 {
				walk(e.Args[2])
				walk(e.Args[1])
			}
		case OpUnless:
			// Unlike if, a false condition does not offer its own
			// candidates: (A unless B else C) is met by A alone, and
			// rpmbuild refuses unless in Requires, so dnf cannot be
			// asked what it would do.
			if !s.eval(e.Args[1], nil) {
				walk(e.Args[0])
			} else if len(e.Args) == 3 {
				walk(e.Args[2])
			}
		case OpWith, OpWithout:
			e.Args[0].atoms(func(a *Expr) {
				for _, p := range s.ix.providers(a) {
					if s.ix.pkgMatch(e, p) {
						add([]*pkg{p})
					}
				}
			})
		}
	}
	walk(e)
	slices.SortFunc(out, func(a, b *pkg) int { return a.id - b.id })
	return out
}

// allMet reports whether every Requires of p holds.
func (s *state) allMet(p *pkg) bool {
	for _, r := range p.requires {
		if !s.eval(r.e, nil) {
			return false
		}
	}
	return true
}

// settleMark records that p was settled when order had at packages.
type settleMark struct {
	p  *pkg
	at int
}

// unlessConflict reports whether p has a Conflicts (A unless B), which
// pass may have to repair.
func (p *pkg) unlessConflict() bool {
	for _, e := range p.conflicts {
		if e.Op == OpUnless {
			return true
		}
	}
	return false
}

// monotone reports whether p's Requires are made of atoms, and, or and
// with only: once met, selecting more packages keeps them met.
func (p *pkg) monotone() bool {
	var ok func(e *Expr) bool
	ok = func(e *Expr) bool {
		switch e.Op {
		case OpAtom:
			return true
		case OpAnd, OpOr, OpWith:
			for _, a := range e.Args {
				if !ok(a) {
					return false
				}
			}
			return true
		}
		return false
	}
	for _, r := range p.requires {
		if !ok(r.e) {
			return false
		}
	}
	return true
}
