package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/repo/lockfile"
)

// TestBuildSimulate: build --simulate prints, one "name version arch"
// line each, exactly the set vzpkg lock pins for the same template (the
// same solver, the one that matches mmdebstrap's), in JSON too, and
// leaves no package in the store and no cache behind.
func TestBuildSimulate(t *testing.T) {
	e2eRequire(t, "gpg")
	e := newE2EEnv(t)
	// The package store is shared by the end-to-end tests: what matters
	// is that simulate adds nothing to it.
	store := filepath.Join(e.root, "shared/packages")
	count := func() int {
		n := 0
		filepath.WalkDir(store, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	before := count()
	out := e.must("vzpkg", "build", "debian-12-minimal", "--simulate")
	if after := count(); after != before {
		t.Errorf("--simulate stored %d packages", after-before)
	}
	if ents, _ := os.ReadDir(e.cacheDir()); len(ents) > 0 {
		t.Errorf("--simulate left %d entries in the cache directory", len(ents))
	}
	lock := filepath.Join(t.TempDir(), "lock.json")
	e.must("vzpkg", "lock", "debian-12-minimal", "-o", lock)
	l, err := lockfile.Read(lock)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range l.Packages {
		want = append(want, p.Name+" "+p.Version+" "+p.Arch)
	}
	slices.Sort(want)
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !slices.Equal(got, want) {
		t.Errorf("build --simulate printed %d lines, the lock pins %d packages:\n%s", len(got), len(want), out)
	}
	var pkgs []simulatedPackage
	if err := json.Unmarshal([]byte(e.must("vzpkg", "build", "debian-12-minimal", "--simulate", "-o", "json")), &pkgs); err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != len(want) || pkgs[0].Format != "deb" || pkgs[0].Name+" "+pkgs[0].Version+" "+pkgs[0].Arch != want[0] {
		t.Errorf("build --simulate -o json: %d packages, first %+v; want %d, first %q", len(pkgs), pkgs[0], len(want), want[0])
	}
	if _, stderr, err := e.run("vzpkg", "build", "debian-12-minimal", "--simulate", "-o", "xml"); err == nil || !strings.Contains(stderr, "output format") {
		t.Errorf("--simulate -o xml: %v %q", err, stderr)
	}
}
