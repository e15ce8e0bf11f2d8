package solve

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/repo/rpmmd"
)

// pk builds a package from "name-[epoch:]version-release.arch" and
// relation lines: "R: dep" (Requires), "Rpre: dep", "P: dep" (Provides),
// "C: dep" (Conflicts), "O: dep" (Obsoletes), "F: /path" (a file),
// "repo: name". A dep is "name [op evr]" or a rich dependency.
func pk(nevra string, rels ...string) rpmmd.Package {
	arch := nevra[strings.LastIndexByte(nevra, '.')+1:]
	rest := nevra[:strings.LastIndexByte(nevra, '.')]
	i := strings.LastIndexByte(rest, '-')
	rel := rest[i+1:]
	rest = rest[:i]
	i = strings.LastIndexByte(rest, '-')
	name, ver := rest[:i], rest[i+1:]
	p := rpmmd.Package{Name: name, Arch: arch, EVR: ParseEVR(ver + "-" + rel)}
	if p.EVR.Epoch == "" {
		p.EVR.Epoch = "0"
	}
	for _, r := range rels {
		kind, text, _ := strings.Cut(r, ": ")
		if kind == "F" {
			p.Files = append(p.Files, text)
			continue
		}
		if kind == "repo" {
			p.Repository = text
			continue
		}
		d := dep(text)
		switch kind {
		case "R":
			p.Requires = append(p.Requires, d)
		case "Rpre":
			d.Pre = true
			p.Requires = append(p.Requires, d)
		case "P":
			p.Provides = append(p.Provides, d)
		case "C":
			p.Conflicts = append(p.Conflicts, d)
		case "O":
			p.Obsoletes = append(p.Obsoletes, d)
		default:
			panic("pk: unknown relation kind " + kind)
		}
	}
	return p
}

func dep(text string) rpmmd.Dep {
	if strings.HasPrefix(text, "(") {
		return rpmmd.Dep{Name: text}
	}
	f := strings.Fields(text)
	if len(f) == 3 {
		op, ok := parseCmp(f[1])
		if !ok {
			panic("dep: bad comparison in " + text)
		}
		return rpmmd.Dep{Name: f[0], Op: op, EVR: ParseEVR(f[2])}
	}
	return rpmmd.Dep{Name: text}
}

func solve(t *testing.T, pkgs []rpmmd.Package, roots ...string) (*Result, error) {
	t.Helper()
	ix, err := NewIndex(context.Background(), pkgs, IndexOptions{Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	return ix.Solve(context.Background(), roots, Options{})
}

func solveOK(t *testing.T, pkgs []rpmmd.Package, roots ...string) *Result {
	t.Helper()
	res, err := solve(t, pkgs, roots...)
	if err != nil {
		t.Fatalf("Solve(%v): %v", roots, err)
	}
	return res
}

func solveErr(t *testing.T, pkgs []rpmmd.Package, roots ...string) error {
	t.Helper()
	res, err := solve(t, pkgs, roots...)
	if err == nil {
		t.Fatalf("Solve(%v) chose %v, want an error", roots, res.Names())
	}
	return err
}

// chosen lists the result as "name-evr.arch", sorted.
func chosen(res *Result) []string {
	var out []string
	for i := range res.Packages {
		p := &res.Packages[i]
		out = append(out, p.Name+"-"+EVRString(p.EVR)+"."+p.Arch)
	}
	return out
}

func want(t *testing.T, res *Result, nevras ...string) {
	t.Helper()
	slices.Sort(nevras)
	if got := chosen(res); !slices.Equal(got, nevras) {
		t.Errorf("chose %v, want %v", got, nevras)
	}
}

func TestEpochBump(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("app-1.0-1.x86_64", "R: tool"),
		pk("tool-2.0-1.x86_64"),
		pk("tool-1:1.0-1.x86_64"), // the epoch bump beats the higher version
	}
	want(t, solveOK(t, pkgs, "app"), "app-1.0-1.x86_64", "tool-1:1.0-1.x86_64")

	// A versioned requirement without an epoch means epoch 0, which the
	// bumped package is above.
	pkgs[0] = pk("app-1.0-1.x86_64", "R: tool <= 2.0")
	want(t, solveOK(t, pkgs, "app"), "app-1.0-1.x86_64", "tool-2.0-1.x86_64")
	pkgs[0] = pk("app-1.0-1.x86_64", "R: tool >= 1:0.5")
	want(t, solveOK(t, pkgs, "app"), "app-1.0-1.x86_64", "tool-1:1.0-1.x86_64")
}

func TestTildeAndCaret(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("pre-1.0~rc1-1.x86_64"),
		pk("pre-0.9-1.x86_64"),
		pk("snap-1.0^git5-1.x86_64"),
		pk("snap-1.0-1.x86_64"),
		pk("snap-0.9.1-1.noarch"),
	}
	// 1.0~rc1 is newer than 0.9; 1.0^git5 newer than 1.0.
	want(t, solveOK(t, pkgs, "pre", "snap"), "pre-1.0~rc1-1.x86_64", "snap-1.0^git5-1.x86_64")

	// A release candidate does not satisfy >= 1.0.
	pkgs = append(pkgs, pk("app-1-1.x86_64", "R: pre >= 1.0"))
	err := solveErr(t, pkgs, "app")
	if !strings.Contains(err.Error(), "app -> pre >= 1.0: only pre-1.0~rc1-1.x86_64, pre-0.9-1.x86_64 available") {
		t.Errorf("error %q does not say which versions there are", err)
	}
}

