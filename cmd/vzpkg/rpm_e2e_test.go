package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/repo"
	"github.com/vzkit/vzkit/repo/lockfile"
	"github.com/vzkit/vzkit/repo/rpmmd/rpmmdtest"
)

// rpmTemplate is a template for the rpmmdtest distribution, served at
// $mirror: the @core group plus oldtool (obsoleted by newtool) and clock
// (whose epoch bump wins over a higher version). Its pre-install script
// runs once rpm's closure is unpacked and before rpm's transaction, its
// post-install script after it.
const rpmTemplate = rpmPackagesTemplate + rpmScripts

// rpmPackagesTemplate is rpmTemplate without its scripts: the job dnf
// does, for the benchmark.
const rpmPackagesTemplate = `extends: rpm-base
distro: vzkittest
release: "1"
keys:
  - file: %s
    fingerprint: %s
repositories:
  - name: base
    type: rpm-md
    url: $mirror
packages:
  variant: "@core"
  include: [oldtool, clock]
`

const rpmScripts = `scripts:
  pre-install: |
    test -x /usr/bin/rpm && ! test -e /usr/bin/vzkit-hello
    echo "$TEMPLATE_NAME" >/root/pre-install
  post-install: |
    # by path: busybox's sh (the test distribution's) prefers its own
    # rpm applet to the rpm on PATH.
    /usr/bin/rpm -q --qf '%%{NAME} %%{VERSION}\n' newtool >/root/post-install
`

// vzpkg build of an RPM distribution end to end: a signed rpm-md
// repository made by rpmbuild, rpmsign and createrepo_c from this host's
// binaries, served on loopback and given with --mirror. The cache, unpacked
// as an admin would, holds exactly the solved set in its own rpm database
// (newtool instead of the obsoleted oldtool, clock at the epoch 2:1.0),
// the effects of the %pre scriptlet and of the %transfiletriggerin, and a
// clean rpm -Va; two builds with the same SOURCE_DATE_EPOCH are identical.
func TestE2EBuildRPMDistribution(t *testing.T) {
	e2eRequire(t, "rpm", "rpmbuild", "rpmsign", "createrepo_c", "gpg", "busybox", "chroot")
	r := rpmmdtest.Build(t, rpmmdtest.Distribution(t), rpmmdtest.Options{Comps: rpmmdtest.Comps})
	mirror := r.Serve(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "vzkittest.asc")
	write(t, keyFile, string(r.Key))
	write(t, filepath.Join(dir, "vzkittest-1-minimal.yaml"), fmt.Sprintf(rpmTemplate, keyFile, r.Fingerprint))
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	e := newE2EEnv(t)

	var sums, caches [2]string
	for i := range sums {
		outDir := filepath.Join(t.TempDir(), fmt.Sprint("build", i))
		out := e.must("vzpkg", "--templates", dir, "build", "vzkittest-1-minimal", "--mirror", mirror, "-o", outDir)
		cachePath := filepath.Join(outDir, "vzkittest-1-minimal.tar.zst")
		caches[i] = cachePath
		var err error
		if sums[i], err = sha256File(cachePath); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if i == 0 {
			checkRPMCache(t, cachePath)
		}
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds with the same SOURCE_DATE_EPOCH and repository differ: %s vs %s", sums[0], sums[1])
		var trees [2]map[string]fileEntry
		for i, c := range caches {
			root := t.TempDir()
			untar(t, c, root, true)
			trees[i] = walkTree(t, root, nil)
		}
		diffs, _ := compareTrees(trees[0], trees[1], nil)
		t.Errorf("files that differ:\n%s", strings.Join(diffs, "\n"))
	}
	// --simulate prints the set the build installed, RPM versions as
	// [epoch:]version-release: newtool for the obsoleted oldtool, and the
	// clock whose epoch wins over a higher version.
	sim := e.must("vzpkg", "--templates", dir, "build", "vzkittest-1-minimal", "--mirror", mirror, "--simulate")
	var want []string
	for _, p := range readManifest(t, caches[0]).Packages {
		want = append(want, p.Name+" "+p.Version+" "+p.Arch)
	}
	slices.Sort(want)
	got := nonEmptyLines(sim)
	if !slices.Equal(got, want) || !slices.Contains(got, "clock 2:1.0-1 noarch") || !slices.Contains(got, "newtool 2.0-1 noarch") {
		t.Errorf("build --simulate:\n%s\nwant the manifest's packages:\n%s", sim, strings.Join(want, "\n"))
	}

	// A container created from the cache, as an admin would: rpm inside
	// finds every package intact and %pre's user is there. rpm is named
	// by its path: Debian's static busybox, the test distribution's sh,
	// runs its own rpm applet before looking at PATH.
	if err := os.MkdirAll(e.cacheDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".tar.zst", ".json"} {
		b, err := os.ReadFile(strings.TrimSuffix(caches[0], ".tar.zst") + ext)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(e.cacheDir(), "vzkittest-1-minimal"+ext), string(b))
	}
	e.must("vzctl", "create", "201", "--ostemplate", "vzkittest-1-minimal")
	t.Cleanup(func() {
		e.run("vzctl", "stop", "201", "--fast")
		e.run("vzctl", "destroy", "201")
	})
	e.must("vzctl", "start", "201")
	// The one difference rpm may see: /proc and /sys, mounted by the
	// kernel over the package's directories, belong to the host's root,
	// whom an unprivileged container sees as nobody (U and G).
	o, s, _ := e.run("vzctl", "exec", "201", "/usr/bin/rpm", "-Va")
	for _, l := range nonEmptyLines(o + s) {
		if f := strings.Fields(l); len(f) != 2 || f[0] != ".....UG.." || (f[1] != "/proc" && f[1] != "/sys") {
			t.Errorf("rpm -Va in the container: %q", l)
		}
	}
	if got := e.must("vzctl", "exec", "201", "grep ^vzd: /etc/passwd"); !strings.HasPrefix(got, "vzd:x:990:990:") {
		t.Errorf("the user %%pre made, in the container: %q", got)
	}
	if got := len(nonEmptyLines(e.must("vzctl", "exec", "201", "/usr/bin/rpm -qa | grep -v ^gpg-pubkey"))); got != len(want) {
		t.Errorf("rpm -qa in the container: %d packages, want %d", got, len(want))
	}
	e.must("vzctl", "stop", "201")
	e.must("vzctl", "destroy", "201")
	for _, ext := range []string{".tar.zst", ".json"} {
		os.Remove(filepath.Join(e.cacheDir(), "vzkittest-1-minimal"+ext))
	}
	if left := e.leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// checkRPMCache unpacks the cache and checks it with the rpm inside.
