package solve

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/repo/rpmmd"
)

// baseOSCapabilities maps capabilities AppStream packages need and
// CentOS Stream 9's BaseOS provides to the BaseOS package providing them.
var baseOSCapabilities = map[string]string{
	"/bin/sh":                     "bash",
	"/usr/bin/sh":                 "bash",
	"/bin/bash":                   "bash",
	"/usr/bin/bash":               "bash",
	"rtld(GNU_HASH)":              "glibc",
	"libc.so.6":                   "glibc",
	"libm.so.6":                   "glibc",
	"libcrypt.so.2":               "libxcrypt",
	"libsystemd.so.0":             "systemd-libs",
	"systemd-units":               "systemd",
	"systemd":                     "systemd",
	"libz.so.1":                   "zlib",
	"libselinux.so.1":             "libselinux",
	"libcrypto.so.3":              "openssl-libs",
	"libssl.so.3":                 "openssl-libs",
	"libgcc_s.so.1":               "libgcc",
	"libstdc++.so.6":              "libstdc++",
	"libpcre2-8.so.0":             "pcre2",
	"libglib-2.0.so.0":            "glib2",
	"coreutils":                   "coreutils",
	"glibc":                       "glibc",
	"shadow-utils":                "shadow-utils",
	"/usr/sbin/useradd":           "shadow-utils",
	"/usr/bin/systemctl":          "systemd",
	"python3":                     "python3",
	"python(abi)":                 "python3",
	"libpython3.9.so.1.0":         "python3-libs",
	"libtinfo.so.6":               "ncurses-libs",
	"libacl.so.1":                 "libacl",
	"libattr.so.1":                "libattr",
	"liblzma.so.5":                "xz-libs",
	"libbz2.so.1":                 "bzip2-libs",
	"libcap.so.2":                 "libcap",
	"libuuid.so.1":                "libuuid",
	"libblkid.so.1":               "libblkid",
	"libmount.so.1":               "libmount",
	"libffi.so.8":                 "libffi",
	"libexpat.so.1":               "expat",
	"libxml2.so.2":                "libxml2",
	"libcurl.so.4":                "libcurl",
	"libbrotlienc.so.1":           "brotli",
	"libgcrypt.so.20":             "libgcrypt",
	"libgpg-error.so.0":           "libgpg-error",
	"libzstd.so.1":                "libzstd",
	"liblz4.so.1":                 "lz4-libs",
	"libpam.so.0":                 "pam",
	"libaudit.so.1":               "audit-libs",
	"libdbus-1.so.3":              "dbus-libs",
	"libreadline.so.8":            "readline",
	"libncursesw.so.6":            "ncurses-libs",
	"libkrb5.so.3":                "krb5-libs",
	"libgssapi_krb5.so.2":         "krb5-libs",
	"libcom_err.so.2":             "libcom_err",
	"libk5crypto.so.3":            "krb5-libs",
	"libsqlite3.so.0":             "sqlite-libs",
	"libnghttp2.so.14":            "libnghttp2",
	"perl(:MODULE_COMPAT_5.32.1)": "perl-libs",
	"NetworkManager":              "NetworkManager",
}

// baseOSPackage returns the BaseOS package known to provide dependency d
// (a soname keeps its version suffixes: "libc.so.6(GLIBC_2.34)(64bit)").
func baseOSPackage(d string) string {
	d, _, _ = strings.Cut(d, " ")
	if p, ok := baseOSCapabilities[d]; ok {
		return p
	}
	if i := strings.IndexByte(d, '('); i > 0 {
		return baseOSCapabilities[d[:i]]
	}
	return ""
}

func appstreamIndex(tb testing.TB, extra ...rpmmd.Package) *Index {
	tb.Helper()
	pkgs := appstreamPackages(tb)
	if len(extra) > 0 {
		pkgs = append(slices.Clip(pkgs), extra...)
	}
	ix, err := NewIndex(context.Background(), pkgs, IndexOptions{Arch: "x86_64"})
	if err != nil {
		tb.Fatal(err)
	}
	return ix
}

