package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The manifest records the package format; a manifest written before the
// field (none) still reads, and an unknown format is refused.
func TestManifestFormat(t *testing.T) {
	dir := t.TempDir()
	m := &Manifest{Name: "t", Format: FormatRPM, Archive: Archive{SHA256: strings.Repeat("ab", 32), Size: 1}}
	path := filepath.Join(dir, "t.json")
	if err := WriteManifest(path, m); err != nil {
		t.Fatal(err)
	}
	back, err := ReadManifest(path)
	if err != nil || back.Format != FormatRPM {
		t.Fatalf("read back %+v, %v", back, err)
	}
	data, _ := os.ReadFile(path)
	for name, c := range map[string]struct {
		text string
		ok   bool
	}{
		"old": {strings.Replace(string(data), `"format": "rpm",`, "", 1), true},
		"zip": {strings.Replace(string(data), `"format": "rpm"`, `"format": "zip"`, 1), false},
	} {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadManifest(p)
		if c.ok && (err != nil || got.Format != "") || !c.ok && err == nil {
			t.Errorf("%s manifest: %+v, %v", name, got, err)
		}
	}
}