func TestReleaselessRequirement(t *testing.T) {
	// rpm: "Requires: lib >= 1.0" is met by lib-1.0-3, "> 1.0" is not.
	pkgs := []rpmmd.Package{pk("lib-1.0-3.x86_64"), pk("app-1-1.x86_64", "R: lib >= 1.0"), pk("strict-1-1.x86_64", "R: lib > 1.0")}
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "lib-1.0-3.x86_64")
	solveErr(t, pkgs, "strict")
}

func TestFileDependency(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("script-1-1.noarch", "R: /bin/sh", "R: /usr/bin/python3"),
		pk("bash-5.1-1.x86_64", "F: /usr/bin/bash", "F: /bin/sh"),
		pk("dash-0.5-1.x86_64", "F: /usr/bin/dash"),
		pk("python3-3.9-1.x86_64", "P: /usr/bin/python3"), // a path in Provides
	}
	want(t, solveOK(t, pkgs, "script"), "script-1-1.noarch", "bash-5.1-1.x86_64", "python3-3.9-1.x86_64")
	// A file as a root, as "dnf install /usr/bin/dash" does.
	want(t, solveOK(t, pkgs, "/usr/bin/dash"), "dash-0.5-1.x86_64")

	err := solveErr(t, []rpmmd.Package{pk("script-1-1.noarch", "R: /usr/libexec/helper")}, "script")
	if !strings.Contains(err.Error(), "script -> /usr/libexec/helper: no package provides or owns it (primary.xml lists only /etc and bin paths: is filelists.xml loaded?)") {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestObsoletes(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("app-1-1.x86_64", "R: libcrypt"),
		pk("libcrypt-4.1-1.x86_64"),
		pk("libxcrypt-4.4-1.x86_64", "P: libcrypt = 4.4-1", "O: libcrypt < 4.2"),
	}
	// libcrypt is the name required, but its obsoleter provides it too:
	// the obsoleted package is not chosen.
	res := solveOK(t, pkgs, "app")
	want(t, res, "app-1-1.x86_64", "libxcrypt-4.4-1.x86_64")

	// Both as roots: the obsoleted one is replaced.
	res = solveOK(t, pkgs, "libcrypt", "libxcrypt")
	want(t, res, "libxcrypt-4.4-1.x86_64")
	if res.Replaced["libcrypt.x86_64"] != "libxcrypt.x86_64" {
		t.Errorf("Replaced = %v, want libcrypt.x86_64 replaced by libxcrypt.x86_64", res.Replaced)
	}

	// A range the version is outside of does not obsolete it.
	pkgs[2] = pk("libxcrypt-4.4-1.x86_64", "P: libcrypt = 4.4-1", "O: libcrypt < 4.0")
	res = solveOK(t, pkgs, "libcrypt", "libxcrypt")
	want(t, res, "libcrypt-4.1-1.x86_64", "libxcrypt-4.4-1.x86_64")

	// An obsoleted package a dependency names directly is refused when
	// its obsoleter is chosen.
	pkgs = []rpmmd.Package{
		pk("new-2-1.x86_64", "O: old"),
		pk("old-1-1.x86_64"),
		pk("app-1-1.x86_64", "R: old"),
	}
	err := solveErr(t, pkgs, "new", "app")
	if !strings.Contains(err.Error(), "app -> old: old-1-1.x86_64 is obsoleted by new-2-1.x86_64") {
		t.Errorf("error %q does not say old is obsoleted", err)
	}
}

