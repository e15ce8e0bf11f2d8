package metadata

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func loadChild(t *testing.T) *Template {
	t.Helper()
	l := &Loader{Sources: []Source{DirSource("testdata/good")}}
	tp, err := l.Load(context.Background(), "child")
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func TestInheritance(t *testing.T) {
	tp := loadChild(t)
	if tp.Distro != "demo" || tp.Release != "12" || tp.Variant != "minimal" {
		t.Errorf("scalars: %q %q %q", tp.Distro, tp.Release, tp.Variant)
	}
	if !reflect.DeepEqual(tp.Arch, []string{"arm64", "amd64"}) {
		t.Errorf("arch !replace: %v", tp.Arch)
	}
	if !reflect.DeepEqual(tp.Packages.Include, []string{"less", "vim-tiny", "curl"}) {
		t.Errorf("include should append: %v", tp.Packages.Include)
	}
	if len(tp.Packages.Exclude) != 0 {
		t.Errorf("exclude: !replace [] should empty it: %v", tp.Packages.Exclude)
	}
	var names []string
	for _, r := range tp.Repositories {
		names = append(names, r.Name)
	}
	if !reflect.DeepEqual(names, []string{"main", "updates", "extra"}) {
		t.Errorf("repositories: %v (child's updates replaces the parent's in place, extra appended)", names)
	}
	if tp.Repositories[1].URL != "$security_mirror" || !tp.Repositories[2].Insecure {
		t.Errorf("repositories merged wrong: %+v", tp.Repositories)
	}
	if tp.Variables["codename"] != "trixie" || tp.Variables["suite"] != "${codename}-updates" {
		t.Errorf("variables: %v", tp.Variables)
	}
	if tp.Scripts[PostInstall].Body != "echo child" || !strings.Contains(tp.Scripts[PreCache].Body, "rm -rf /var/cache/apt") {
		t.Errorf("scripts: %+v", tp.Scripts)
	}
	if !strings.HasSuffix(tp.Scripts[PreCache].File, "testdata/good/scripts/clean.sh") {
		t.Errorf("script file: %q", tp.Scripts[PreCache].File)
	}
	if tp.Defaults["HOSTNAME"] != "ct" || tp.Defaults["DISKSPACE"] != "2G:2.2G" {
		t.Errorf("defaults: %v", tp.Defaults)
	}
	if tp.Cache.ZstdLevel != 3 || tp.Cache.Name != "{distro}-{release}-{arch}-{variant}" {
		t.Errorf("cache: %+v", tp.Cache)
	}
	if k := tp.Keys[0]; k.Fingerprint != "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8" || k.Package != "demo-keyring" || k.FS != nil {
		t.Errorf("key: %+v", k)
	}
	if len(tp.Chain) != 2 || !strings.HasSuffix(tp.Chain[1], "parent.yaml") {
		t.Errorf("chain: %v", tp.Chain)
	}
	// Positions point into the file that wrote each value.
	for key, want := range map[string]string{
		"release":             "child.yaml:2:10",
		"repositories[0].url": "parent.yaml:14:10",
		"repositories[1].url": "child.yaml:10:10",
		"packages.include[2]": "child.yaml:20:13",
		"defaults.DISKSPACE":  "parent.yaml:31:14",
		"keys[0].fingerprint": "parent.yaml:10:18",
		"arch":                "child.yaml:4:7",
		"arch[0]":             "child.yaml:4:17",
		"arch[1]":             "child.yaml:4:24",
		"variables.codename":  "child.yaml:6:13",
	} {
		p, ok := tp.Pos[key]
		if !ok || !strings.HasSuffix(p.String(), want) {
			t.Errorf("Pos[%s] = %v, want …%s", key, p, want)
		}
	}
}

func TestExpand(t *testing.T) {
	tp := loadChild(t)
	if got := tp.Referenced(); !reflect.DeepEqual(got, []string{"mirror", "security_mirror"}) {
		t.Errorf("Referenced: %v", got)
	}
	x, err := tp.Expand(map[string]string{"mirror": "http://m.example.org/debian", "security_mirror": "http://s.example.org/debian-security", "arch": "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	r := x.Repositories
	if r[0].URL != "http://m.example.org/debian" || r[0].Suites[0] != "trixie" {
		t.Errorf("main: %+v", r[0])
	}
	if r[1].URL != "http://s.example.org/debian-security" || r[1].Suites[0] != "trixie-security" ||
		!reflect.DeepEqual(r[1].Mirrors, []string{"http://m.example.org/debian-mirror2", "http://example.org/price$"}) {
		t.Errorf("updates (${mirror}, $$): %+v", r[1])
	}
	if x.Variables["suite"] != "trixie-updates" {
		t.Errorf("variable using a variable: %q", x.Variables["suite"])
	}
	if x.Defaults["HOSTNAME"] != "ct" || x.Cache.Name != "demo-12-amd64-minimal" || !reflect.DeepEqual(x.Arch, []string{"amd64"}) {
		t.Errorf("defaults/cache/arch: %v %q %v", x.Defaults, x.Cache.Name, x.Arch)
	}
	if tp.Repositories[0].URL != "$mirror" {
		t.Error("Expand changed the template it was called on")
	}
	// The default architecture is the first listed.
	if x, err := tp.Expand(map[string]string{"mirror": "http://m", "security_mirror": "http://s"}); err != nil || x.Arch[0] != "arm64" {
		t.Errorf("default arch: %v %v", x, err)
	}
	_, err = tp.Expand(map[string]string{"mirror": "http://m"})
	if err == nil || !strings.Contains(err.Error(), "child.yaml:10:10: repositories[1].url: variable $security_mirror has no value") {
		t.Errorf("missing security_mirror: %v", err)
	}
	if _, err := tp.Expand(map[string]string{"mirror": "m", "security_mirror": "s", "arch": "s390x"}); err == nil || !strings.Contains(err.Error(), `"s390x" is not one of arm64, amd64`) {
		t.Errorf("bad arch: %v", err)
	}
	if _, err := tp.Expand(map[string]string{"mirorr": "m"}); err == nil || !strings.Contains(err.Error(), "$mirorr") {
		t.Errorf("unknown value: %v", err)
	}
}

func TestBasearch(t *testing.T) {
	fsys := fstest.MapFS{"t/rpm.yaml": {Data: []byte(`
distro: fedora
release: "42"
variant: minimal
arch: [x86_64, aarch64]
repositories:
  - name: fedora
    type: rpm-md
    url: https://example.org/releases/$releasever/$basearch/os/
    insecure: true
packages: {variant: "@core"}
`)}}
	l := &Loader{Sources: []Source{{Name: "mem", FS: fsys, Dir: "t"}}}
	tp, err := l.Load(context.Background(), "rpm")
	if err != nil {
		t.Fatal(err)
	}
	if len(tp.Referenced()) != 0 {
		t.Errorf("Referenced: %v", tp.Referenced())
	}
	x, err := tp.Expand(map[string]string{"arch": "aarch64"})
	if err != nil {
		t.Fatal(err)
	}
	if x.Repositories[0].URL != "https://example.org/releases/42/aarch64/os/" {
		t.Errorf("url: %s", x.Repositories[0].URL)
	}
}

func TestLoadErrors(t *testing.T) {
	l := &Loader{Sources: []Source{DirSource("testdata/good"), DirSource("testdata/lint")}}
	ctx := context.Background()
	if _, err := l.Load(ctx, "parent"); !errors.Is(err, ErrAbstract) {
		t.Errorf("abstract: %v", err)
	}
	if _, err := l.Load(ctx, "nope"); err == nil || !strings.Contains(err.Error(), `template "nope" not found in testdata/good, testdata/lint`) {
		t.Errorf("not found: %v", err)
	}
	_, err := l.Load(ctx, "05-bad-fingerprint")
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("want the 2 problems as Problems, got %v", err)
	}
	if _, err := l.LoadFile(ctx, "testdata/good/child.yaml"); err != nil {
		t.Errorf("LoadFile: %v", err)
	}
}

// TestOverrideByName: a template extending its own name builds on the one
// further down the lookup order instead of being a cycle.
func TestOverrideByName(t *testing.T) {
	l := &Loader{Sources: []Source{DirSource("testdata/override"), DirSource("../distros/templates")}}
	tp, err := l.Load(context.Background(), "debian-12-minimal")
	if err != nil {
		t.Fatal(err)
	}
	if tp.Packages.Variant != "minbase" || !reflect.DeepEqual(tp.Packages.Include, []string{"less"}) || tp.Variables["codename"] != "bookworm" {
		t.Errorf("override: %+v %v", tp.Packages, tp.Variables)
	}
	if len(tp.Chain) != 3 || !strings.HasPrefix(tp.Chain[0], "testdata/override/") || !strings.HasSuffix(tp.Chain[2], "debian-base.yaml") {
		t.Errorf("chain: %v", tp.Chain)
	}
	// Alone, the override has nothing below it to extend.
	only := &Loader{Sources: []Source{DirSource("testdata/override")}}
	if _, err := only.Load(context.Background(), "debian-12-minimal"); err == nil || !strings.Contains(err.Error(), `extends: template "debian-12-minimal" not found`) {
		t.Errorf("override without base: %v", err)
	}
}

// TestMetalink: an rpm-md repository may be given by a metalink alone,
// expanded like url; an apt one may not have one.
func TestMetalink(t *testing.T) {
	fsys := fstest.MapFS{
		"t/rpm.yaml": {Data: []byte(`
distro: fedora
release: "42"
variant: minimal
arch: [x86_64]
repositories:
  - name: fedora
    type: rpm-md
    metalink: https://example.org/metalink?repo=fedora-$releasever&arch=$basearch
    insecure: true
packages: {variant: "@core"}
`)},
		"t/apt.yaml": {Data: []byte(`
distro: debian
release: "12"
variant: minbase
arch: [amd64]
repositories:
  - name: main
    type: apt
    url: http://example.org/debian
    metalink: https://example.org/metalink
    suites: [bookworm]
    components: [main]
    insecure: true
packages: {variant: minbase}
`)}}
	l := &Loader{Sources: []Source{{Name: "mem", FS: fsys, Dir: "t"}}}
	tp, err := l.Load(context.Background(), "rpm")
	if err != nil {
		t.Fatal(err)
	}
	x, err := tp.Expand(map[string]string{"arch": "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	if got := x.Repositories[0].Metalink; got != "https://example.org/metalink?repo=fedora-42&arch=x86_64" {
		t.Errorf("metalink: %s", got)
	}
	if _, err := l.Load(context.Background(), "apt"); err == nil || !strings.Contains(err.Error(), "repositories[0].metalink: only rpm-md repositories have one") {
		t.Errorf("apt with a metalink: %v", err)
	}
}
