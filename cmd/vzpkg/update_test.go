package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/cache/sbom"
	"github.com/vzkit/vzkit/repo/apt/apttest"
)

// rebuildDeb repacks the .deb at src with version newVersion and one more
// file, /usr/share/vzkit-test/marker, and writes it into r's pool: the same
// package, one revision later, as a distribution update would be.
func rebuildDeb(t *testing.T, r *apttest.Repo, src, name, newVersion, arch string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	runTool(t, "dpkg-deb", "--raw-extract", src, dir)
	ctl := filepath.Join(dir, "DEBIAN/control")
	b, err := os.ReadFile(ctl)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Version: ") {
			l = "Version: " + newVersion
		}
		lines = append(lines, l)
	}
	write(t, ctl, strings.Join(lines, "\n"))
	write(t, filepath.Join(dir, "usr/share/vzkit-test/marker"), newVersion+"\n")
	out := filepath.Join(r.Root, "pool/main", name[:1], name, name+"_"+newVersion+"_"+arch+".deb")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	runTool(t, "dpkg-deb", "--root-owner-group", "--build", dir, out)
	return out
}

// reindex regenerates r's Packages files from its pool and signs again.
func reindex(t *testing.T, r *apttest.Repo, arch string) {
	t.Helper()
	bin := filepath.Join(r.Root, "dists", r.Suite, "main", "binary-"+arch)
	for _, f := range []string{"Packages", "Packages.xz", "Packages.gz"} {
		os.Remove(filepath.Join(bin, f))
	}
	c := exec.Command("apt-ftparchive", "packages", "pool")
	c.Dir = r.Root
	pk, err := c.Output()
	if err != nil {
		t.Fatalf("apt-ftparchive packages: %v", err)
	}
	write(t, filepath.Join(bin, "Packages"), string(pk))
	runTool(t, "xz", "-k", filepath.Join(bin, "Packages"))
	runTool(t, "gzip", "-k", "-n", filepath.Join(bin, "Packages"))
	r.Sign(t, arch)
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// installedVersions is `dpkg-query -W` run on an unpacked cache.
func installedVersions(t *testing.T, root string) []string {
	t.Helper()
	return nonEmptyLines(runTool(t, "dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\n"))
}

// vzpkg update on a real debian-12-minimal based cache: a local signed
// repository added by a child template then offers one package of the set
// (hostname) one revision later, with a marker file. The update must
// install exactly that package with the root's dpkg, keep the previous
// cache byte for byte as NAME-old, and a second update must change
// nothing.
func TestUpdateUpgradesOnePackage(t *testing.T) {
	e2eRequire(t, "dpkg-deb", "apt-ftparchive", "gpg", "xz", "gzip")
	hostDebianMirror(t, "bookworm")
	e := newE2EEnv(t)
	r := apttest.Build(t, "amd64", []apttest.Deb{{Name: "vzkit-dummy", Version: "1.0", Arch: "all", Content: "dummy"}})
	tdir := t.TempDir()
	const name = "vz-update"
	localTemplate(t, tdir, name, "debian-12-minimal", r, "vzkit-dummy")
	e.must("vzpkg", "--templates", tdir, "build", name)

	cachePath := filepath.Join(e.cacheDir(), name+".tar.zst")
	m := readManifest(t, cachePath)
	oldSum, err := sha256File(cachePath)
	if err != nil {
		t.Fatal(err)
	}
	oldManifest, err := os.ReadFile(cache.ManifestPath(cachePath))
	if err != nil {
		t.Fatal(err)
	}
	oldSBOM, err := os.ReadFile(sbom.Path(cachePath))
	if err != nil {
		t.Fatal(err)
	}
	var host *cache.Package
	for i := range m.Packages {
		if m.Packages[i].Name == "hostname" {
			host = &m.Packages[i]
		}
	}
	if host == nil {
		t.Fatalf("the minimal set has no hostname package: %+v", m.Packages)
	}

	// Nothing newer anywhere yet.
	out := e.must("vzpkg", "--templates", tdir, "update", name)
	if !strings.Contains(out, name+" is up to date") {
		t.Fatalf("update of a fresh cache:\n%s", out)
	}
	if sum, _ := sha256File(cachePath); sum != oldSum {
		t.Fatal("an up-to-date update rewrote the cache")
	}

	newVersion := host.Version + "+vzkit1"
	deb := rebuildDeb(t, r, filepath.Join(e.root, "shared/packages", host.SHA256[:2], host.SHA256), "hostname", newVersion, host.Arch)
	reindex(t, r, "amd64")
	newDebSum, err := sha256File(deb)
	if err != nil {
		t.Fatal(err)
	}

	out = e.must("vzpkg", "--templates", tdir, "update", name)
	var upgraded []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "upgraded: ") {
			upgraded = append(upgraded, l)
		}
		if strings.HasPrefix(l, "time: ") {
			t.Logf("figure: update of one package: %s", l)
		}
	}
	if want := "upgraded: hostname " + host.Version + " -> " + newVersion; len(upgraded) != 1 || upgraded[0] != want {
		t.Fatalf("upgraded lines %q, want only %q; output:\n%s", upgraded, want, out)
	}

	newSum, err := sha256File(cachePath)
	if err != nil {
		t.Fatal(err)
	}
	// The previous cache is NAME-old, byte for byte.
	if sum, err := sha256File(filepath.Join(e.cacheDir(), name+"-old.tar.zst")); err != nil || sum != oldSum {
		t.Errorf("%s-old.tar.zst sha256 %s (%v), the previous cache was %s", name, sum, err, oldSum)
	}
	if b, err := os.ReadFile(filepath.Join(e.cacheDir(), name+"-old.json")); err != nil || !bytes.Equal(b, oldManifest) {
		t.Errorf("%s-old.json is not the previous manifest (%v)", name, err)
	}
	if b, err := os.ReadFile(filepath.Join(e.cacheDir(), name+"-old.spdx.json")); err != nil || !bytes.Equal(b, oldSBOM) {
		t.Errorf("%s-old.spdx.json is not the previous SBOM (%v)", name, err)
	}
	if b, err := os.ReadFile(sbom.Path(cachePath)); err != nil || !bytes.Contains(b, []byte(newVersion)) || !bytes.Contains(b, []byte(newSum)) {
		t.Errorf("the new SBOM does not describe the new cache and hostname %s (%v)", newVersion, err)
	}

	// The new cache: unpack both and ask dpkg what is installed.
	oldRoot, newRoot := t.TempDir(), t.TempDir()
	untar(t, filepath.Join(e.cacheDir(), name+"-old.tar.zst"), oldRoot, true)
	untar(t, cachePath, newRoot, true)
	before, after := installedVersions(t, oldRoot), installedVersions(t, newRoot)
	diff := lineDiff(before, after)
	wantDiff := []string{"- hostname " + host.Version + " ii ", "+ hostname " + newVersion + " ii "}
	slices.Sort(diff)
	slices.Sort(wantDiff)
	if !slices.Equal(diff, wantDiff) {
		t.Errorf("dpkg-query differences between the old and new cache:\n%s\nwant:\n%s", strings.Join(diff, "\n"), strings.Join(wantDiff, "\n"))
	}
	if b, err := os.ReadFile(filepath.Join(newRoot, "usr/share/vzkit-test/marker")); err != nil || string(b) != newVersion+"\n" {
		t.Errorf("marker file of the new hostname: %q, %v", b, err)
	}
	for _, leftover := range []string{"usr/sbin/policy-rc.d", "tmp/vzkit-debs", "var/log/dpkg.log"} {
		if _, err := os.Lstat(filepath.Join(newRoot, leftover)); err == nil {
			t.Errorf("the update left %s in the cache", leftover)
		}
	}
	nm := readManifest(t, cachePath)
	if len(nm.Packages) != len(m.Packages) {
		t.Errorf("manifest lists %d packages, was %d", len(nm.Packages), len(m.Packages))
	}
	for i, p := range nm.Packages {
		want := m.Packages[i]
		if p.Name == "hostname" {
			want.Version, want.SHA256 = newVersion, newDebSum
		}
		if p != want {
			t.Errorf("manifest package %d: %+v, want %+v", i, p, want)
		}
	}
	var wantLeft []string
	for _, f := range []string{"-old.json", "-old.spdx.json", "-old.tar.zst", ".json", ".spdx.json", ".tar.zst"} {
		wantLeft = append(wantLeft, "cache directory holds "+name+f)
	}
	if left := e.leftovers(); !slices.Equal(left, wantLeft) {
		t.Errorf("after the update: %q, want only the two cache pairs", left)
	}

	// Again: nothing to do, nothing touched.
	st, err := os.Stat(cachePath)
	if err != nil {
		t.Fatal(err)
	}
	out = e.must("vzpkg", "--templates", tdir, "update", name)
	if !strings.Contains(out, name+" is up to date") || strings.Contains(out, "upgraded:") {
		t.Fatalf("second update:\n%s", out)
	}
	st2, err := os.Stat(cachePath)
	if err != nil {
		t.Fatal(err)
	}
	if sum, _ := sha256File(cachePath); sum != newSum || !st2.ModTime().Equal(st.ModTime()) {
		t.Error("the second update touched the cache")
	}
	if sum, _ := sha256File(filepath.Join(e.cacheDir(), name+"-old.tar.zst")); sum != oldSum {
		t.Error("the second update touched the -old cache")
	}
}

// update refuses to run without root, and as root names the missing cache.
func TestUpdateWithoutCache(t *testing.T) {
	r := apttest.Build(t, "amd64", []apttest.Deb{{Name: "vzkit-dummy", Version: "1.0", Arch: "all", Content: "dummy"}})
	tdir := t.TempDir()
	localTemplate(t, tdir, "vz-none", "", r, "vzkit-dummy")
	out, code, err := run(t, t.TempDir(), "--templates", tdir, "update", "vz-none")
	if code == 0 {
		t.Fatalf("update without a cache succeeded:\n%s", out)
	}
	want := "no usable cache in "
	if os.Geteuid() != 0 {
		want = "must run as root"
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want it to say %q", err, want)
	}
}
