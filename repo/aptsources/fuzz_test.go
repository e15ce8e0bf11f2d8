package aptsources

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func seed(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		files, _ := filepath.Glob(p)
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

func FuzzParseDeb822(f *testing.F) {
	seed(f, "testdata/etc-apt/sources.list.d/*.sources", "testdata/*.sources", "/etc/apt/sources.list.d/*.sources")
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParseDeb822(bytes.NewReader(b), "fuzz.sources")
		if err != nil {
			return
		}
		for _, e := range es {
			if len(e.URIs) == 0 || len(e.Suites) == 0 || len(e.Types) == 0 {
				t.Fatalf("entry without URIs/Suites/Types accepted: %+v", e)
			}
		}
	})
}

func FuzzParseList(f *testing.F) {
	seed(f, "testdata/etc-apt/sources.list", "testdata/*.list", "/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list")
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParseList(bytes.NewReader(b), "fuzz.list")
		if err != nil {
			return
		}
		for _, e := range es {
			if len(e.URIs) != 1 || len(e.Suites) != 1 || e.Line < 1 {
				t.Fatalf("bad entry accepted: %+v", e)
			}
			_, _ = Pick(es, Query{Distro: "debian", Suite: "bookworm", Security: true})
		}
	})
}
