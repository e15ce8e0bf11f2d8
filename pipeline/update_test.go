package pipeline

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceCache: the current set (with signature and SBOM) becomes the -old
// set, the previous -old set is gone, the new pair and its SBOM take the
// current names, and no signature is left claiming the new cache.
func TestReplaceCache(t *testing.T) {
	dir, newDir := t.TempDir(), t.TempDir()
	for f, content := range map[string]string{
		"c.tar.zst": "cur-archive", "c.json": "cur-manifest", "c.tar.zst.asc": "cur-sig", "c.spdx.json": "cur-sbom",
		"c-old.tar.zst": "prev-archive", "c-old.json": "prev-manifest", "c-old.spdx.json": "prev-sbom",
		"other.tar.zst": "other",
	} {
		write(t, filepath.Join(dir, f), content)
	}
	for f, content := range map[string]string{"c.tar.zst": "new-archive", "c.json": "new-manifest", "c.spdx.json": "new-sbom"} {
		write(t, filepath.Join(newDir, f), content)
	}
	if err := replaceCache(dir, newDir, "c"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"c.tar.zst": "new-archive", "c.json": "new-manifest", "c.spdx.json": "new-sbom",
		"c-old.tar.zst": "cur-archive", "c-old.json": "cur-manifest", "c-old.tar.zst.asc": "cur-sig", "c-old.spdx.json": "cur-sbom",
		"other.tar.zst": "other",
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(want) {
		t.Errorf("%d files in the cache directory, want %d: %v", len(ents), len(want), ents)
	}
	for f, content := range want {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != content {
			t.Errorf("%s = %q (%v), want %q", f, b, err, content)
		}
	}
	if ents, _ := os.ReadDir(newDir); len(ents) != 0 {
		t.Errorf("left in the temporary directory: %v", ents)
	}
}