// TestAppStreamAlone solves real roots against CentOS Stream 9 AppStream
// without BaseOS: packages that need nothing outside AppStream are
// chosen, the others fail naming the chain down to a capability a BaseOS
// package provides.
func TestAppStreamAlone(t *testing.T) {
	ix := appstreamIndex(t)
	if ix.Len() < 17000 {
		t.Fatalf("index has %d packages", ix.Len())
	}
	for root, want := range map[string][]string{
		"tzdata-java":             {"tzdata-java"},
		"javapackages-filesystem": {"javapackages-filesystem"},
		"emacs-filesystem":        {"emacs-filesystem"},
	} {
		res, err := ix.Solve(context.Background(), []string{root}, Options{})
		if err != nil {
			t.Errorf("%s: %v", root, err)
			continue
		}
		if !slices.Equal(res.Names(), want) {
			t.Errorf("%s: chose %v, want %v", root, res.Names(), want)
		}
	}
	for _, root := range []string{"httpd", "git", "vim-enhanced", "python3.11", "mariadb-server", "perl-Carp", "usbguard", "NetworkManager-libreswan"} {
		_, err := ix.Solve(context.Background(), []string{root}, Options{})
		var ue *UnmetError
		if !errors.As(err, &ue) {
			t.Errorf("%s: error %v, want an unmet dependency", root, err)
			continue
		}
		if len(ue.Chain) == 0 || ue.Chain[0] != root {
			t.Errorf("%s: chain %v does not start at the root", root, ue.Chain)
		}
		if baseOSPackage(ue.Dependency) == "" {
			t.Errorf("%s: %v: not a capability BaseOS is known to provide", root, err)
			continue
		}
		t.Logf("%v (BaseOS: %s)", err, baseOSPackage(ue.Dependency))
	}
	// glibc itself is not in AppStream.
	_, err := ix.Solve(context.Background(), []string{"glibc"}, Options{})
	if err == nil || err.Error() != "solve: glibc: nothing provides it" {
		t.Errorf("glibc: %v", err)
	}
}

// standIn is one package that provides what BaseOS gives AppStream:
// every atom of an AppStream package's Requires (conditions of if and
// unless left out, so they stay false) that no AppStream package
// satisfies. A versioned requirement gets a provide at the version asked
// for (just above it for >); an unversioned one a provide at 999 rather
// (epoch 999) rather than no version, which every versioned Conflicts
// would hit.
func standIn(tb testing.TB, pkgs []rpmmd.Package) rpmmd.Package {
	ix, err := NewIndex(context.Background(), pkgs, IndexOptions{Arch: "x86_64"})
	if err != nil {
		tb.Fatal(err)
	}
	type prov struct {
		name string
		evr  rpmmd.EVR
	}
	need := map[prov]bool{}
	var walk func(e *Expr)
	walk = func(e *Expr) {
		if e.Op == OpAtom {
			if builtin(e) || len(ix.providers(e)) > 0 {
				return
			}
			v := prov{name: e.Name, evr: e.EVR}
			switch e.Cmp {
			case rpmmd.OpAny, rpmmd.OpLT:
				v.evr = rpmmd.EVR{Epoch: "999", Version: "999"}
			case rpmmd.OpGT:
				if v.evr.Release != "" {
					v.evr.Release += ".1"
				} else {
					v.evr.Version += ".1"
				}
			}
			need[v] = true
			return
		}
		for i, a := range e.Args {
			if i == 1 && (e.Op == OpIf || e.Op == OpUnless) {
				continue
			}
			walk(a)
		}
	}
	for _, p := range ix.pkgs {
		if err := p.deps(); err != nil {
			continue
		}
		for _, r := range p.requires {
			walk(r.e)
		}
	}
	list := make([]prov, 0, len(need))
	for v := range need {
		list = append(list, v)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].name != list[j].name {
			return list[i].name < list[j].name
		}
		return CompareEVR(list[i].evr, list[j].evr) < 0
	})
	s := rpmmd.Package{Name: "baseos-standin", Arch: "x86_64", EVR: rpmmd.EVR{Epoch: "0", Version: "9", Release: "1"}, Repository: "standin"}
	for _, v := range list {
		if strings.HasPrefix(v.name, "/") {
			// rpm allows no versioned path provides: the stand-in
			// owns the file.
			if !slices.Contains(s.Files, v.name) {
				s.Files = append(s.Files, v.name)
			}
			continue
		}
		s.Provides = append(s.Provides, rpmmd.Dep{Name: v.name, Op: rpmmd.OpEQ, EVR: v.evr})
	}
	return s
}

