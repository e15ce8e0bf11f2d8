package solve

// The oracle: Debian's dnf (libsolv) resolves the same requests on the
// same repository, made with rpmbuild and createrepo_c from packages
// described in pk's notation, and must choose the same packages.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/repo/rpmmd"
)

// specFor writes an rpmbuild spec for p (packages from pk): no automatic
// dependencies, empty files for p.Files.
func specFor(p rpmmd.Package) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Name: %s\n", p.Name)
	if p.EVR.Epoch != "" && p.EVR.Epoch != "0" {
		fmt.Fprintf(&b, "Epoch: %s\n", p.EVR.Epoch)
	}
	fmt.Fprintf(&b, "Version: %s\nRelease: %s\nSummary: solver oracle package\nLicense: MIT\nAutoReqProv: no\n", p.EVR.Version, p.EVR.Release)
	if p.Arch == "noarch" {
		b.WriteString("BuildArch: noarch\n")
	}
	for _, d := range p.Requires {
		tag := "Requires"
		if d.Pre {
			tag = "Requires(pre)"
		}
		fmt.Fprintf(&b, "%s: %s\n", tag, depString(d))
	}
	for _, l := range []struct {
		tag  string
		deps []rpmmd.Dep
	}{{"Provides", p.Provides}, {"Conflicts", p.Conflicts}, {"Obsoletes", p.Obsoletes}} {
		for _, d := range l.deps {
			fmt.Fprintf(&b, "%s: %s\n", l.tag, depString(d))
		}
	}
	b.WriteString("%global debug_package %{nil}\n%define _build_id_links none\n%description\noracle\n%install\n")
	// A path that another one is below is a directory.
	isDir := func(f string) bool {
		return slices.ContainsFunc(p.Files, func(g string) bool { return strings.HasPrefix(g, f+"/") })
	}
	for _, f := range p.Files {
		if isDir(f) {
			fmt.Fprintf(&b, "mkdir -p %%{buildroot}%s\n", f)
		} else {
			fmt.Fprintf(&b, "mkdir -p %%{buildroot}%s\ntouch %%{buildroot}%s\n", filepath.Dir(f), f)
		}
	}
	b.WriteString("%files\n")
	for _, f := range p.Files {
		if isDir(f) {
			b.WriteString("%dir ")
		}
		b.WriteString(f + "\n")
	}
	return b.String()
}

// buildRepo builds pkgs with rpmbuild and makes an rpm-md repository of
// them with createrepo_c; it returns the repository directory.
func buildRepo(t *testing.T, pkgs []rpmmd.Package) string {
	t.Helper()
	rpmbuild := testenv.NeedTool(t, "rpmbuild", "rpm")
	createrepo := testenv.NeedTool(t, "createrepo_c", "createrepo-c")
	top := t.TempDir()
	for i, p := range pkgs {
		spec := filepath.Join(top, fmt.Sprintf("p%d.spec", i))
		if err := os.WriteFile(spec, []byte(specFor(p)), 0o644); err != nil {
			t.Fatal(err)
		}
		target := p.Arch
		if target == "noarch" {
			target = "x86_64"
		}
		cmd := exec.Command(rpmbuild, "--quiet", "--define", "_topdir "+top, "--target", target, "-bb", spec)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rpmbuild %s: %v\n%s\n%s", Key(&p), err, out, specFor(p))
		}
	}
	repo := filepath.Join(top, "RPMS")
	if out, err := exec.Command(createrepo, "-q", repo).CombinedOutput(); err != nil {
		t.Fatalf("createrepo_c: %v\n%s", err, out)
	}
	return repo
}

