package solve

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testfixtures"

	"github.com/vzkit/vzkit/repo/apt"
)

// fixturePackages is a real, verified Packages file (see
// shared/fixtures/SOURCES.md).
var fixturePackages = testfixtures.Path("debian-archive/debian/dists/bookworm-updates/main/binary-amd64/Packages")

// realRelationSamples are relationship fields copied from Debian's archive
// (bookworm), for fuzz seeds when the fixture file is absent.
var realRelationSamples = []string{
	"openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0",
	"adduser, passwd, libc6 (>= 2.36), libedit2 (>= 2.11-20080614-0), libselinux1 (>= 3.1~), zlib1g (>= 1:1.1.4)",
	"init-system-helpers (>= 1.54~)",
	"python3:any (>= 3.11~), libc6 (>= 2.34)",
	"perl:any, debconf (>= 0.5) | debconf-2.0",
	"usrmerge | usr-is-merged, perl-base (>= 5.20.1-3)",
	"libc6 (>= 2.36), libzstd1 (>= 1.5.2), liblzma5 (>= 5.4.0), libbz2-1.0, zlib1g (>= 1:1.1.4)",
	"awk, libacl1 (>= 2.2.23), libc6 (>= 2.34), tar (>= 1.28-1) | x-tar",
	"libglib2.0-0 (>= 2.12.0) [!hurd-i386], foo [amd64 i386] | bar:native (<< 2:3)",
	"mail-transport-agent (= 1.0), default-mta | mail-transport-agent",
}

// fuzzRegressions are inputs the fuzzer once broke: go-debian's parser
// turning UTF-8 into other runes, Version.String dropping a zero epoch, and
// Arch.String panicking on an unknown tuple.
var fuzzRegressions = []string{"\xd2", "0(=0:0:)", "0:----0", "0:\n,"}

// checkOrder checks that each package of a stage comes after the packages
// it (Pre-)Depends on in that stage, unless they depend on each other
// through a cycle; with pre, Pre-Depends must hold even inside cycles.
func checkOrder(t *testing.T, ix *Index, res *Result, stage []string, pre bool) {
	t.Helper()
	pos := map[string]int{}
	for i, n := range stage {
		pos[n] = i
	}
	byName := map[string]*entry{}
	for _, n := range stage {
		byName[n] = ix.cands[n]
	}
	s := &state{ix: ix, marked: map[string]*entry{}}
	for _, p := range res.Packages {
		s.marked[p.Name] = ix.cands[p.Name]
	}
	edges := func(n string) (all, preOnly []string) {
		e := byName[n]
		for i, r := range e.depends {
			if t := s.relTarget(r); t != nil && t != e {
				if _, in := pos[t.pkg.Name]; in {
					all = append(all, t.pkg.Name)
					if i >= len(e.depends)-len(e.pre) {
						preOnly = append(preOnly, t.pkg.Name)
					}
				}
			}
		}
		return all, preOnly
	}
	reaches := func(from, to string) bool {
		seen := map[string]bool{from: true}
		queue := []string{from}
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			if n == to {
				return true
			}
			all, _ := edges(n)
			for _, m := range all {
				if !seen[m] {
					seen[m] = true
					queue = append(queue, m)
				}
			}
		}
		return false
	}
	cycles := 0
	for _, n := range stage {
		all, preOnly := edges(n)
		for _, d := range all {
			if pos[d] < pos[n] {
				continue
			}
			if pre && slices.Contains(preOnly, d) {
				t.Errorf("%s is ordered before %s, which it Pre-Depends on", n, d)
			} else if !reaches(d, n) {
				t.Errorf("%s is ordered before %s, which it depends on, without a cycle", n, d)
			}
			cycles++
		}
	}
	t.Logf("%d packages, %d dependency edges dropped to break cycles", len(stage), cycles)
}