func TestConflicts(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("server-1-1.x86_64", "R: mta", "R: libx"),
		pk("libx-1-1.x86_64"),
		pk("amta-1-1.x86_64", "P: mta", "C: libx < 2"),
		pk("bmta-1-1.x86_64", "P: mta"),
	}
	// amta ranks first (shorter... equal length: name order) but
	// conflicts with the chosen libx: the other provider is taken.
	want(t, solveOK(t, pkgs, "server"), "server-1-1.x86_64", "libx-1-1.x86_64", "bmta-1-1.x86_64")

	// Two roots that conflict: refused, naming both.
	err := solveErr(t, pkgs, "amta", "libx")
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Package != "amta-1-1.x86_64" || ce.Other != "libx-1-1.x86_64" {
		t.Fatalf("error %v, want amta's conflict with libx", err)
	}
	if got := err.Error(); got != "solve: amta-1-1.x86_64 Conflicts libx < 2: libx-1-1.x86_64 is chosen too" {
		t.Errorf("error text %q", got)
	}

	// The only provider conflicts: the failure says so.
	pkgs[3] = pk("bmta-1-1.x86_64", "P: mta", "C: libx")
	err = solveErr(t, pkgs, "server")
	if !strings.Contains(err.Error(), "server -> mta: amta-1-1.x86_64 conflicts with libx < 2, satisfied by libx-1-1.x86_64; bmta-1-1.x86_64 conflicts with libx, satisfied by libx-1-1.x86_64") {
		t.Errorf("error %q does not give the conflict", err)
	}

	// A package may conflict with a name it provides itself.
	want(t, solveOK(t, []rpmmd.Package{pk("self-1-1.x86_64", "P: thing", "C: thing")}, "self"), "self-1-1.x86_64")
}

func TestArchPreference(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("app-1-1.x86_64", "R: glibc", "R: data"),
		pk("glibc-2.34-1.i686"),
		pk("glibc-2.34-1.x86_64"),
		pk("glibc-2.35-1.src"),
		pk("glibc-2.36-1.aarch64"),
		pk("data-1-1.noarch"),
		pk("data-2-1.src"),
	}
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "glibc-2.34-1.x86_64", "data-1-1.noarch")
	// Only the compatible arch: it is taken.
	pkgs[2] = pk("glibc-2.36-1.ppc64le")
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "glibc-2.34-1.i686", "data-1-1.noarch")
	// Asked for by name.arch.
	pkgs[2] = pk("glibc-2.34-1.x86_64")
	want(t, solveOK(t, pkgs, "glibc.i686"), "glibc-2.34-1.i686")
	// Source packages are never chosen.
	solveErr(t, []rpmmd.Package{pk("only-1-1.src")}, "only")
}

func TestProviderChoice(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("app-1-1.x86_64", "R: webserver", "R: ssl"),
		pk("nginx-core-1-1.x86_64", "P: webserver"),
		pk("lighttpd-1-1.x86_64", "P: webserver"),
		pk("httpd-2-1.x86_64", "P: webserver"),
		pk("ssl-1-1.x86_64"),
		pk("openssl-libs-3-1.x86_64", "P: ssl"),
	}
	// Name order among providers, as libsolv: httpd; and openssl-libs
	// over the package named ssl itself (dnf does the same, see the
	// oracle test).
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "httpd-2-1.x86_64", "openssl-libs-3-1.x86_64")
	// A provider already chosen wins.
	want(t, solveOK(t, pkgs, "lighttpd", "ssl", "app"), "app-1-1.x86_64", "lighttpd-1-1.x86_64", "ssl-1-1.x86_64")
	// A requirement with one candidate is taken before a choice, so the
	// choice sees it: x needs b, which also provides pv.
	pkgs = []rpmmd.Package{
		pk("app-1-1.x86_64", "R: pv", "R: x"),
		pk("a-1-1.x86_64", "P: pv"), pk("b-1-1.x86_64", "P: pv"),
		pk("x-1-1.x86_64", "R: b"),
	}
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "b-1-1.x86_64", "x-1-1.x86_64")
	// Per name the highest version, then the highest repository
	// priority and best architecture across names.
	pkgs = []rpmmd.Package{
		pk("app-1-1.x86_64", "R: pv"),
		pk("b-2-1.x86_64", "P: pv"), pk("b-3-1.x86_64", "P: pv"), pk("a-1-1.i686", "P: pv"),
	}
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "b-3-1.x86_64")
}

