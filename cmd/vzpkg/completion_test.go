package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCompletion(t *testing.T) {
	root := t.TempDir()
	cacheDir := filepath.Join(root, "var/lib/vzkit/template/cache")
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"debian-12-minimal.tar.zst", "debian-12-minimal.json"} {
		if err := os.WriteFile(filepath.Join(cacheDir, f), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	complete := func(args ...string) []string {
		out, _, err := run(t, root, append([]string{"__complete"}, args...)...)
		if err != nil {
			t.Fatalf("__complete %q: %v", args, err)
		}
		var words []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if w, _, _ := strings.Cut(l, "\t"); !strings.HasPrefix(w, ":") && !strings.HasPrefix(w, "Completion ended") {
				words = append(words, w)
			}
		}
		return words
	}
	build := complete("build", "")
	for _, want := range []string{"debian-12-minimal", "debian-13-standard", "ubuntu-24.04-minimal"} {
		if !slices.Contains(build, want) {
			t.Errorf("build: %q lacks %s", build, want)
		}
	}
	if slices.Contains(build, "debian-base") {
		t.Errorf("build offers the abstract debian-base: %q", build)
	}
	if got := complete("cache", "verify", ""); !slices.Equal(got, []string{"debian-12-minimal"}) {
		t.Errorf("cache verify: %q", got)
	}
	if got := complete("build", "debian-12-minimal", "--tmpfs", ""); !slices.Equal(got, []string{"auto", "always", "never"}) {
		t.Errorf("build --tmpfs: %q", got)
	}
}
