package solve

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/repo/apt"
)

// index parses a hand-written Packages text. Architecture defaults to amd64
// and Version to 1 so that stanzas stay short.
func index(t *testing.T, text string) []apt.Package {
	t.Helper()
	pkgs, err := parseStanzas(strings.NewReader(strings.TrimSpace(text) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range pkgs {
		if pkgs[i].Architecture == "" {
			pkgs[i].Architecture = "amd64"
		}
		if pkgs[i].Version == "" {
			pkgs[i].Version = "1"
		}
	}
	return pkgs
}

func solveOK(t *testing.T, text string, opts Options) *Result {
	t.Helper()
	res, err := Solve(context.Background(), index(t, text), "amd64", opts)
	if err != nil {
		t.Fatalf("Solve: %v", err)
	}
	return res
}

func solveErr(t *testing.T, text string, opts Options) error {
	t.Helper()
	res, err := Solve(context.Background(), index(t, text), "amd64", opts)
	if err == nil {
		t.Fatalf("Solve succeeded with %v, want an error", res.Names())
	}
	return err
}

func custom(include ...string) Options { return Options{Variant: VariantCustom, Include: include} }

func wantNames(t *testing.T, res *Result, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := res.Names(); !slices.Equal(got, want) {
		t.Errorf("chosen %v, want %v", got, want)
	}
}

func TestAlternatives(t *testing.T) {
	const idx = `
Package: x
Depends: a | b

Package: y
Depends: missing | b

Package: z
Depends: a (>= 2) | b

Package: a

Package: b
`
	t.Run("first alternative", func(t *testing.T) { wantNames(t, solveOK(t, idx, custom("x")), "x", "a") })
	t.Run("first that exists", func(t *testing.T) { wantNames(t, solveOK(t, idx, custom("y")), "y", "b") })
	t.Run("first whose version fits", func(t *testing.T) { wantNames(t, solveOK(t, idx, custom("z")), "z", "b") })
	t.Run("already selected wins", func(t *testing.T) { wantNames(t, solveOK(t, idx, custom("x", "b")), "x", "b") })
	t.Run("already chosen by an earlier dependency", func(t *testing.T) {
		// y pulls in b while resolving; z, resolved next, finds its
		// second alternative already chosen and does not add a.
		wantNames(t, solveOK(t, idx, custom("y", "z")), "y", "z", "b")
	})
}

func TestVersionConstraints(t *testing.T) {
	const idx = `
Package: lib
Version: 1:2.5-1

Package: lt
Depends: lib (<< 1:2.6)

Package: le
Depends: lib (<= 1:2.5-1)

Package: eq
Depends: lib (= 1:2.5-1)

Package: ge
Depends: lib (>= 2.9)

Package: gt
Depends: lib (>> 1:2.5-1)
`
	for _, ok := range []string{"lt", "le", "eq"} {
		wantNames(t, solveOK(t, idx, custom(ok)), ok, "lib")
	}
	// The epoch makes 1:2.5-1 newer than 2.9.
	wantNames(t, solveOK(t, idx, custom("ge")), "ge", "lib")
	err := solveErr(t, idx, custom("gt"))
	if got, want := err.Error(), "solve: gt -> lib (>> 1:2.5-1): only version 1:2.5-1 is available"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

func TestHighestVersionWins(t *testing.T) {
	res := solveOK(t, `
Package: p
Version: 1.0

Package: p
Version: 1.0+b1

Package: p
Version: 1.0~rc1

Package: p
Version: 9
Architecture: i386
`, custom("p"))
	if v := res.Packages[0].Version; v != "1.0+b1" {
		t.Errorf("chose p %s, want 1.0+b1 (the i386 9 is another architecture)", v)
	}
}

func TestVersionedProvides(t *testing.T) {
	const idx = `
Package: user
Depends: libfoo-abi (>= 2)

Package: olduser
Depends: libfoo-abi (>= 3)

Package: anyuser
Depends: libfoo-abi

Package: impl-old
Provides: libfoo-abi

Package: impl
Provides: libfoo-abi (= 2.1)
`
	// impl-old's unversioned Provides cannot satisfy ">= 2".
	wantNames(t, solveOK(t, idx, custom("user")), "user", "impl")
	err := solveErr(t, idx, custom("olduser"))
	var ue *UnmetError
	if !errors.As(err, &ue) || ue.Reason != "no provider satisfies it" || !slices.Equal(ue.Chain, []string{"olduser"}) {
		t.Errorf("error %v, want olduser -> libfoo-abi (>= 3): no provider satisfies it", err)
	}
	// Unversioned: both qualify, equal rank, name decides.
	wantNames(t, solveOK(t, idx, custom("anyuser")), "anyuser", "impl")
}

func TestVirtualProviderChoice(t *testing.T) {
	const idx = `
Package: want-mta
Depends: mail-transport-agent

Package: aaa-mta
Priority: optional
Provides: mail-transport-agent

Package: exim4
Priority: standard
Provides: mail-transport-agent

Package: want-awk
Depends: awk

Package: awk
Priority: optional

Package: mawk
Priority: required
Provides: awk
`
	t.Run("higher priority provider", func(t *testing.T) {
		wantNames(t, solveOK(t, idx, custom("want-mta")), "want-mta", "exim4")
	})
	t.Run("already selected provider", func(t *testing.T) {
		wantNames(t, solveOK(t, idx, custom("want-mta", "aaa-mta")), "want-mta", "aaa-mta")
	})
	t.Run("real package named by the relation", func(t *testing.T) {
		wantNames(t, solveOK(t, idx, custom("want-awk")), "want-awk", "awk")
	})
	t.Run("virtual include", func(t *testing.T) {
		wantNames(t, solveOK(t, idx, custom("mail-transport-agent")), "exim4")
	})
}

func TestConflicts(t *testing.T) {
	const idx = `
Package: a
Conflicts: b

Package: b

Package: c
Depends: b | d

Package: d

Package: e
Breaks: f (<< 2)

Package: f
Version: 1.5

Package: g
Breaks: h (<< 2)

Package: h
Version: 2

Package: i
Conflicts: virt
Provides: virt

Package: j
Provides: virt
`
	t.Run("conflicting selection", func(t *testing.T) {
		err := solveErr(t, idx, custom("a", "b"))
		var ce *ConflictError
		if !errors.As(err, &ce) || ce.Package != "a" || ce.Other != "b" || ce.Field != "Conflicts" {
			t.Fatalf("error %v, want a Conflicts b", err)
		}
	})
	t.Run("conflicting alternative skipped", func(t *testing.T) {
		wantNames(t, solveOK(t, idx, custom("a", "c")), "a", "c", "d")
	})
	t.Run("versioned breaks hits", func(t *testing.T) {
		err := solveErr(t, idx, custom("e", "f"))
		if !strings.Contains(err.Error(), "e Breaks f (<< 2): f is chosen too") {
			t.Errorf("error %q does not name both packages", err)
		}
	})
	t.Run("versioned breaks misses", func(t *testing.T) { wantNames(t, solveOK(t, idx, custom("g", "h")), "g", "h") })
	t.Run("self conflict through provides is allowed", func(t *testing.T) { wantNames(t, solveOK(t, idx, custom("i")), "i") })
	t.Run("provided name conflicts", func(t *testing.T) {
		err := solveErr(t, idx, custom("i", "j"))
		var ce *ConflictError
		if !errors.As(err, &ce) || ce.Package != "i" || ce.Other != "j" {
			t.Fatalf("error %v, want i Conflicts virt (provided by j)", err)
		}
	})
}

func TestUnmetChain(t *testing.T) {
	const idx = `
Package: apt
Depends: libapt-pkg6.0 (>= 2.6), adduser

Package: libapt-pkg6.0
Version: 2.6.1
Depends: libc6, libzstd1 (>= 1.5)

Package: libc6

Package: adduser
`
	err := solveErr(t, idx, custom("apt"))
	if got, want := err.Error(), "solve: apt -> libapt-pkg6.0 -> libzstd1 (>= 1.5): no such package"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	var ue *UnmetError
	if !errors.As(err, &ue) || !slices.Equal(ue.Chain, []string{"apt", "libapt-pkg6.0"}) {
		t.Errorf("chain %v, want [apt libapt-pkg6.0]", ue)
	}
}

func TestExclude(t *testing.T) {
	const idx = `
Package: base
Essential: yes
Priority: required
Depends: libx | liby

Package: libx

Package: liby

Package: tool
Priority: required
Depends: libz

Package: libz

Package: nice
Priority: required

Package: apt
Priority: required
`
	t.Run("excluded alternative avoided", func(t *testing.T) {
		res := solveOK(t, idx, Options{Variant: VariantEssential, Exclude: []string{"libx"}})
		wantNames(t, res, "base", "liby")
	})
	t.Run("excluded selection dropped", func(t *testing.T) {
		res := solveOK(t, idx, Options{Variant: VariantRequired, Exclude: []string{"nice"}})
		wantNames(t, res, "apt", "base", "libx", "tool", "libz")
	})
	t.Run("excluded dependency fails with chain", func(t *testing.T) {
		err := solveErr(t, idx, Options{Variant: VariantRequired, Exclude: []string{"libz"}})
		if got, want := err.Error(), "solve: tool -> libz: libz is excluded"; got != want {
			t.Errorf("error %q, want %q", got, want)
		}
	})
	t.Run("all alternatives excluded", func(t *testing.T) {
		err := solveErr(t, idx, Options{Variant: VariantEssential, Exclude: []string{"libx", "liby"}})
		if got, want := err.Error(), "solve: base -> libx | liby: libx is excluded; liby is excluded"; got != want {
			t.Errorf("error %q, want %q", got, want)
		}
	})
	t.Run("minbase needs apt", func(t *testing.T) {
		err := solveErr(t, idx, Options{Variant: VariantMinbase, Exclude: []string{"apt"}})
		if !strings.Contains(err.Error(), "apt") {
			t.Errorf("error %q does not name apt", err)
		}
	})
}

func TestMultiArch(t *testing.T) {
	const idx = `
Package: py-user
Depends: python3:any (>= 3.11)

Package: python3
Version: 3.11.2-1
Multi-Arch: allowed

Package: perl-user
Depends: perl:any

Package: perl
Multi-Arch: same

Package: tool-user
Depends: awk:any

Package: mawk
Multi-Arch: foreign
Provides: awk

Package: native-user
Depends: libc6:amd64, data

Package: libc6
Multi-Arch: same

Package: data
Architecture: all
Multi-Arch: foreign

Package: cross-user
Depends: libc6:i386

Package: libc6
Architecture: i386
Multi-Arch: same
`
	wantNames(t, solveOK(t, idx, custom("py-user")), "py-user", "python3")
	wantNames(t, solveOK(t, idx, custom("tool-user")), "tool-user", "mawk")
	wantNames(t, solveOK(t, idx, custom("native-user")), "native-user", "libc6", "data")
	err := solveErr(t, idx, custom("perl-user"))
	if !strings.Contains(err.Error(), `perl-user -> perl:any: perl is Multi-Arch: "same"`) {
		t.Errorf("error %q, want perl:any refused for Multi-Arch: same", err)
	}
	err = solveErr(t, idx, custom("cross-user"))
	if !strings.Contains(err.Error(), "cross-user -> libc6:i386: architecture i386 is not solved for") {
		t.Errorf("error %q, want the i386 qualifier refused", err)
	}
}

func TestVariants(t *testing.T) {
	const idx = `
Package: ess
Essential: yes
Priority: required
Depends: libess

Package: libess
Priority: optional

Package: req
Priority: required

Package: apt
Priority: important
Depends: libapt

Package: libapt
Priority: optional

Package: imp
Priority: important

Package: std
Priority: standard

Package: opt
Priority: optional
Recommends: std

Package: ess-foreign
Architecture: i386
Essential: yes
`
	cases := map[Variant][]string{
		VariantEssential: {"ess", "libess"},
		VariantRequired:  {"ess", "libess", "req", "apt", "libapt"},
		VariantMinbase:   {"ess", "libess", "req", "apt", "libapt"},
		VariantImportant: {"ess", "libess", "req", "apt", "libapt", "imp"},
		VariantStandard:  {"ess", "libess", "req", "apt", "libapt", "imp", "std"},
	}
	for v, want := range cases {
		t.Run(string(v), func(t *testing.T) {
			res := solveOK(t, idx, Options{Variant: v})
			wantNames(t, res, want...)
			if !slices.Equal(res.Essential, []string{"libess", "ess"}) {
				t.Errorf("essential stage order %v, want [libess ess]", res.Essential)
			}
		})
	}
	// Recommends are not followed.
	wantNames(t, solveOK(t, idx, Options{Variant: VariantEssential, Include: []string{"opt"}}), "ess", "libess", "opt")
	if _, err := Solve(context.Background(), index(t, idx), "amd64", Options{Variant: "buildd"}); err == nil {
		t.Error("unknown variant accepted")
	}
	res := solveOK(t, idx, Options{Variant: VariantImportant})
	for name, want := range map[string]string{"ess": "essential", "libess": "dependency of ess", "imp": "priority important", "libapt": "dependency of apt"} {
		if got := res.Reasons[name]; got != want {
			t.Errorf("reason for %s: %q, want %q", name, got, want)
		}
	}
}

func TestInstallOrder(t *testing.T) {
	const idx = `
Package: app
Depends: libb, liba

Package: liba
Depends: libc

Package: libb
Pre-Depends: liba

Package: libc
Depends: libd

Package: libd
Depends: libc
Pre-Depends: libe

Package: libe
Depends: libd
`
	// libc, libd and libe form a cycle; libd Pre-Depends on libe, so libe
	// must come before libd; the rest follows the edges.
	res := solveOK(t, idx, custom("app"))
	want := []string{"libe", "libd", "libc", "liba", "libb", "app"}
	if !slices.Equal(res.Rest, want) {
		t.Errorf("order %v, want %v", res.Rest, want)
	}
	for range 5 {
		if again := solveOK(t, idx, custom("app")); !slices.Equal(again.Rest, res.Rest) {
			t.Fatalf("order not deterministic: %v then %v", res.Rest, again.Rest)
		}
	}
}

func TestBadInput(t *testing.T) {
	if _, err := Solve(context.Background(), index(t, "Package: p\nDepends: q (>= 1\n"), "amd64", custom("p")); err == nil {
		t.Error("unterminated version constraint accepted")
	} else if !strings.Contains(err.Error(), "package p 1: Depends") {
		t.Errorf("error %q does not name the package and field", err)
	}
	if _, err := Solve(context.Background(), index(t, "Package: p\nVersion: a:b\n"), "amd64", custom("p")); err == nil {
		t.Error("bad version accepted")
	}
	for _, bad := range []string{"python3:----0", "p\u00e9rl", "foo:\n", "Foo", "a (>= 0:)", "a (~ 1)"} {
		pkgs := []apt.Package{{Name: "p", Version: "1", Architecture: "amd64", Depends: bad}}
		if _, err := Solve(context.Background(), pkgs, "amd64", custom("p")); err == nil {
			t.Errorf("Depends %q accepted", bad)
		} else if !strings.HasPrefix(err.Error(), "solve: package p 1: Depends: ") {
			t.Errorf("Depends %q: error %q does not name the package and field", bad, err)
		}
	}
	if _, err := Solve(context.Background(), nil, "all", custom()); err == nil {
		t.Error("native architecture all accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewIndex(ctx, index(t, "Package: p\n"), "amd64"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}