func TestRepositoryPriority(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("tool-2-1.x86_64", "repo: updates"),
		pk("tool-1-1.x86_64", "repo: base"),
	}
	ix, err := NewIndex(context.Background(), pkgs, IndexOptions{Arch: "x86_64", Repositories: []string{"base", "updates"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ix.Solve(context.Background(), []string{"tool"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, res, "tool-1-1.x86_64")
	// Equal priorities: the higher version.
	want(t, solveOK(t, pkgs, "tool"), "tool-2-1.x86_64")
}

func TestRichOr(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("app-1-1.x86_64", "R: (zenchant >= 2 or enchant)"),
		pk("enchant-1-1.x86_64"),
		pk("zenchant-1.5-1.x86_64"),
	}
	// zenchant is too old: the second alternative.
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "enchant-1-1.x86_64")
	// Both fit: as libsolv, the alternatives' providers are ranked
	// together, by name, not in written order.
	pkgs[2] = pk("zenchant-2.2-1.x86_64")
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "enchant-1-1.x86_64")
	// A chosen provider of any alternative satisfies it.
	want(t, solveOK(t, pkgs, "zenchant", "app"), "app-1-1.x86_64", "zenchant-2.2-1.x86_64")
	// An alternative whose own dependencies fail is backtracked over.
	pkgs[1] = pk("enchant-1-1.x86_64", "R: missing")
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "zenchant-2.2-1.x86_64")
	// Both fail: the error names the first failure's chain.
	pkgs[2] = pk("zenchant-2.2-1.x86_64", "R: gone")
	err := solveErr(t, pkgs, "app")
	if err.Error() != "solve: app -> enchant -> missing: nothing provides it" {
		t.Errorf("error %q", err)
	}
}

func TestRichAnd(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("app-1-1.x86_64", "R: (a and (b or c))"),
		pk("a-1-1.x86_64"), pk("c-1-1.x86_64"),
	}
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "a-1-1.x86_64", "c-1-1.x86_64")
	err := solveErr(t, pkgs[:2], "app")
	if !strings.Contains(err.Error(), "solve: app -> ") {
		t.Errorf("error %q does not start the chain at app", err)
	}
}

func TestRichIf(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("usbguard-1-1.x86_64", "R: (usbguard-selinux if selinux-policy-targeted)"),
		pk("usbguard-selinux-1-1.noarch"),
		pk("selinux-policy-targeted-1-1.noarch"),
		pk("policy-user-1-1.x86_64", "R: selinux-policy-targeted"),
	}
	// Without the condition: nothing more.
	want(t, solveOK(t, pkgs, "usbguard"), "usbguard-1-1.x86_64")
	// The condition chosen later (by another root's dependency): the
	// fixpoint pass adds the consequence.
	want(t, solveOK(t, pkgs, "usbguard", "policy-user"),
		"usbguard-1-1.x86_64", "usbguard-selinux-1-1.noarch", "selinux-policy-targeted-1-1.noarch", "policy-user-1-1.x86_64")
	// if ... else
	pkgs = []rpmmd.Package{
		pk("app-1-1.x86_64", "R: (backend-maria if mariadb else backend-sqlite)"),
		pk("backend-maria-1-1.x86_64"), pk("backend-sqlite-1-1.x86_64"), pk("mariadb-1-1.x86_64"),
	}
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "backend-sqlite-1-1.x86_64")
	want(t, solveOK(t, pkgs, "mariadb", "app"), "app-1-1.x86_64", "backend-maria-1-1.x86_64", "mariadb-1-1.x86_64")
}

func TestRichUnless(t *testing.T) {
	// libsolv's meaning: (A unless B) is A and not B; with else C it is
	// (A and not B) or (C and B).
	pkgs := []rpmmd.Package{
		pk("app-1-1.x86_64", "R: (sdl-backend unless gl-backend else gl-glue)"),
		pk("sdl-backend-1-1.x86_64"), pk("gl-backend-1-1.x86_64"), pk("gl-glue-1-1.x86_64"),
		pk("plain-1-1.x86_64", "R: (sdl-backend unless gl-backend)"),
		pk("wants-gl-1-1.x86_64", "R: gl-backend"),
	}
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "sdl-backend-1-1.x86_64")
	want(t, solveOK(t, pkgs, "gl-backend", "app"), "app-1-1.x86_64", "gl-backend-1-1.x86_64", "gl-glue-1-1.x86_64")
	// Without else, B chosen makes it unsatisfiable.
	err := solveErr(t, pkgs, "gl-backend", "plain")
	if err.Error() != "solve: plain -> (sdl-backend unless gl-backend): gl-backend-1-1.x86_64 is chosen" {
		t.Errorf("error %q, want one naming gl-backend", err)
	}
	// And a later dependency on B is refused while the unless holds.
	err = solveErr(t, pkgs, "plain", "wants-gl")
	if !strings.Contains(err.Error(), "would break plain-1-1.x86_64's Requires (sdl-backend unless gl-backend)") {
		t.Errorf("error %q does not name the unless it breaks", err)
	}
}

