package solve

import (
	"slices"
	"sort"

	"github.com/vzkit/vzkit/internal/graph"
)

// installOrder orders the chosen packages so that a package comes after
// what its Requires resolve to, as rpm's transaction ordering does.
// Strongly connected components come out of Tarjan's algorithm
// dependencies first; inside a cycle a walk that follows Requires(pre)
// edges before plain Requires edges, keys breaking ties, decides, so the
// edge dropped to break a cycle is a plain one wherever the cycle allows.
func (s *state) installOrder(chosen []*pkg) []string {
	in := make(map[*pkg]bool, len(chosen))
	for _, p := range chosen {
		in[p] = true
	}
	nodes := slices.Clone(chosen)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].key() < nodes[j].key() })

	type edges struct{ all, pre []*pkg }
	adj := make(map[*pkg]edges, len(nodes))
	byKey := func(x, y *pkg) int {
		switch {
		case x.key() < y.key():
			return -1
		case x.key() > y.key():
			return 1
		}
		return 0
	}
	for _, p := range nodes {
		var ed edges
		for _, r := range p.requires {
			for _, t := range s.targets(r.e, nil, nil) {
				if t == p || !in[t] {
					continue
				}
				ed.all = append(ed.all, t)
				if r.pre {
					ed.pre = append(ed.pre, t)
				}
			}
		}
		slices.SortFunc(ed.all, byKey)
		slices.SortFunc(ed.pre, byKey)
		ed.all, ed.pre = slices.Compact(ed.all), slices.Compact(ed.pre)
		adj[p] = ed
	}

	var out []string
	for _, comp := range graph.Components(nodes, func(v *pkg) []*pkg { return adj[v].all }) {
		out = append(out, orderCycle(comp, func(p *pkg) [][]*pkg { return [][]*pkg{adj[p].pre, adj[p].all} }, byKey)...)
	}
	return out
}

// orderCycle orders one strongly connected component the way rpm's
// tsort breaks loops: a package goes next when everything it requires in
// the component is placed; when none can (a loop), the package whose
// unplaced requirements are all plain Requires goes next, so only plain
// edges are dropped, keys breaking ties; only a loop made of
// Requires(pre) alone drops one of those.
func orderCycle(comp []*pkg, edges func(*pkg) [][]*pkg, cmp func(x, y *pkg) int) []string {
	if len(comp) == 1 {
		return []string{comp[0].key()}
	}
	slices.SortFunc(comp, cmp)
	member := make(map[*pkg]bool, len(comp))
	for _, p := range comp {
		member[p] = true
	}
	placed := make(map[*pkg]bool, len(comp))
	// waiting counts p's unplaced requirements: all of them, and the pre
	// ones.
	waiting := func(p *pkg) (all, pre int) {
		e := edges(p)
		for _, t := range e[1] {
			if member[t] && !placed[t] {
				all++
			}
		}
		for _, t := range e[0] {
			if member[t] && !placed[t] {
				pre++
			}
		}
		return all, pre
	}
	var out []string
	for len(out) < len(comp) {
		var next, noPre *pkg
		for _, p := range comp {
			if placed[p] {
				continue
			}
			all, pre := waiting(p)
			if all == 0 {
				next = p
				break
			}
			if pre == 0 && noPre == nil {
				noPre = p
			}
		}
		if next == nil {
			next = noPre
		}
		if next == nil {
			for _, p := range comp {
				if !placed[p] {
					next = p
					break
				}
			}
		}
		placed[next] = true
		out = append(out, next.key())
	}
	return out
}