func TestHostBookwormMinbase(t *testing.T) {
	pkgs := hostBookworm(t)
	ctx := context.Background()
	ix, err := NewIndex(ctx, pkgs, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ix.Solve(ctx, Options{Variant: VariantMinbase})
	if err != nil {
		t.Fatal(err)
	}
	names := res.Names()
	for _, must := range []string{"apt", "dpkg", "libc6", "base-files", "bash", "libapt-pkg6.0"} {
		if _, ok := slices.BinarySearch(names, must); !ok {
			t.Errorf("minbase lacks %s", must)
		}
	}
	for _, mustNot := range []string{"systemd", "usr-is-merged", "apt-utils"} {
		if _, ok := slices.BinarySearch(names, mustNot); ok {
			t.Errorf("minbase has %s (%s)", mustNot, res.Reasons[mustNot])
		}
	}
	if len(res.Essential)+len(res.Rest) != len(res.Packages) {
		t.Errorf("order lists %d+%d packages, set has %d", len(res.Essential), len(res.Rest), len(res.Packages))
	}
	both := append(slices.Clone(res.Essential), res.Rest...)
	slices.Sort(both)
	if !slices.Equal(both, names) {
		t.Errorf("install order is not a permutation of the chosen set")
	}
	checkOrder(t, ix, res, res.Essential, true)
	checkOrder(t, ix, res, res.Rest, true)

	// The same run twice gives the same order.
	again, err := ix.Solve(ctx, Options{Variant: VariantMinbase})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Essential, res.Essential) || !slices.Equal(again.Rest, res.Rest) {
		t.Error("install order differs between two runs")
	}

	// Excluding a library the essential set needs names the chain to it.
	_, err = ix.Solve(ctx, Options{Variant: VariantMinbase, Exclude: []string{"libzstd1"}})
	var ue *UnmetError
	if !errors.As(err, &ue) {
		t.Fatalf("excluding libzstd1: %v, want an UnmetError", err)
	}
	if !strings.HasPrefix(ue.Relation, "libzstd1") || ue.Reason != "libzstd1 is excluded" || len(ue.Chain) == 0 {
		t.Errorf("excluding libzstd1: %v", err)
	}
	if why := res.Reasons[ue.Chain[0]]; why != "essential" {
		t.Errorf("chain %v starts at %s, chosen as %q, want an essential root", ue.Chain, ue.Chain[0], why)
	}
	t.Logf("exclude error: %v", err)
}

// TestConcurrentSolve solves on one Index from several goroutines; run with
// -race it checks the lazy relationship parsing.
func TestConcurrentSolve(t *testing.T) {
	pkgs := index(t, `
Package: ess
Essential: yes
Depends: liba | libb, libc (>= 1)
Conflicts: old

Package: liba
Pre-Depends: libc

Package: libc
Version: 2
Provides: libc-abi (= 2)

Package: apt
Priority: required
Depends: libc-abi (>= 2)
`)
	ix, err := NewIndex(context.Background(), pkgs, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan []string, 8)
	for range 8 {
		go func() {
			res, err := ix.Solve(context.Background(), Options{Variant: VariantMinbase})
			if err != nil {
				t.Error(err)
				results <- nil
				return
			}
			results <- append(res.Essential, res.Rest...)
		}()
	}
	want := []string{"libc", "liba", "ess", "apt"}
	for range 8 {
		if got := <-results; !slices.Equal(got, want) {
			t.Errorf("order %v, want %v", got, want)
		}
	}
}

func BenchmarkSolveMinbase(b *testing.B) {
	pkgs := hostBookworm(b)
	ctx := context.Background()
	b.Run("index+solve", func(b *testing.B) {
		for b.Loop() {
			if _, err := Solve(ctx, pkgs, "amd64", Options{Variant: VariantMinbase}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("solve", func(b *testing.B) {
		ix, err := NewIndex(ctx, pkgs, "amd64")
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := ix.Solve(ctx, Options{Variant: VariantMinbase}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzRelations feeds relationship strings to the parser and to a solve in
// which one package Depends, Conflicts and Provides them.
func FuzzRelations(f *testing.F) {
	for _, s := range append(slices.Clone(realRelationSamples), fuzzRegressions...) {
		f.Add(s)
	}
	if data, err := os.ReadFile(fixturePackages); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			for _, field := range []string{"Depends: ", "Pre-Depends: ", "Provides: ", "Breaks: ", "Conflicts: "} {
				if rest, ok := strings.CutPrefix(line, field); ok {
					f.Add(rest)
				}
			}
		}
	}
	arch := "amd64"
	f.Fuzz(func(t *testing.T, field string) {
		ix, err := NewIndex(context.Background(), nil, arch)
		if err != nil {
			t.Fatal(err)
		}
		rels, err := parseRelations(field, ix.nat)
		if err != nil {
			return
		}
		for _, r := range rels {
			if len(r.alts) == 0 {
				t.Fatalf("%q: empty relation", field)
			}
			for _, a := range r.alts {
				if a.name == "" {
					t.Fatalf("%q: empty name", field)
				}
				if a.op == "" && a.verText != "" {
					t.Fatalf("%q: version without operator in %v", field, a)
				}
			}
			// What we print parses back to the same relation.
			back, err := parseRelations(r.String(), ix.nat)
			if err != nil || len(back) != 1 || back[0].String() != r.String() {
				t.Fatalf("%q: relation %q does not round-trip: %v %v", field, r, back, err)
			}
		}
		pkgs := []apt.Package{
			{Name: "root", Version: "1", Architecture: arch, Depends: field},
			{Name: "other", Version: "1", Architecture: "all", Conflicts: field, Provides: "x"},
			{Name: "x", Version: "2", Architecture: arch, Breaks: field},
		}
		res, err := Solve(context.Background(), pkgs, arch, Options{Variant: VariantCustom, Include: []string{"root"}})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "solve: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if !slices.Contains(res.Names(), "root") {
			t.Fatalf("root missing from %v", res.Names())
		}
	})
}
