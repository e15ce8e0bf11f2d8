package solve

import (
	"context"
	"errors"
	"slices"
	"sort"
	"testing"
)

// bigRoots picks up to n AppStream package names (every seventh name in
// order) that solve together over the stand-in: each must solve alone,
// and a root the combined solve blames (the head of its chain) is dropped.
func bigRoots(b *testing.B, ix *Index, n int) []string {
	var names []string
	for name := range ix.byName {
		names = append(names, name)
	}
	sort.Strings(names)
	var roots []string
	for i := 0; i < len(names) && len(roots) < n; i += 7 {
		if _, err := ix.Solve(context.Background(), []string{names[i]}, Options{}); err == nil {
			roots = append(roots, names[i])
		}
	}
	for len(roots) > 0 {
		_, err := ix.Solve(context.Background(), roots, Options{})
		if err == nil {
			return roots
		}
		var ue *UnmetError
		var ce *ConflictError
		var drop string
		switch {
		case errors.As(err, &ue) && len(ue.Chain) > 0:
			drop = ue.Chain[0]
		case errors.As(err, &ce) && len(ce.Chain) > 0:
			drop = ce.Chain[0]
		default:
			b.Fatalf("combined solve: %v", err)
		}
		i := slices.Index(roots, drop)
		if i < 0 {
			b.Fatalf("combined solve blames %s, not a root: %v", drop, err)
		}
		roots = slices.Delete(roots, i, i+1)
	}
	b.Fatal("no roots solve together")
	return nil
}

// BenchmarkSolveAppStream solves a few hundred real roots together over
// the 17,649-package AppStream index plus the BaseOS stand-in.
func BenchmarkSolveAppStream(b *testing.B) {
	pkgs := appstreamPackages(b)
	ix := appstreamIndex(b, standIn(b, pkgs))
	roots := bigRoots(b, ix, 400)
	res, err := ix.Solve(context.Background(), roots, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d roots, %d packages chosen", len(roots), len(res.Packages))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := ix.Solve(context.Background(), roots, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewIndex builds the index of the AppStream packages.
func BenchmarkNewIndex(b *testing.B) {
	pkgs := appstreamPackages(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := NewIndex(context.Background(), pkgs, IndexOptions{Arch: "x86_64"}); err != nil {
			b.Fatal(err)
		}
	}
}
