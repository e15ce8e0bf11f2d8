package pipeline

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/metadata"
	"github.com/vzkit/vzkit/repo"
	"github.com/vzkit/vzkit/repo/rpmmd"
)

// rpmPkg is a test package; deps are "requires" names, "provides:x" and
// "file:/path" entries.
func rpmPkg(name, epoch, version string, deps ...string) rpmmd.Package {
	p := rpmmd.Package{Name: name, Arch: "x86_64", EVR: rpmmd.EVR{Epoch: epoch, Version: version, Release: "1"},
		Location: "Packages/" + name + ".rpm", Size: 1,
		Checksum:   rpmmd.Checksum{Type: "sha256", Value: fmt.Sprintf("%x", sha256.Sum256([]byte(name+epoch+version)))},
		Repository: "base"}
	for _, d := range deps {
		switch {
		case strings.HasPrefix(d, "provides:"):
			p.Provides = append(p.Provides, rpmmd.Dep{Name: strings.TrimPrefix(d, "provides:")})
		case strings.HasPrefix(d, "file:"):
			p.Files = append(p.Files, strings.TrimPrefix(d, "file:"))
		default:
			p.Requires = append(p.Requires, rpmmd.Dep{Name: d})
		}
	}
	return p
}

const testComps = `<comps>
  <group><id>core</id><name>Core</name><packagelist>
    <packagereq type="mandatory">rpm</packagereq>
    <packagereq type="default">tools</packagereq>
    <packagereq type="conditional" requires="busybox">busybox-doc</packagereq>
    <packagereq type="conditional" requires="toybox">toybox-doc</packagereq>
  </packagelist></group>
</comps>`

// The RPM back end solves the template's group (its conditional
// packagereqs included when the package they name is chosen) and its
// includes, gives RPM versions as [epoch:]version-release, marks what
// only dependencies pulled in, and the closure it extracts before rpm runs
// is the package shipping /usr/bin/rpm and its Requires, in install order.
func TestRPMBackendSolveAndClosure(t *testing.T) {
	pkgs := []rpmmd.Package{
		rpmPkg("glibc", "", "2.36", "provides:libc.so.6()(64bit)"),
		rpmPkg("rpm-libs", "", "4.18", "libc.so.6()(64bit)"),
		rpmPkg("busybox", "", "1.35", "file:/bin/sh"),
		rpmPkg("rpm", "", "4.18", "file:/usr/bin/rpm", "rpm-libs", "(busybox or toybox)"),
		rpmPkg("tools", "", "1.0", "/bin/sh", "daemon"),
		rpmPkg("daemon", "", "1.0"),
		rpmPkg("busybox-doc", "", "1.35"),
		rpmPkg("toybox-doc", "", "0.8"),
		rpmPkg("clock", "", "10.0"),
		rpmPkg("clock", "2", "1.0"),
	}
	comps, err := rpmmd.ParseComps(strings.NewReader(testComps), "comps.xml")
	if err != nil {
		t.Fatal(err)
	}
	b := &rpmBackend{
		tmpl:    &metadata.Template{Name: "t", Packages: metadata.Packages{Variant: "@core", Include: []string{"clock"}}},
		arch:    "x86_64",
		indexes: []*rpmmd.Index{{Packages: pkgs, Comps: comps, Mirrors: []string{"http://mirror.example/"}}},
		repos:   []metadata.Repository{{Name: "base", Type: metadata.TypeRPMMD}},
	}
	s, err := b.Solve(context.Background(), SolveRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]repo.Package{}
	for _, p := range s.Packages {
		got[p.Name] = p
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"busybox", "busybox-doc", "clock", "daemon", "glibc", "rpm", "rpm-libs", "tools"}
	if !slices.Equal(names, want) {
		t.Errorf("solved %v, want %v (busybox-doc by its condition, not toybox-doc)", names, want)
	}
	if c := got["clock"]; c.Version != "2:1.0-1" || c.Format != repo.FormatRPM || c.BaseURLs[0] != "http://mirror.example/" || c.Location != "Packages/clock.rpm" {
		t.Errorf("clock: %+v", c)
	}
	slices.Sort(s.Auto)
	if wantAuto := []string{"busybox", "daemon", "glibc", "rpm-libs"}; !slices.Equal(s.Auto, wantAuto) {
		t.Errorf("auto %v, want %v", s.Auto, wantAuto)
	}
	if len(s.Stages) != 1 || len(s.Stages[0]) != len(want) {
		t.Fatalf("stages %v", s.Stages)
	}
	closure, err := rpmClosure(b.result)
	if err != nil {
		t.Fatal(err)
	}
	var inOrder []string
	for _, n := range s.Stages[0] {
		if slices.Contains([]string{"glibc", "rpm-libs", "busybox", "rpm"}, n) {
			inOrder = append(inOrder, n+".x86_64")
		}
	}
	if !slices.Equal(closure, inOrder) {
		t.Errorf("closure %v, want rpm's requires closure in install order %v", closure, inOrder)
	}
	if _, err := b.Solve(context.Background(), SolveRequest{Installed: map[string]Installed{}}); err != ErrRPMUpdate {
		t.Errorf("update: %v, want ErrRPMUpdate", err)
	}
}