// repoPackages reads a createrepo_c repository's primary and filelists.
func repoPackages(t *testing.T, repo, name string) []rpmmd.Package {
	t.Helper()
	prim, _ := filepath.Glob(filepath.Join(repo, "repodata", "*-primary.xml*"))
	files, _ := filepath.Glob(filepath.Join(repo, "repodata", "*-filelists.xml*"))
	if len(prim) != 1 || len(files) != 1 {
		t.Fatalf("repository %s: primary %v, filelists %v", repo, prim, files)
	}
	pkgs := readPrimary(t, prim[0], name)
	mergeFilelists(t, pkgs, files[0])
	return pkgs
}

// dnfInstall runs "dnf --installroot=EMPTY --assumeno install roots" on
// the repositories and returns the transaction's packages as
// name-[epoch:]version-release.arch, sorted, or dnf's error text.
func dnfInstall(t *testing.T, roots []string, repos ...string) ([]string, string) {
	t.Helper()
	dnf := testenv.NeedTool(t, "dnf", "dnf")
	dir := t.TempDir()
	args := []string{
		"--installroot=" + filepath.Join(dir, "root"), "--releasever=9", "--forcearch=x86_64",
		"--setopt=reposdir=/dev/null", "--setopt=cachedir=" + filepath.Join(dir, "cache"),
		"--setopt=install_weak_deps=False", "--setopt=gpgcheck=0", "--setopt=module_platform_id=platform:el9",
	}
	for i, r := range repos {
		name := fmt.Sprintf("r%d", i)
		args = append(args, "--repofrompath="+name+","+r, "--setopt="+name+".module_hotfixes=1")
	}
	args = append(args, "--assumeno", "install")
	args = append(args, roots...)
	cmd := exec.Command(dnf, args...)
	cmd.Env = append(os.Environ(), "LANG=C", "LC_ALL=C")
	out, _ := cmd.CombinedOutput() // --assumeno always exits 1
	text := string(out)
	if !strings.Contains(text, "Transaction Summary") {
		return nil, text
	}
	var got []string
	in := false
	carry := ""
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "Installing"):
			in = true
			continue
		case strings.HasPrefix(line, "Transaction Summary"):
			in = false
		}
		if !in || !strings.HasPrefix(line, " ") {
			continue
		}
		f := strings.Fields(carry + " " + line)
		if len(f) == 1 { // a long name dnf wrapped onto a line of its own
			carry = f[0]
			continue
		}
		carry = ""
		if len(f) >= 4 {
			got = append(got, f[0]+"-"+f[2]+"."+f[1])
		}
	}
	slices.Sort(got)
	return got, text
}

