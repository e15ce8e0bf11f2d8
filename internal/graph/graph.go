// Package graph holds the graph algorithm both dependency solvers order
// their installs with: Tarjan's strongly connected components, which come
// out dependencies first (a component after every component it reaches),
// so each solver only decides how to order the packages inside a cycle.
package graph

// Components returns the strongly connected components of the graph of
// nodes and edges, each component after the ones it has edges to; nodes
// are visited in the order given, so the result is deterministic. The
// recursion is as deep as the longest path: a chosen package set of a few
// thousand nodes is harmless.
func Components[N comparable](nodes []N, edges func(N) []N) [][]N {
	index := make(map[N]int, len(nodes))
	low := make(map[N]int, len(nodes))
	onStack := make(map[N]bool, len(nodes))
	var stack []N
	var out [][]N
	next := 0
	var connect func(v N)
	connect = func(v N) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges(v) {
			if _, seen := index[w]; !seen {
				connect(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		var comp []N
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp = append(comp, w)
			if w == v {
				break
			}
		}
		out = append(out, comp)
	}
	for _, v := range nodes {
		if _, seen := index[v]; !seen {
			connect(v)
		}
	}
	return out
}
