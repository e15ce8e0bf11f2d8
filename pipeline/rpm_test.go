package pipeline

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/metadata"
	"github.com/vzkit/vzkit/repo"
	"github.com/vzkit/vzkit/repo/fetch"
	"github.com/vzkit/vzkit/repo/rpmmd"
	"github.com/vzkit/vzkit/repo/rpmmd/rpmmdtest"
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

// A file dependency of one repository met only by a file of another, which
// that repository's own dependencies never name (so its filelists.xml
// entry is kept only because the pipeline reads every primary first):
// vzkit-tools in "base" requires /usr/share/vzkit/daemon.conf, shipped by
// vzkit-daemon in "extra". Each repository is signed by its own key.
func TestRPMFileDependencyAcrossRepositories(t *testing.T) {
	for _, tool := range []string{"rpmbuild", "rpmsign", "createrepo_c", "gpg", "busybox"} {
		testenv.NeedTool(t, tool, map[string]string{"rpmbuild": "rpm", "rpmsign": "rpm", "createrepo_c": "createrepo-c", "gpg": "gpg", "busybox": "busybox-static"}[tool])
	}
	var base, extra []rpmmdtest.RPM
	for _, p := range rpmmdtest.Distribution(t) {
		if p.Name == "vzkit-daemon" {
			extra = append(extra, p)
		} else {
			base = append(base, p)
		}
	}
	rb := rpmmdtest.Build(t, base, rpmmdtest.Options{})
	re := rpmmdtest.Build(t, extra, rpmmdtest.Options{})
	tmpl := &metadata.Template{Name: "t", Arch: []string{"x86_64"},
		Keys: []metadata.Key{{Armored: string(rb.Key), Fingerprint: rb.Fingerprint}, {Armored: string(re.Key), Fingerprint: re.Fingerprint}},
		Repositories: []metadata.Repository{
			{Name: "base", Type: metadata.TypeRPMMD, URL: "file://" + rb.Root + "/"},
			{Name: "extra", Type: metadata.TypeRPMMD, URL: "file://" + re.Root + "/"},
		},
		Packages: metadata.Packages{Include: []string{"vzkit-tools"}},
	}
	p, err := New(Config{Template: tmpl, Client: fetch.New(fetch.Options{}), IndexCache: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.LoadIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ix := range p.Indexes() {
		if !ix.Signed || len(ix.Signers) != 1 {
			t.Errorf("repository %s: signed %v by %v", ix.Repository, ix.Signed, ix.Signers)
		}
	}
	if err := p.Solve(ctx); err != nil {
		t.Fatal(err)
	}
	from := map[string]string{}
	for _, pkg := range p.Solution().Packages {
		from[pkg.Name] = pkg.Repository
	}
	if from["vzkit-daemon"] != "extra" || from["vzkit-tools"] != "base" {
		t.Errorf("solved %v: want vzkit-tools from base and vzkit-daemon from extra", from)
	}
}
