package metadata

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// FuzzLoad feeds arbitrary bytes as a template that may extend the shipped
// ones: loading must not panic, every problem must have a position, and a
// template that loads must be complete and expandable without panics.
func FuzzLoad(f *testing.F) {
	shipped, err := filepath.Glob("../distros/templates/*.yaml")
	if err != nil || len(shipped) == 0 {
		f.Fatalf("no shipped templates to seed from: %v", err)
	}
	fsys := fstest.MapFS{}
	for _, p := range shipped {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		fsys["t/"+filepath.Base(p)] = &fstest.MapFile{Data: b}
		f.Add(b)
	}
	lint, _ := filepath.Glob("testdata/lint/*.yaml")
	for _, p := range lint {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := fstest.MapFS{}
		for k, v := range fsys {
			m[k] = v
		}
		m["t/fuzz.yaml"] = &fstest.MapFile{Data: b}
		l := &Loader{Sources: []Source{{Name: "mem", FS: m, Dir: "t"}}}
		tp, err := l.Load(context.Background(), "fuzz")
		var ps Problems
		switch {
		case errors.As(err, &ps):
			for _, p := range ps {
				if p.Pos.Line < 1 || p.Pos.Col < 1 || p.Pos.File == "" {
					t.Fatalf("problem without a position: %+v", p)
				}
			}
			return
		case err != nil:
			return
		}
		if tp.Distro == "" || len(tp.Arch) == 0 || len(tp.Repositories) == 0 {
			t.Fatalf("incomplete template loaded without problems: %+v", tp)
		}
		_, _ = tp.Expand(map[string]string{"mirror": "http://m.example.org/debian", "security_mirror": "http://s.example.org/debian-security"})
	})
}
