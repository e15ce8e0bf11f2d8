package graph

import (
	"fmt"
	"slices"
	"testing"
)

// TestComponents: a cycle comes out as one component, after what it
// depends on and before what depends on it.
func TestComponents(t *testing.T) {
	edges := map[string][]string{
		"app": {"lib", "b"}, "b": {"c"}, "c": {"b", "lib"}, "lib": {"libc"}, "libc": nil,
	}
	got := Components([]string{"app", "b", "c", "lib", "libc"}, func(n string) []string { return edges[n] })
	for _, c := range got {
		slices.Sort(c)
	}
	if s := fmt.Sprint(got); s != "[[libc] [lib] [b c] [app]]" {
		t.Errorf("components: %s", s)
	}
}
