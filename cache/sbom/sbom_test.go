package sbom

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/testenv"

	"github.com/vzkit/vzkit/cache"
)

func testManifest(pkgs []cache.Package) *cache.Manifest {
	return &cache.Manifest{
		Version: cache.ManifestVersion, Name: "debian-12-x86_64-minimal", Distro: "debian", Release: "12",
		Arch: "amd64", Tool: "vzpkg test", Packages: pkgs,
		Archive: cache.Archive{SHA256: strings.Repeat("0f", 32), Size: 1, SourceDateEpoch: 1700000000},
	}
}

func encode(t *testing.T, d *Document) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := d.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func pkgByName(t *testing.T, d *Document, name, arch string) Package {
	t.Helper()
	for _, p := range d.Packages {
		if p.Name == name && (arch == "" || strings.Contains(p.SPDXID, arch)) {
			return p
		}
	}
	t.Fatalf("package %s %s not in the SBOM", name, arch)
	return Package{}
}

func TestGenerateFromManifest(t *testing.T) {
	ctx := context.Background()
	pkgs := []cache.Package{
		{Name: "libstdc++6", Version: "12.2.0-14", Arch: "amd64", SHA256: strings.Repeat("ab", 32)},
		{Name: "libstdc--6", Version: "1", Arch: "amd64"},
		{Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64"},
		{Name: "libc6", Version: "2.36-9+deb12u4", Arch: "i386"},
		{Name: "perl-base", Version: "5.36.0-7+deb12u1", Arch: "amd64"},
		{Name: "dpkg", Version: "1:1.21.22", Arch: "amd64"},
	}
	d1, err := Generate(ctx, testManifest(pkgs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rev := make([]cache.Package, len(pkgs))
	for i, p := range pkgs {
		rev[len(pkgs)-1-i] = p
	}
	d2, err := Generate(ctx, testManifest(rev), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b1 := encode(t, d1)
	if !bytes.Equal(b1, encode(t, d2)) {
		t.Error("SBOM depends on the order of the manifest's packages")
	}
	doc := checkSPDX23(t, b1)
	if doc["documentNamespace"] != "urn:vzkit:spdx:debian-12-x86_64-minimal:sha256:"+strings.Repeat("0f", 32) {
		t.Errorf("namespace %v", doc["documentNamespace"])
	}
	if d1.CreationInfo.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("created %s, want the cache's SOURCE_DATE_EPOCH", d1.CreationInfo.Created)
	}
	if len(d1.Packages) != len(pkgs)+1 || len(d1.Relationships) != len(pkgs)+1 {
		t.Errorf("%d packages, %d relationships for %d manifest packages", len(d1.Packages), len(d1.Relationships), len(pkgs))
	}
	for _, p := range d1.Packages[1:] {
		if p.LicenseDeclared != NoAssertion || p.SourceInfo != "" {
			t.Errorf("%s: licence %q source %q without a root", p.Name, p.LicenseDeclared, p.SourceInfo)
		}
	}
	dpkg := pkgByName(t, d1, "dpkg", "")
	if got := dpkg.ExternalRefs[0].Locator; got != "pkg:deb/debian/dpkg@1%3A1.21.22?arch=amd64&distro=debian-12" {
		t.Errorf("dpkg purl %s", got)
	}
	if p := pkgByName(t, d1, "libstdc++6", ""); len(p.Checksums) != 1 || p.Checksums[0].Value != strings.Repeat("ab", 32) {
		t.Errorf("libstdc++6 checksums %v", p.Checksums)
	}
	if d1.Packages[0].Checksums[0].Value != strings.Repeat("0f", 32) || d1.Packages[0].PrimaryPackagePurpose != "CONTAINER" {
		t.Errorf("cache package %+v", d1.Packages[0])
	}

	m := testManifest([]cache.Package{{Name: "bash", Version: "1:5.1.8-6.el9", Arch: "x86_64"}})
	m.Distro, m.Release = "almalinux", "9"
	d3, err := Generate(ctx, m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d3.Packages[1].ExternalRefs[0].Locator; got != "pkg:rpm/almalinux/bash@5.1.8-6.el9?arch=x86_64&distro=almalinux-9&epoch=1" {
		t.Errorf("rpm purl %s", got)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const dep5 = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: foo

Files: *
Copyright: 2020 Someone
License: GPL-2+

Files: lib/*
Copyright: 2021 Other
License: Expat

Files: odd/*
Copyright: 2022 Third
License: Foo-Custom

Files: dual/*
Copyright: 2022 Fourth
License: LGPL-2.1+ or BSD-3-clause

License: GPL-2+
 This program is free software.

License: Foo-Custom
 You may do anything with foo
 except blame us.
`

func TestGenerateWithRoot(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	writeFile(t, filepath.Join(root, "usr/share/doc/libfoo1/copyright"), dep5)
	// Doc directory symlinked the Debian way, absolutely: resolved inside root.
	if err := os.Symlink("/usr/share/doc/libfoo1", filepath.Join(root, "usr/share/doc/libfoo-dev")); err != nil {
		t.Fatal(err)
	}
	// A symlink that would leave the root lands on the host's copy outside it.
	writeFile(t, filepath.Join(base, "outside/copyright"), strings.Replace(dep5, "GPL-2+\n\nFiles: lib", "EVIL-1\n\nFiles: lib", 1))
	if err := os.MkdirAll(filepath.Join(root, "usr/share/doc/evil"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../outside/copyright", filepath.Join(root, "usr/share/doc/evil/copyright")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "usr/share/doc/oldstyle/copyright"), "This package was debianized by someone.\n\nLicense: GPL\n")
	writeFile(t, filepath.Join(root, "var/lib/dpkg/status"), `Package: libfoo1
Status: install ok installed
Architecture: amd64
Source: foo (1.0-1)
Version: 1.0-1+b1

Package: libfoo-dev
Status: install ok installed
Architecture: amd64
Source: foo
Version: 1.0-1

Package: removed
Status: deinstall ok config-files
Version: 3
`)
	pkgs := []cache.Package{
		{Name: "libfoo1", Version: "1.0-1+b1", Arch: "amd64"},
		{Name: "libfoo-dev", Version: "1.0-1", Arch: "amd64"},
		{Name: "evil", Version: "1", Arch: "all"},
		{Name: "oldstyle", Version: "1", Arch: "all"},
		{Name: "nodoc", Version: "1", Arch: "all"},
	}
	d, err := Generate(ctx, testManifest(pkgs), Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	checkSPDX23(t, encode(t, d))
	want := "(LGPL-2.1-or-later OR BSD-3-Clause) AND GPL-2.0-or-later AND LicenseRef-Foo-Custom AND MIT"
	for _, n := range []string{"libfoo1", "libfoo-dev"} {
		if p := pkgByName(t, d, n, ""); p.LicenseDeclared != want {
			t.Errorf("%s licence %q, want %q", n, p.LicenseDeclared, want)
		}
	}
	if p := pkgByName(t, d, "libfoo1", ""); p.SourceInfo != "built from source package foo 1.0-1" {
		t.Errorf("libfoo1 source %q", p.SourceInfo)
	}
	if p := pkgByName(t, d, "libfoo-dev", ""); p.SourceInfo != "built from source package foo 1.0-1" {
		t.Errorf("libfoo-dev source %q", p.SourceInfo)
	}
	for _, n := range []string{"oldstyle", "nodoc"} {
		if p := pkgByName(t, d, n, ""); p.LicenseDeclared != NoAssertion {
			t.Errorf("%s licence %q, want NOASSERTION", n, p.LicenseDeclared)
		}
	}
	if p := pkgByName(t, d, "evil", ""); strings.Contains(p.LicenseDeclared, "EVIL") {
		t.Errorf("evil's copyright symlink escaped the root: %q", p.LicenseDeclared)
	}
	if len(d.ExtractedLicenses) != 1 || d.ExtractedLicenses[0].LicenseID != "LicenseRef-Foo-Custom" ||
		d.ExtractedLicenses[0].Text != "You may do anything with foo\nexcept blame us." {
		t.Errorf("extracted licences %+v", d.ExtractedLicenses)
	}
}

// TestGenerateHostRoot uses this Debian host's own root as a real Debian
// root, with dpkg-query as the oracle for the installed package list and
// their source packages.
// namedLicense finds a License: field that names a licence.
var namedLicense = regexp.MustCompile(`(?m)^License:[ \t]*\S`)

func TestGenerateHostRoot(t *testing.T) {
	if _, err := os.Stat("/var/lib/dpkg/status"); err != nil {
		testenv.Missing(t, "needs a Debian host (/var/lib/dpkg/status)")
	}
	out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Abbrev}|${Package}|${Version}|${Architecture}|${source:Package}|${source:Version}\n").Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	var pkgs []cache.Package
	source := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 6 || !strings.HasPrefix(f[0], "ii") {
			continue
		}
		pkgs = append(pkgs, cache.Package{Name: f[1], Version: f[2], Arch: f[3]})
		source[f[1]+":"+f[3]] = "built from source package " + f[4] + " " + f[5]
	}
	start := time.Now()
	d, err := Generate(context.Background(), testManifest(pkgs), Options{Root: "/"})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	b := encode(t, d)
	checkSPDX23(t, b)
	if len(d.Packages) != len(pkgs)+1 {
		t.Fatalf("%d SPDX packages for %d installed", len(d.Packages), len(pkgs))
	}
	known, machine := 0, 0
	for _, p := range d.Packages[1:] {
		// The purl carries the architecture: pkg:deb/debian/N@V?arch=A&distro=D.
		_, q, _ := strings.Cut(p.ExternalRefs[0].Locator, "?arch=")
		arch, _, _ := strings.Cut(q, "&")
		want, ok := source[p.Name+":"+arch]
		if !ok || p.SourceInfo != want {
			t.Errorf("%s:%s: source %q, dpkg-query says %q", p.Name, arch, p.SourceInfo, want)
		}
		data, err := os.ReadFile(filepath.Join("/usr/share/doc", p.Name, "copyright"))
		// Machine-readable, and naming a licence: some files have a
		// License: field whose first line is empty (qemu's).
		if err == nil && bytes.HasPrefix(data, []byte("Format: ")) && bytes.Contains(data[:bytes.IndexByte(data, '\n')], []byte("copyright-format")) &&
			namedLicense.Match(data) {
			machine++
			if p.LicenseDeclared == NoAssertion {
				t.Errorf("%s has a machine-readable copyright but licence NOASSERTION", p.Name)
			}
		}
		if p.LicenseDeclared != NoAssertion {
			known++
		}
	}
	if p := pkgByName(t, d, "dpkg", ""); !strings.Contains(p.LicenseDeclared, "GPL-2.0-or-later") {
		t.Errorf("dpkg licence %q lacks GPL-2.0-or-later (its copyright file says GPL-2+)", p.LicenseDeclared)
	}
	t.Logf("host root: %d packages, %d machine-readable copyright files, %d with a licence, %d LicenseRefs, %d bytes, %v",
		len(pkgs), machine, known, len(d.ExtractedLicenses), len(b), elapsed)
}

func TestWrite(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "usr/share/doc/libfoo1/copyright"), dep5)
	m := &cache.Manifest{Name: "debian-12-x86_64-test", Distro: "debian", Release: "12", Arch: "amd64", Tool: "vzkit-test",
		Packages: []cache.Package{{Name: "libfoo1", Version: "1.0-1", Arch: "amd64"}}}
	cachePath, _, err := cache.Save(ctx, t.TempDir(), root, m, cache.PackOptions{SourceDateEpoch: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Write(ctx, cachePath, Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if p != strings.TrimSuffix(cachePath, ".tar.zst")+".spdx.json" {
		t.Errorf("SBOM path %s", p)
	}
	first, _ := os.ReadFile(p)
	doc := checkSPDX23(t, first)
	if !strings.HasSuffix(doc["documentNamespace"].(string), m.Archive.SHA256) {
		t.Errorf("namespace %v not derived from the cache digest %s", doc["documentNamespace"], m.Archive.SHA256)
	}
	if _, err := Write(ctx, cachePath, Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(p); !bytes.Equal(first, second) {
		t.Error("two SBOMs of one cache differ")
	}
}

func TestLicenseExpr(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"GPL-2+", "GPL-2.0-or-later"},
		{"GPL-2", "GPL-2.0-only"},
		{"GPLv3+", "GPL-3.0-or-later"},
		{"LGPL-2.1+", "LGPL-2.1-or-later"},
		{"GPL-2.0+", "GPL-2.0-or-later"},
		{"LGPLv2.1+", "LGPL-2.1-or-later"},
		{"GFDL-1.3+", "GFDL-1.3-or-later"},
		{"Expat", "MIT"},
		{"BSD-3-clause", "BSD-3-Clause"},
		{"Apache-2", "Apache-2.0"},
		{"GPL-1+ or Artistic", "GPL-1.0-or-later OR Artistic-1.0"},
		{"BSL-1.0 and Zlib", "BSL-1.0 AND Zlib"},
		{"GPL-2 with Linux-syscall-note exception", "GPL-2.0-only WITH Linux-syscall-note"},
		{"GPL-2+ with Autoconf exception", "GPL-2.0-or-later WITH Autoconf-exception-2.0"},
		{"GPL-3+ with Libtool exception", "GPL-3.0-or-later WITH Libtool-exception"},
		{"GPL-2+ with OpenSSL exception", "LicenseRef-GPL-2-with-OpenSSL-exception"},
		{"GPL-1+ with Autoconf exception", "LicenseRef-GPL-1-with-Autoconf-exception"},
		{"ISC and/or LGPL-2.1+", "ISC OR LGPL-2.1-or-later"},
		{"public-domain", "LicenseRef-public-domain"},
		{"GPL-7", "LicenseRef-GPL-7"},
		{"Permission to use, copy, modify", "LicenseRef-Permission-to-use-copy-modify"},
		{"or", "LicenseRef-or"},
	} {
		refs := map[string]string{}
		got := licenseExpr(c.in, refs)
		if got != c.want {
			t.Errorf("licenseExpr(%q) = %q, want %q", c.in, got, c.want)
		}
		used := map[string]bool{}
		if e := checkExpr(got, used); e != "" {
			t.Errorf("licenseExpr(%q) = %q: %s", c.in, got, e)
		}
		for r := range used {
			if _, ok := refs[r]; !ok {
				t.Errorf("licenseExpr(%q) used %s without recording it", c.in, r)
			}
		}
		if len(refs) != len(used) {
			t.Errorf("licenseExpr(%q) recorded refs %v, used %v", c.in, refs, used)
		}
	}
}

// TestParseCopyrightLenient: real files carry comment lines inside a
// field and free text after the paragraphs (libgstreamer-plugins-base's
// ends so); the licences named before it are kept.
func TestParseCopyrightLenient(t *testing.T) {
	const text = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Files-Excluded:
	dtc
#
	slirp

Files: *
Copyright: 2001 Someone
License: LGPL-2+

Files: debian/*
Copyright: 2002 Someone Else
License: GPL-2+

On Debian GNU/Linux systems, the complete text of the GNU Lesser General
Public License can be found in /usr/share/common-licenses/LGPL.
`
	c, ok, err := parseCopyright(strings.NewReader(text))
	if err != nil || !ok || strings.Join(c.Licenses, ",") != "GPL-2+,LGPL-2+" {
		t.Errorf("parseCopyright: %v %v %v, want GPL-2+ and LGPL-2+", c.Licenses, ok, err)
	}
}

// The manifest's recorded format decides the purl type: a distro whose
// name the SBOM does not know is not guessed rpm when its cache says deb,
// and an rpm cache of a Debian-named distro gets rpm purls.
func TestPurlFollowsRecordedFormat(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		distro string
		format cache.PackageFormat
		want   string
	}{
		{"pureos", cache.FormatDeb, "pkg:deb/pureos/dpkg@1%3A1.21.22?arch=amd64&distro=pureos-12"},
		{"debian", cache.FormatRPM, "pkg:rpm/debian/dpkg@1.21.22?arch=amd64&distro=debian-12&epoch=1"},
		{"pureos", "", "pkg:rpm/pureos/dpkg@1.21.22?arch=amd64&distro=pureos-12&epoch=1"}, // an old manifest: the name decides
	} {
		m := testManifest([]cache.Package{{Name: "dpkg", Version: "1:1.21.22", Arch: "amd64"}})
		m.Distro, m.Format = c.distro, c.format
		d, err := Generate(ctx, m, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Packages[1].ExternalRefs[0].Locator; got != c.want {
			t.Errorf("%s/%q: purl %s, want %s", c.distro, c.format, got, c.want)
		}
	}
}
