package metadata

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/vzkit/vzkit/distros"
)

// copyTree writes the files of fsys into dir, as an admin copies the
// shipped metadata to a host directory.
func copyTree(t *testing.T, fsys fs.FS, dir string) {
	t.Helper()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The same template digests the same whether it is loaded from the
// shipped set or from a host copy of it (its chain, key files beside it
// and scripts then have other paths); a change of content changes it.
func TestDigestIgnoresWhereTheTemplateLies(t *testing.T) {
	ctx := context.Background()
	host := t.TempDir()
	copyTree(t, distros.Metadata(), host)
	shipped := &Loader{Sources: []Source{{Name: "(builtin)", FS: distros.Metadata(), Dir: distros.TemplateDir}}}
	copied := &Loader{Sources: []Source{DirSource(filepath.Join(host, distros.TemplateDir))}}
	values := map[string]string{"mirror": "http://m.example.org/debian", "security_mirror": "http://s.example.org/debian-security"}
	digest := func(l *Loader, name string) (string, *Template) {
		t.Helper()
		tp, err := l.Load(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		x, err := tp.Expand(values)
		if err != nil {
			t.Fatal(err)
		}
		return x.Digest(), x
	}
	// debian-12-minimal extends debian-base; almalinux-9-minimal has a
	// key file beside it (../keys/...).
	for _, name := range []string{"debian-12-minimal", "almalinux-9-minimal"} {
		a, ta := digest(shipped, name)
		b, tb := digest(copied, name)
		if ta.File == tb.File || ta.Chain[len(ta.Chain)-1] == tb.Chain[len(tb.Chain)-1] {
			t.Fatalf("%s: both loads name the same file %s: the test proves nothing", name, ta.File)
		}
		if a != b {
			t.Errorf("%s: shipped digest %s, host copy %s", name, a, b)
		}
		if a != ta.Digest() {
			t.Errorf("%s: digest not stable: %s then %s", name, a, ta.Digest())
		}
		tb.Packages.Include = append(tb.Packages.Include, "less")
		if tb.Digest() == a {
			t.Errorf("%s: another include, same digest", name)
		}
	}
	if a, _ := digest(shipped, "debian-12-minimal"); a == func() string { d, _ := digest(shipped, "debian-13-minimal"); return d }() {
		t.Error("debian 12 and 13 digest the same")
	}
}