// oracleRepo holds one package set per rule, with names unique across
// them, so that one repository serves every request.
var oracleRepo = [][]rpmmd.Package{
	{ // epoch bump over a higher version
		pk("ep-app-1-1.x86_64", "R: ep-tool"),
		pk("ep-tool-2.0-1.x86_64"),
		pk("ep-tool-1:1.0-1.x86_64"),
		pk("ep-low-1-1.x86_64", "R: ep-tool <= 2.0"),
	},
	{ // tilde and caret
		pk("tc-pre-1.0~rc1-1.x86_64"),
		pk("tc-pre-0.9-1.x86_64"),
		pk("tc-snap-1.0^git5-1.x86_64"),
		pk("tc-snap-1.0-1.x86_64"),
		pk("tc-app-1-1.noarch", "R: tc-snap >= 1.0", "R: tc-pre > 0.9"),
	},
	{ // file dependencies: in primary (/usr/bin) and only in filelists
		pk("fd-script-1-1.noarch", "R: /usr/bin/fd-sh", "R: /usr/lib/fd/helper"),
		pk("fd-shell-1-1.x86_64", "F: /usr/bin/fd-sh"),
		pk("fd-helpers-1-1.x86_64", "F: /usr/lib/fd/helper"),
	},
	{ // obsoletes
		pk("ob-app-1-1.x86_64", "R: ob-crypt"),
		pk("ob-crypt-4.1-1.x86_64"),
		pk("ob-xcrypt-4.4-1.x86_64", "P: ob-crypt = 4.4-1", "O: ob-crypt < 4.2"),
	},
	{ // conflicts: the first provider conflicts with another requirement
		pk("cf-server-1-1.x86_64", "R: cf-mta", "R: cf-libx"),
		pk("cf-libx-1-1.x86_64"),
		pk("cf-amta-1-1.x86_64", "P: cf-mta", "C: cf-libx < 2"),
		pk("cf-bmta-1-1.x86_64", "P: cf-mta"),
	},
	{ // architecture: x86_64 over i686, noarch as good as native
		pk("ar-app-1-1.x86_64", "R: ar-glibc", "R: ar-data"),
		pk("ar-glibc-2.34-1.i686"),
		pk("ar-glibc-2.34-1.x86_64"),
		pk("ar-data-1-1.noarch"),
		pk("ar-only32-1-1.i686"),
	},
	{ // rich: or, and, if, if-else, with, without, unless
		pk("ri-app-1-1.x86_64",
			"R: (ri-enchant2 >= 2 or ri-enchant)",
			"R: (ri-a and (ri-b or ri-c))",
			"R: (ri-guard-selinux if ri-policy)",
			"R: (ri-maria if ri-mariadb else ri-sqlite)",
			"R: ((ri-socks < 1.5.7 or ri-socks > 1.5.7) with ri-socks >= 1.5.6)",
			"R: (ri-impl without ri-debug)",
		),
		pk("ri-enchant-1-1.x86_64"), pk("ri-enchant2-1.5-1.x86_64"),
		pk("ri-a-1-1.x86_64"), pk("ri-c-1-1.x86_64"),
		pk("ri-guard-selinux-1-1.noarch"), pk("ri-policy-1-1.noarch"),
		pk("ri-maria-1-1.x86_64"), pk("ri-sqlite-1-1.x86_64"), pk("ri-mariadb-1-1.x86_64"),
		pk("ri-pa-1-1.noarch", "P: ri-socks = 1.5.7"), pk("ri-pb-1-1.noarch", "P: ri-socks = 1.5.8"), pk("ri-pc-1-1.noarch", "P: ri-socks = 1.5.5"),
		pk("ri-afoo-1-1.x86_64", "P: ri-impl", "P: ri-debug"), pk("ri-bfoo-1-1.x86_64", "P: ri-impl"),
		pk("ri-wants-policy-1-1.x86_64", "R: ri-policy"),
	},
	{ // rich conflicts: rpmbuild allows unless only there ("Illegal
		// context for 'unless', please use 'or' instead" in Requires)
		pk("cu-a-1-1.x86_64", "C: (cu-driver unless cu-bridge)"),
		pk("cu-driver-1-1.x86_64"), pk("cu-bridge-1-1.x86_64"),
		pk("cu-b-1-1.x86_64", "C: (cu-x and cu-y)"),
		pk("cu-x-1-1.x86_64"), pk("cu-y-1-1.x86_64"),
	},
	{ // provider choice: libsolv's policy (name order, not length, not
		// the name asked for; unit requirements first)
		pk("pc-e1-app-1-1.x86_64", "R: pc-e1-pv"),
		pk("pc-e1-zz-s-1-1.x86_64", "P: pc-e1-pv"),
		pk("pc-e1-aa-long-name-1-1.x86_64", "P: pc-e1-pv"),
		pk("pc-e1-mm-1-1.x86_64", "P: pc-e1-pv"),
		pk("pc-e2-app-1-1.x86_64", "R: (pc-e2-zeta or pc-e2-alpha)"),
		pk("pc-e2-zeta-1-1.x86_64"), pk("pc-e2-alpha-1-1.x86_64"),
		pk("pc-e3-app-1-1.x86_64", "R: (pc-e3-a if pc-e3-cond else pc-e3-zzz)"),
		pk("pc-e3-a-1-1.x86_64"), pk("pc-e3-cond-1-1.x86_64"), pk("pc-e3-zzz-1-1.x86_64"),
		pk("pc-e4-app-1-1.x86_64", "R: (pc-e4-a if pc-e4-cond else pc-e4-aaa)"),
		pk("pc-e4-a-1-1.x86_64"), pk("pc-e4-cond-1-1.x86_64"), pk("pc-e4-aaa-1-1.x86_64"),
		pk("pc-e5-app-1-1.x86_64", "R: pc-e5-pv"),
		pk("pc-e5-b-1-1.x86_64", "P: pc-e5-pv"),
		pk("pc-e5-a-1-1.x86_64", "P: pc-e5-pv", "R: pc-e5-dep"),
		pk("pc-e5-dep-1-1.x86_64"),
		pk("pc-e6-app-1-1.x86_64", "R: pc-e6-pv", "R: pc-e6-x"),
		pk("pc-e6-a-1-1.x86_64", "P: pc-e6-pv"),
		pk("pc-e6-b-1-1.x86_64", "P: pc-e6-pv"),
		pk("pc-e6-x-1-1.x86_64", "R: pc-e6-b"),
		pk("pc-e7-app-1-1.x86_64", "R: pc-e7-pv"),
		pk("pc-e7-b-2-1.x86_64", "P: pc-e7-pv"), pk("pc-e7-b-3-1.x86_64", "P: pc-e7-pv"), pk("pc-e7-a-1-1.i686", "P: pc-e7-pv"),
		pk("pc-app-1-1.x86_64", "R: pc-webserver", "R: pc-ssl"),
		pk("pc-nginx-core-1-1.x86_64", "P: pc-webserver"),
		pk("pc-lighttpd-1-1.x86_64", "P: pc-webserver"),
		pk("pc-httpd-2-1.x86_64", "P: pc-webserver"),
		pk("pc-openssl-libs-3-1.x86_64", "P: pc-ssl"),
		pk("pc-ssl-1-1.x86_64"),
	},
	{ // install order inputs: a Requires(pre) loop
		pk("or-app-1-1.x86_64", "R: or-lib", "Rpre: or-shadow"),
		pk("or-lib-1-1.x86_64", "R: or-filesystem"),
		pk("or-filesystem-1-1.x86_64", "Rpre: or-setup"),
		pk("or-setup-1-1.noarch", "R: or-filesystem"),
		pk("or-shadow-1-1.x86_64", "R: or-lib"),
	},
}