// realRoots are AppStream packages a template or a user would install.
var realRoots = []string{
	"httpd", "nginx", "git", "vim-enhanced", "python3.11", "mariadb-server", "postgresql-server",
	"php", "nodejs", "tmux", "usbguard", "NetworkManager-libreswan", "podman", "perl-DBI", "ruby",
}

// checkSolution verifies a result without the solver's search: every
// Requires of a chosen package holds over the chosen set, no Conflicts
// hits another chosen package, no chosen package obsoletes another, and
// the order has every package once.
func checkSolution(t *testing.T, ix *Index, res *Result) {
	t.Helper()
	s := &state{ix: ix, sel: map[*pkg]bool{}}
	byKey := map[string]*pkg{}
	for _, p := range ix.pkgs {
		byKey[p.key()+"-"+EVRString(p.p.EVR)] = p
	}
	var chosen []*pkg
	for i := range res.Packages {
		p := byKey[Key(&res.Packages[i])+"-"+EVRString(res.Packages[i].EVR)]
		if p == nil {
			t.Fatalf("chosen %s is not in the index", Key(&res.Packages[i]))
		}
		s.sel[p] = true
		chosen = append(chosen, p)
	}
	for _, p := range chosen {
		if err := p.deps(); err != nil {
			t.Fatal(err)
		}
		for _, r := range p.requires {
			if !s.eval(r.e, nil) {
				t.Errorf("%s Requires %s: not met by the chosen set", p.nevra(), r.e)
			}
		}
		for _, e := range p.conflicts {
			if s.evalSkip(e, nil, p) {
				t.Errorf("%s Conflicts %s: met by the chosen set", p.nevra(), e)
			}
		}
		for _, q := range chosen {
			if obsoletes(p, q) {
				t.Errorf("%s obsoletes the chosen %s", p.nevra(), q.nevra())
			}
		}
	}
	if len(res.Order) != len(res.Packages) {
		t.Errorf("order has %d entries for %d packages", len(res.Order), len(res.Packages))
	}
	seen := map[string]bool{}
	for _, k := range res.Order {
		if seen[k] {
			t.Errorf("%s twice in the order", k)
		}
		seen[k] = true
	}
}

// TestAppStreamWithStandIn solves real roots over AppStream with the
// stand-in for BaseOS and checks each result on its own terms.
func TestAppStreamWithStandIn(t *testing.T) {
	pkgs := appstreamPackages(t)
	si := standIn(t, pkgs)
	if len(si.Provides) < 100 {
		t.Fatalf("stand-in provides only %d capabilities", len(si.Provides))
	}
	for _, d := range []string{"/bin/sh", "libc.so.6(GLIBC_2.34)(64bit)", "rtld(GNU_HASH)"} {
		if !slices.Contains(si.Files, d) && !slices.ContainsFunc(si.Provides, func(x rpmmd.Dep) bool { return x.Name == d }) {
			t.Errorf("stand-in does not provide %s", d)
		}
	}
	ix := appstreamIndex(t, si)
	for _, root := range realRoots {
		res, err := ix.Solve(context.Background(), []string{root}, Options{})
		if err != nil {
			t.Errorf("%s: %v", root, err)
			continue
		}
		checkSolution(t, ix, res)
		t.Logf("%s: %d packages", root, len(res.Packages))
	}
	all, err := ix.Solve(context.Background(), realRoots, Options{})
	if err != nil {
		t.Fatalf("all roots: %v", err)
	}
	checkSolution(t, ix, all)
	again, err := ix.Solve(context.Background(), realRoots, Options{})
	if err != nil || !slices.Equal(again.Order, all.Order) || !slices.Equal(chosen(again), chosen(all)) {
		t.Errorf("a second solve differs (%v)", err)
	}
	t.Logf("all roots: %d packages", len(all.Packages))
}
