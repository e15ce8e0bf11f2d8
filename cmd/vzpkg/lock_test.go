package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/pipeline"
	"github.com/vzkit/vzkit/repo/apt/apttest"
	"github.com/vzkit/vzkit/repo/lockfile"
)

// localTemplate writes, into dir, template NAME whose only repository is
// the local apt repository r (signed with r's key) and installs include.
// extends, when not "", makes it a child of that template instead, the
// local repository added to the parent's.
func localTemplate(t *testing.T, dir, name, extends string, r *apttest.Repo, include ...string) {
	t.Helper()
	c := exec.Command("gpg", "--batch", "--armor", "--export", r.Fingerprint)
	c.Env = append(os.Environ(), "GNUPGHOME="+r.GnuPGHome)
	key, err := c.Output()
	if err != nil {
		t.Fatalf("gpg --export: %v", err)
	}
	var b strings.Builder
	if extends != "" {
		fmt.Fprintf(&b, "extends: %s\ncache:\n  zstd-level: 3\n", extends)
	} else {
		b.WriteString("distro: debian\nrelease: \"0\"\nvariant: local\narch: [amd64]\n")
	}
	fmt.Fprintf(&b, "repositories:\n  - name: local\n    type: apt\n    url: %s\n    suites: [%s]\n    components: [main]\n    keys:\n      - fingerprint: %s\n        armored: |\n",
		r.URI, r.Suite, r.Fingerprint)
	for _, l := range strings.Split(strings.TrimSpace(string(key)), "\n") {
		b.WriteString("          " + l + "\n")
	}
	b.WriteString("packages:\n")
	if extends == "" {
		b.WriteString("  variant: custom\n")
	}
	fmt.Fprintf(&b, "  include: [%s]\n", strings.Join(include, ", "))
	write(t, filepath.Join(dir, name+".yaml"), b.String())
}