// oracleRequests are the requests compared, each with what it proves.
var oracleRequests = []struct {
	why   string
	roots []string
}{
	{"epoch", []string{"ep-app"}},
	{"versioned requirement below the epoch", []string{"ep-low"}},
	{"tilde and caret", []string{"tc-app"}},
	{"file dependencies", []string{"fd-script"}},
	{"file as a root", []string{"/usr/bin/fd-sh"}},
	{"obsoleted provider", []string{"ob-app"}},
	{"obsoleted root", []string{"ob-crypt"}},
	{"obsoleted and obsoleter as roots", []string{"ob-crypt", "ob-xcrypt"}},
	{"conflicting provider", []string{"cf-server"}},
	{"architecture", []string{"ar-app"}},
	{"only a compatible architecture", []string{"ar-only32"}},
	{"rich dependencies", []string{"ri-app"}},
	{"rich if, condition chosen by another root", []string{"ri-app", "ri-wants-policy"}},
	{"rich if-else, condition a root", []string{"ri-mariadb", "ri-app"}},
	{"rich conflict with unless, repaired by adding its condition", []string{"cu-a", "cu-driver"}},
	{"rich conflict with unless, allowed", []string{"cu-a", "cu-driver", "cu-bridge"}},
	{"rich conflict with and, allowed", []string{"cu-b", "cu-x"}},
	{"rich conflict with and, refused", []string{"cu-b", "cu-x", "cu-y"}},
	{"provider choice", []string{"pc-app"}},
	{"provider name order, not length", []string{"pc-e1-app"}},
	{"rich or ranks the union", []string{"pc-e2-app"}},
	{"rich if-else picks from the else branch and the condition", []string{"pc-e3-app"}},
	{"rich if-else, else branch first by name", []string{"pc-e4-app"}},
	{"a provider's own dependencies do not count", []string{"pc-e5-app"}},
	{"unit requirements before choices", []string{"pc-e6-app"}},
	{"highest version per name, native arch", []string{"pc-e7-app"}},
	{"chosen providers preferred", []string{"pc-lighttpd", "pc-openssl-libs", "pc-app"}},
	{"install order loop", []string{"or-app"}},
}

