package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vzkit/vzkit/repo/apt/apttest"
	"github.com/vzkit/vzkit/repo/lockfile"
)

// Same metadata + same repository state ⇒ bit-identical cache. The
// repository is a local, signed copy of the packages debian-12-minimal
// needs, so nothing can move between the two builds; SOURCE_DATE_EPOCH is
// left unset, so the default (the newest package's date) is exercised too.
func TestReproducibleBuildFromLocalRepository(t *testing.T) {
	e2eRequire(t, "apt-ftparchive", "gpg")
	e := newE2EEnv(t)

	// The exact package set, fetched into the store.
	lock := filepath.Join(t.TempDir(), "lock.json")
	e.must("vzpkg", "lock", "debian-12-minimal", "-o", lock)
	e.must("vzpkg", "fetch", "debian-12-minimal")
	l, err := lockfile.Read(lock)
	if err != nil {
		t.Fatal(err)
	}

	// A local apt repository of exactly those .debs, signed by a fresh key.
	repo := &apttest.Repo{Root: filepath.Join(t.TempDir(), "repo"), Suite: "bookworm", GnuPGHome: filepath.Join(t.TempDir(), "gnupg")}
	repo.URI = "file://" + repo.Root
	pool := filepath.Join(repo.Root, "pool")
	bin := filepath.Join(repo.Root, "dists/bookworm/main/binary-amd64")
	for _, d := range []string{pool, bin, repo.GnuPGHome} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	store := filepath.Join(e.root, "shared/packages")
	for _, p := range l.Packages {
		src := filepath.Join(store, p.SHA256[:2], p.SHA256)
		if err := os.Link(src, filepath.Join(pool, p.SHA256+".deb")); err != nil {
			t.Fatalf("package %s not in the store: %v", p.Name, err)
		}
	}
	out, err := exec.Command("sh", "-c", `cd "$1" && apt-ftparchive packages pool > "$2/Packages" && xz -k "$2/Packages"`, "sh", repo.Root, bin).CombinedOutput()
	if err != nil {
		t.Fatalf("index the local repository: %v\n%s", err, out)
	}
	repo.Sign(t, "amd64")
	pub, err := exec.Command("gpg", "--homedir", repo.GnuPGHome, "--armor", "--export", repo.Fingerprint).Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "local.asc")
	write(t, keyFile, string(pub))
	write(t, filepath.Join(dir, "repro-12.yaml"), fmt.Sprintf(`extends: debian-12-minimal
variant: repro
repositories: !replace
  - name: main
    type: apt
    url: %s
    suites: [bookworm]
    components: [main]
keys: !replace
  - file: %s
    fingerprint: %s
`, repo.URI, keyFile, repo.Fingerprint))

	var sums [2]string
	var manifests [2][]byte
	for i := range sums {
		outDir := filepath.Join(t.TempDir(), fmt.Sprint("build", i))
		e.must("vzpkg", "--templates", dir, "build", "repro-12", "-o", outDir)
		cachePath := filepath.Join(outDir, "repro-12.tar.zst")
		if sums[i], err = sha256File(cachePath); err != nil {
			t.Fatal(err)
		}
		if manifests[i], err = os.ReadFile(filepath.Join(outDir, "repro-12.json")); err != nil {
			t.Fatal(err)
		}
		if m := readManifest(t, cachePath); len(m.Packages) != len(l.Packages) || m.Archive.SourceDateEpoch == 0 {
			t.Errorf("build %d: %d packages (want %d), epoch %d", i, len(m.Packages), len(l.Packages), m.Archive.SourceDateEpoch)
		}
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds of the same metadata and repository differ: %s vs %s", sums[0], sums[1])
	}
	if string(manifests[0]) != string(manifests[1]) {
		t.Errorf("manifests differ:\n%s\n---\n%s", manifests[0], manifests[1])
	}
}