func TestRichWithWithout(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("app-1-1.x86_64", "R: ((pysocks < 1.5.7 or pysocks > 1.5.7) with pysocks >= 1.5.6)"),
		pk("py-a-1-1.noarch", "P: pysocks = 1.5.7"),
		pk("py-b-1-1.noarch", "P: pysocks = 1.5.8"),
		pk("py-c-1-1.noarch", "P: pysocks = 1.5.5"),
	}
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "py-b-1-1.noarch")

	pkgs = []rpmmd.Package{
		pk("app-1-1.x86_64", "R: (foo-impl without foo-debug)"),
		pk("afoo-1-1.x86_64", "P: foo-impl", "P: foo-debug"),
		pk("bfoo-1-1.x86_64", "P: foo-impl"),
	}
	want(t, solveOK(t, pkgs, "app"), "app-1-1.x86_64", "bfoo-1-1.x86_64")
	err := solveErr(t, pkgs[:2], "app")
	if !strings.Contains(err.Error(), "app -> (foo-impl without foo-debug)") {
		t.Errorf("error %q does not name the rich dependency", err)
	}
}

func TestFailureChain(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("httpd-2.4-1.x86_64", "R: httpd-core = 2.4-1"),
		pk("httpd-core-2.4-1.x86_64", "R: libapr-1.so.0()(64bit)"),
		pk("apr-1.7-1.x86_64", "R: libc.so.6(GLIBC_2.34)(64bit)", "P: libapr-1.so.0()(64bit)"),
	}
	err := solveErr(t, pkgs, "httpd")
	want := "solve: httpd -> httpd-core -> apr -> libc.so.6(GLIBC_2.34)(64bit): nothing provides it"
	if err.Error() != want {
		t.Errorf("error\n %s\nwant\n %s", err, want)
	}
	var ue *UnmetError
	if !errors.As(err, &ue) || !slices.Equal(ue.Chain, []string{"httpd", "httpd-core", "apr"}) {
		t.Errorf("chain %v", ue)
	}
	err = solveErr(t, pkgs, "nosuch")
	if err.Error() != "solve: nosuch: nothing provides it" {
		t.Errorf("error %q", err)
	}
}

func TestExclude(t *testing.T) {
	pkgs := []rpmmd.Package{pk("app-1-1.x86_64", "R: mta"), pk("amta-1-1.x86_64", "P: mta"), pk("bmta-1-1.x86_64", "P: mta")}
	ix, err := NewIndex(context.Background(), pkgs, IndexOptions{Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ix.Solve(context.Background(), []string{"app"}, Options{Exclude: []string{"amta"}})
	if err != nil {
		t.Fatal(err)
	}
	want(t, res, "app-1-1.x86_64", "bmta-1-1.x86_64")
	_, err = ix.Solve(context.Background(), []string{"app"}, Options{Exclude: []string{"amta", "bmta"}})
	if err == nil || !strings.Contains(err.Error(), "app -> mta: amta-1-1.x86_64 is excluded; bmta-1-1.x86_64 is excluded") {
		t.Errorf("error %v", err)
	}
}

func TestInstallOrder(t *testing.T) {
	pkgs := []rpmmd.Package{
		pk("app-1-1.x86_64", "R: lib", "Rpre: shadow"),
		pk("lib-1-1.x86_64", "R: filesystem"),
		pk("filesystem-1-1.x86_64", "Rpre: setup"),
		pk("setup-1-1.noarch", "R: filesystem"), // a loop: setup <-> filesystem
		pk("shadow-1-1.x86_64", "R: lib"),
	}
	res := solveOK(t, pkgs, "app")
	pos := map[string]int{}
	for i, k := range res.Order {
		pos[k] = i
	}
	if len(pos) != 5 {
		t.Fatalf("order %v", res.Order)
	}
	before := func(a, b string) {
		if pos[a] > pos[b] {
			t.Errorf("order %v: %s after %s", res.Order, a, b)
		}
	}
	before("setup.noarch", "filesystem.x86_64") // the pre edge of the loop is kept
	before("filesystem.x86_64", "lib.x86_64")
	before("lib.x86_64", "shadow.x86_64")
	before("shadow.x86_64", "app.x86_64")
	// Deterministic.
	for range 5 {
		if again := solveOK(t, pkgs, "app"); !slices.Equal(again.Order, res.Order) {
			t.Fatalf("order %v then %v", res.Order, again.Order)
		}
	}
}