func TestDNFOracle(t *testing.T) {
	var pkgs []rpmmd.Package
	for _, set := range oracleRepo {
		pkgs = append(pkgs, set...)
	}
	repo := buildRepo(t, pkgs)
	ix, err := NewIndex(context.Background(), repoPackages(t, repo, "oracle"), IndexOptions{Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range oracleRequests {
		t.Run(req.why, func(t *testing.T) {
			want, dnfOut := dnfInstall(t, req.roots, repo)
			res, err := ix.Solve(context.Background(), req.roots, Options{})
			if want == nil {
				if err == nil {
					t.Fatalf("dnf refused %v but we chose %v:\n%s", req.roots, chosen(res), dnfOut)
				}
				t.Logf("both refuse %v: we say %v", req.roots, err)
				return
			}
			if err != nil {
				t.Fatalf("dnf installs %v for %v, we fail: %v", want, req.roots, err)
			}
			if got := chosen(res); !slices.Equal(got, want) {
				t.Errorf("roots %v:\n dnf chooses %v\n we choose   %v", req.roots, want, got)
			}
		})
	}
}

// TestDNFOracleAppStream compares with dnf on real data: CentOS Stream 9
// AppStream as osbuild keeps it, plus the BaseOS stand-in built as an RPM
// into a second repository.
func TestDNFOracleAppStream(t *testing.T) {
	testenv.NeedTool(t, "dnf", "dnf")
	pkgs := appstreamPackages(t)
	si := standIn(t, pkgs)
	siRepo := buildRepo(t, []rpmmd.Package{si})
	siPkgs := repoPackages(t, siRepo, "standin")
	if len(siPkgs) != 1 || len(siPkgs[0].Provides) < len(si.Provides) {
		t.Fatalf("stand-in repository: %d packages", len(siPkgs))
	}
	ix := appstreamIndex(t, siPkgs...)
	appstreamRepo := filepath.Dir(filepath.Dir(appstreamPrimary(t)))
	for _, roots := range append([][]string{realRoots}, func() [][]string {
		var out [][]string
		for _, r := range realRoots {
			out = append(out, []string{r})
		}
		return out
	}()...) {
		name := strings.Join(roots, ",")
		if len(roots) > 3 {
			name = "all"
		}
		t.Run(name, func(t *testing.T) {
			want, dnfOut := dnfInstall(t, roots, appstreamRepo, siRepo)
			res, err := ix.Solve(context.Background(), roots, Options{})
			if want == nil {
				if err == nil {
					t.Fatalf("dnf refused %v but we chose %v:\n%s", roots, chosen(res), dnfOut)
				}
				t.Logf("both refuse %v: we say %v", roots, err)
				return
			}
			if err != nil {
				t.Fatalf("dnf installs %v, we fail: %v", want, err)
			}
			got := chosen(res)
			if !slices.Equal(got, want) {
				var onlyDNF, onlyUs []string
				for _, w := range want {
					if !slices.Contains(got, w) {
						onlyDNF = append(onlyDNF, w)
					}
				}
				for _, g := range got {
					if !slices.Contains(want, g) {
						onlyUs = append(onlyUs, g)
					}
				}
				t.Errorf("roots %v: dnf %d packages, we %d\n only dnf: %v\n only we:  %v", roots, len(want), len(got), onlyDNF, onlyUs)
			}
		})
	}
}