func checkRPMCache(t *testing.T, cachePath string) {
	t.Helper()
	m := readManifest(t, cachePath)
	if m.Format != cache.PackageFormat("rpm") {
		t.Errorf("manifest format %q, want rpm", m.Format)
	}
	root := t.TempDir()
	untar(t, cachePath, root, true)
	inside := func(args ...string) (string, error) {
		out, err := exec.Command("chroot", append([]string{root}, args...)...).CombinedOutput()
		return string(out), err
	}
	qa, err := inside("/usr/bin/rpm", "-qa", "--qf", "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH}\n")
	if err != nil {
		t.Fatalf("rpm -qa inside: %v\n%s", err, qa)
	}
	installed := map[string]string{}
	keys := 0
	for _, l := range nonEmptyLines(qa) {
		f := strings.Fields(l)
		if f[0] == "gpg-pubkey" {
			keys++ // the imported template key
			continue
		}
		installed[f[0]] = strings.TrimPrefix(f[1], "0:") + " " + f[2]
	}
	if keys != 1 {
		t.Errorf("rpm -qa lists %d gpg-pubkey entries, want the template's one key:\n%s", keys, qa)
	}
	var names []string
	for n := range installed {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"busybox", "clock", "filesystem", "glibc", "newtool", "rpm", "rpm-libs", "setup", "vzkit-daemon", "vzkit-tools"}
	if !slices.Equal(names, want) {
		t.Errorf("rpm -qa inside: %v, want %v", names, want)
	}
	if v := installed["clock"]; !strings.HasPrefix(v, "2:1.0-") {
		t.Errorf("clock %q installed, want the epoch 2:1.0", v)
	}
	var listed []string
	for _, p := range m.Packages {
		listed = append(listed, p.Name)
		if got := installed[p.Name]; got != p.Version+" "+p.Arch {
			t.Errorf("manifest lists %s %s %s, rpm -qa has %q", p.Name, p.Version, p.Arch, got)
		}
	}
	slices.Sort(listed)
	if !slices.Equal(listed, names) {
		t.Errorf("manifest lists %v, rpm -qa %v", listed, names)
	}
	// rpm takes the transaction's time from SOURCE_DATE_EPOCH (and counts
	// each package's install time up from it), which is what lets two
	// builds on different days give the same database.
	tids, err := inside("/usr/bin/rpm", "-qa", "--qf", "%{NAME} %{INSTALLTID}\n")
	if err != nil {
		t.Errorf("rpm -qa INSTALLTID: %v\n%s", err, tids)
	}
	for _, l := range nonEmptyLines(tids) {
		if !strings.HasSuffix(l, " 1700000000") {
			t.Errorf("install transaction %q, want SOURCE_DATE_EPOCH 1700000000", l)
		}
	}
	if out, err := inside("/usr/bin/rpm", "-Va"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("rpm -Va inside: %v\n%s", err, out)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if !strings.Contains(string(passwd), "\nvzd:x:990:") {
		t.Errorf("%%pre did not add the user vzd:\n%s", passwd)
	}
	// rpm gave vzkit-daemon's directory to the user its %pre made.
	if st, err := os.Stat(filepath.Join(root, "var/lib/vzd")); err != nil || st.Sys().(*syscall.Stat_t).Uid != 990 {
		t.Errorf("/var/lib/vzd: %v, want it owned by vzd (990)", err)
	}
	units, _ := os.ReadFile(filepath.Join(root, "var/lib/vzd/units"))
	if !strings.Contains(string(units), "/usr/lib/vzkit-units/tools.unit") {
		t.Errorf("the file trigger did not run: /var/lib/vzd/units %q", units)
	}
	if out, err := inside("/usr/bin/vzkit-hello"); err != nil || out != "hello from vzkit-tools\n" {
		t.Errorf("vzkit-hello: %v %q", err, out)
	}
	for f, want := range map[string]string{"root/pre-install": "vzkittest-1-minimal\n", "root/post-install": "newtool 2.0\n"} {
		if got, err := os.ReadFile(filepath.Join(root, f)); err != nil || string(got) != want {
			t.Errorf("/%s: %v %q, want %q", f, err, got, want)
		}
	}
	for _, p := range []string{"tmp/vzkit-rpms", "tmp/vzkit-keys"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("/%s is left in the cache", p)
		}
	}
}

