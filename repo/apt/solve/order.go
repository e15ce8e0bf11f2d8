package solve

import (
	"slices"
	"sort"

	"github.com/vzkit/vzkit/internal/graph"
)

// installOrder orders the packages of one stage so that a package comes
// after what it Depends or Pre-Depends on (edges leaving the stage are
// ignored: that side is installed already). Strongly connected components
// come out of Tarjan's algorithm dependencies first; inside a cycle the
// Pre-Depends edges are followed first, then names break ties.
func (s *state) installOrder(stage []*entry) []string {
	in := make(map[*entry]bool, len(stage))
	for _, e := range stage {
		in[e] = true
	}
	nodes := slices.Clone(stage)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].pkg.Name < nodes[j].pkg.Name })

	type edges struct{ all, pre []*entry }
	adj := make(map[*entry]edges, len(nodes))
	for _, e := range nodes {
		var ed edges
		for i, r := range e.depends {
			t := s.relTarget(r)
			if t == nil || t == e || !in[t] {
				continue
			}
			ed.all = append(ed.all, t)
			if i >= len(e.depends)-len(e.pre) {
				ed.pre = append(ed.pre, t)
			}
		}
		byName := func(x, y *entry) int { return compareNames(x, y) }
		slices.SortFunc(ed.all, byName)
		slices.SortFunc(ed.pre, byName)
		ed.all, ed.pre = slices.Compact(ed.all), slices.Compact(ed.pre)
		adj[e] = ed
	}

	var out []string
	for _, comp := range graph.Components(nodes, func(v *entry) []*entry { return adj[v].all }) {
		out = append(out, orderCycle(comp, func(e *entry) [][]*entry { return [][]*entry{adj[e].pre, adj[e].all} })...)
	}
	return out
}

// orderCycle orders one strongly connected component: a post-order walk
// inside it that follows Pre-Depends edges before Depends edges, starting
// from names in order, so the edge it must drop is rarely a Pre-Depends.
func orderCycle(comp []*entry, edges func(*entry) [][]*entry) []string {
	if len(comp) == 1 {
		return []string{comp[0].pkg.Name}
	}
	slices.SortFunc(comp, compareNames)
	member := make(map[*entry]bool, len(comp))
	for _, e := range comp {
		member[e] = true
	}
	done := make(map[*entry]bool, len(comp))
	var out []string
	var walk func(e *entry)
	walk = func(e *entry) {
		done[e] = true
		for _, list := range edges(e) {
			for _, t := range list {
				if member[t] && !done[t] {
					walk(t)
				}
			}
		}
		out = append(out, e.pkg.Name)
	}
	for _, e := range comp {
		if !done[e] {
			walk(e)
		}
	}
	return out
}

func compareNames(x, y *entry) int {
	switch {
	case x.pkg.Name < y.pkg.Name:
		return -1
	case x.pkg.Name > y.pkg.Name:
		return 1
	}
	return 0
}

// relTarget returns the chosen package that satisfies r: the first
// alternative with a marked satisfier wins, as dpkg would see it.
func (s *state) relTarget(r relation) *entry {
	for _, a := range r.alts {
		if e := s.markedSatisfier(a); e != nil {
			return e
		}
	}
	return nil
}