// pipelineFor resolves a template in process, as the commands do, with
// its output in buf.
func pipelineFor(t *testing.T, root string, dirs []string, name string, buf *bytes.Buffer) *cmdPipeline {
	t.Helper()
	a := &app{templateDirs: dirs}
	a.Root = root
	p, err := a.newPipeline(context.Background(), name, resolveOptions{}, buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.LoadIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

func sameResult(t *testing.T, free, locked *pipeline.Solution) {
	t.Helper()
	if len(free.Packages) != len(locked.Packages) {
		t.Fatalf("free solve %d packages, locked %d", len(free.Packages), len(locked.Packages))
	}
	for i := range free.Packages {
		f, l := free.Packages[i], locked.Packages[i]
		if f.Name != l.Name || f.Version != l.Version || f.Checksum != l.Checksum {
			t.Errorf("package %d: free %s %s, locked %s %s", i, f.Name, f.Version, l.Name, l.Version)
		}
	}
	if len(free.Stages) != 2 || !slices.EqualFunc(free.Stages, locked.Stages, slices.Equal) {
		t.Errorf("install order differs:\nfree   %v\nlocked %v", free.Stages, locked.Stages)
	}
}

// vzpkg lock on a local signed repository, then the locked path of a
// build: same packages, same order. The repository then moves on (a new
// version replaces the locked one): the locked path fails naming the
// package, the locked version and the current one.
func TestLockLocalRepository(t *testing.T) {
	debs := []apttest.Deb{
		{Name: "hello-vz", Version: "1.0-1", Arch: "amd64", Depends: "libvz (>= 2)", Content: "hello"},
		{Name: "libvz", Version: "2.1", Arch: "amd64", Content: "lib"},
		{Name: "unrelated-vz", Version: "9", Arch: "all", Content: "x"},
	}
	r := apttest.Build(t, "amd64", debs)
	root, tdir := t.TempDir(), t.TempDir()
	localTemplate(t, tdir, "vz-local", "", r, "hello-vz")
	lockPath := filepath.Join(t.TempDir(), "vz-local.lock.json")

	out, code, err := run(t, root, "--templates", tdir, "lock", "vz-local", "-o", lockPath)
	if code != 0 {
		t.Fatalf("lock: exit %d: %v\n%s", code, err, out)
	}
	if !strings.Contains(out, "lock: 2 packages from 1 repository suites written to "+lockPath) {
		t.Errorf("lock output:\n%s", out)
	}
	l, err := lockfile.Read(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	inRelease, err := sha256File(filepath.Join(r.Root, "dists/test/InRelease"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Repositories) != 1 || l.Repositories[0].ReleaseFile != "InRelease" || l.Repositories[0].ReleaseSHA256 != inRelease {
		t.Errorf("repositories %+v, InRelease sha256 %s", l.Repositories, inRelease)
	}
	if len(l.Packages) != 2 || l.Packages[0].Name != "hello-vz" || l.Packages[0].Version != "1.0-1" || l.Packages[1].Name != "libvz" {
		t.Fatalf("locked %+v", l.Packages)
	}
	deb := filepath.Join(r.Root, l.Packages[0].Filename)
	if sum, err := sha256File(deb); err != nil || sum != l.Packages[0].SHA256 {
		t.Errorf("locked sha256 %s, %s has %s (%v)", l.Packages[0].SHA256, deb, sum, err)
	}
	first, _ := os.ReadFile(lockPath)
	if out, code, _ := run(t, root, "--templates", tdir, "lock", "vz-local", "-o", lockPath); code != 0 {
		t.Fatal(out)
	}
	if second, _ := os.ReadFile(lockPath); !bytes.Equal(first, second) {
		t.Errorf("locking the same repository state twice gave different files")
	}

	var buf bytes.Buffer
	free := pipelineFor(t, root, []string{tdir}, "vz-local", &buf)
	if err := free.Solve(context.Background()); err != nil {
		t.Fatal(err)
	}
	locked := pipelineFor(t, root, []string{tdir}, "vz-local", &buf)
	if err := locked.SolveLocked(context.Background(), lockPath); err != nil {
		t.Fatal(err)
	}
	sameResult(t, free.Solution(), locked.Solution())

	// The repository moves on: a new build of hello-vz replaces 1.0-1.
	debs[0].Version = "1.0-2"
	r2 := apttest.Build(t, "amd64", debs)
	localTemplate(t, tdir, "vz-local", "", r2, "hello-vz")
	buf.Reset()
	moved := pipelineFor(t, root, []string{tdir}, "vz-local", &buf)
	err = moved.SolveLocked(context.Background(), lockPath)
	if err == nil || !strings.Contains(err.Error(), "hello-vz 1.0-1 is no longer in test main (now 1.0-2)") {
		t.Fatalf("lockedSet after the bump: %v", err)
	}
	if strings.Contains(err.Error(), "libvz") {
		t.Errorf("unchanged libvz reported: %v", err)
	}
	// The repository URL and key changed, so the metadata did: a warning,
	// not the failure (the packages decide).
	if !strings.Contains(buf.String(), "was made from other metadata") {
		t.Errorf("no metadata warning:\n%s", buf.String())
	}

	// A lock made for another architecture is refused before anything else.
	l.Arch = "arm64"
	other := filepath.Join(t.TempDir(), "arm64.lock.json")
	if err := lockfile.Write(other, l); err != nil {
		t.Fatal(err)
	}
	if err := moved.SolveLocked(context.Background(), other); err == nil || !strings.Contains(err.Error(), "is for template vz-local/arm64, not vz-local/amd64") {
		t.Errorf("arm64 lock: %v", err)
	}
}

// The real thing: lock debian-12-minimal against the host's Debian mirror;
// the locked path gives exactly the freely solved set and install order.
func TestLockDebianMinimal(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Debian's archive: skipped with -short")
	}
	hostDebianMirror(t, "bookworm")
	root := t.TempDir()
	lockPath := filepath.Join(t.TempDir(), "d12.lock.json")
	out, code, err := run(t, root, "lock", "debian-12-minimal", "-o", lockPath)
	if code != 0 {
		t.Fatalf("lock: exit %d: %v\n%s", code, err, out)
	}
	l, err := lockfile.Read(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range l.Packages {
		names = append(names, p.Name)
	}
	for _, want := range []string{"apt", "base-files", "dpkg", "libc6"} {
		if !slices.Contains(names, want) {
			t.Errorf("lock lacks %s: %v", want, names)
		}
	}
	if r := l.Repositories[0]; r.Codename != "bookworm" || r.Date.IsZero() || r.ReleaseSHA256 == "" {
		t.Errorf("repository %+v", r)
	}
	var buf bytes.Buffer
	free := pipelineFor(t, root, nil, "debian-12-minimal", &buf)
	if err := free.Solve(context.Background()); err != nil {
		t.Fatal(err)
	}
	locked := pipelineFor(t, root, nil, "debian-12-minimal", &buf)
	if err := locked.SolveLocked(context.Background(), lockPath); err != nil {
		t.Fatal(err)
	}
	sameResult(t, free.Solution(), locked.Solution())
	t.Logf("figure: %d packages locked, %d in the essential stage", len(l.Packages), len(locked.Solution().Stages[0]))
}