// An unsigned rpm-md repository builds only when the template says
// insecure: true, and the manifest says its mirror was not signed; the
// same template without it (and without keys) is refused before anything
// is downloaded. It also locks, builds from its lock file, and refuses an
// update in place.
func TestE2EBuildRPMInsecureRepository(t *testing.T) {
	e2eRequire(t, "rpm", "rpmbuild", "createrepo_c", "busybox", "chroot")
	r := rpmmdtest.Build(t, rpmmdtest.Distribution(t), rpmmdtest.Options{Comps: rpmmdtest.Comps, Unsigned: true})
	mirror := r.Serve(t)
	dir := t.TempDir()
	const tmpl = `extends: rpm-base
distro: vzkittest
release: "1"
repositories:
  - name: base
    type: rpm-md
    url: $mirror
%s
packages:
  variant: "@core"
`
	write(t, filepath.Join(dir, "vzkittest-1-signed.yaml"), fmt.Sprintf(tmpl, ""))
	write(t, filepath.Join(dir, "vzkittest-1-insecure.yaml"), fmt.Sprintf(tmpl, "    insecure: true"))
	e := newE2EEnv(t)
	outDir := t.TempDir()
	o, s, err := e.run("vzpkg", "--templates", dir, "build", "vzkittest-1-signed", "--mirror", mirror, "-o", outDir)
	if err == nil || strings.Contains(o, "download") || !strings.Contains(s, "insecure: true") {
		t.Errorf("unsigned repository without insecure: true: %v\n%s\n%s", err, o, s)
	}
	t.Logf("refused: %s", s)
	// Locked, then built from the lock: the lock pins the rpm packages.
	lock := filepath.Join(t.TempDir(), "lock.json")
	e.must("vzpkg", "--templates", dir, "lock", "vzkittest-1-insecure", "--mirror", mirror, "-o", lock)
	l, err := lockfile.Read(lock)
	if err != nil {
		t.Fatal(err)
	}
	if l.Format != repo.FormatRPM || len(l.Packages) == 0 {
		t.Errorf("lock: format %q, %d packages", l.Format, len(l.Packages))
	}
	e.must("vzpkg", "--templates", dir, "build", "vzkittest-1-insecure", "--mirror", mirror, "-o", outDir, "--lockfile", lock)
	cachePath := filepath.Join(outDir, "vzkittest-1-insecure.tar.zst")
	m := readManifest(t, cachePath)
	if m.MirrorSigned || m.Format != cache.PackageFormat("rpm") {
		t.Errorf("manifest: mirror signed %v, format %q; want an unsigned rpm mirror", m.MirrorSigned, m.Format)
	}
	if len(m.Packages) != len(l.Packages) {
		t.Errorf("built %d packages from a lock of %d", len(m.Packages), len(l.Packages))
	}
	// Updating an RPM cache in place is not built yet: refused, naming
	// what to do instead, and the cache is left as it was.
	before, err := sha256File(cachePath)
	if err != nil {
		t.Fatal(err)
	}
	o, s, err = e.run("vzpkg", "--templates", dir, "update", "vzkittest-1-insecure", "--mirror", mirror, "-o", outDir)
	if err == nil || !strings.Contains(s, "not supported yet: rebuild it with vzpkg build") {
		t.Errorf("update of an RPM cache: %v\n%s\n%s", err, o, s)
	}
	if after, _ := sha256File(cachePath); after != before {
		t.Errorf("a refused update changed the cache")
	}
	root := t.TempDir()
	untar(t, cachePath, root, true)
	if out, err := exec.Command("chroot", root, "/usr/bin/rpm", "-Va").CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("rpm -Va inside: %v\n%s", err, out)
	}
	if out, err := exec.Command("chroot", root, "/usr/bin/rpm", "-q", "vzkit-tools", "newtool").CombinedOutput(); err == nil {
		t.Errorf("rpm -q vzkit-tools newtool: newtool is not in @core, yet installed:\n%s", out)
	} else if !strings.Contains(string(out), "vzkit-tools-1.0") {
		t.Errorf("rpm -q vzkit-tools: %v\n%s", err, out)
	}
}
