package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/hostiletest"
	"github.com/vzkit/vzkit/internal/saferoot"
	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/internal/testfixtures"
	"github.com/vzkit/vzkit/internal/xzstream"

	"github.com/vzkit/vzkit/internal/extract"
)

var fixtures = testfixtures.Dir()

// fixtureDebs are real packages with every member compression in use:
// control/data .tar.xz (Debian), .tar.zst (Ubuntu), .tar.gz (old Debian).
func fixtureDebs(t testing.TB) []string {
	var out []string
	for _, pattern := range []string{
		"debian-archive/debian/pool/*/*/*/*.deb",
		"aptly/system/*/*.deb", "aptly/system/*/*/*.deb", "aptly/system/*/*.ddeb", "aptly/system/*/*.udeb",
	} {
		m, _ := filepath.Glob(filepath.Join(fixtures, pattern))
		out = append(out, m...)
	}
	if len(out) < 6 {
		testenv.Missing(t, "fixtures missing under %s", fixtures)
	}
	return out
}

func dpkgDeb(t testing.TB, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		testenv.Missing(t, "dpkg-deb not installed (apt-get install dpkg)")
	}
	out, err := exec.Command("dpkg-deb", args...).Output()
	if err != nil {
		t.Fatalf("dpkg-deb %v: %v", args, err)
	}
	return string(out)
}

// TestOpenMatchesDpkgDeb checks control fields, control files and the file
// list against dpkg-deb's own reading of the same packages.
func TestOpenMatchesDpkgDeb(t *testing.T) {
	for _, f := range fixtureDebs(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := Open(f)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(dpkgDeb(t, "-f", f, "Package", "Version", "Architecture"), "\n")
			got := []string{"Package: " + p.Name, "Version: " + p.Version, "Architecture: " + p.Architecture}
			for i, g := range got {
				if want[i] != g {
					t.Errorf("field %d: got %q, dpkg-deb %q", i, g, want[i])
				}
			}
			dir := t.TempDir()
			dpkgDeb(t, "-e", f, dir)
			ents, _ := os.ReadDir(dir)
			var names []string
			for _, e := range ents {
				if e.Name() == "control" {
					continue
				}
				names = append(names, e.Name())
				b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
				if !bytes.Equal(b, p.Info[e.Name()]) {
					t.Errorf("control file %s differs from dpkg-deb -e", e.Name())
				}
			}
			if len(names) != len(p.Info) {
				t.Errorf("control files: dpkg-deb %v, got %d", names, len(p.Info))
			}

			files, err := p.Files(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var wantFiles []string
			tr := tar.NewReader(strings.NewReader(dpkgDeb(t, "--fsys-tarfile", f)))
			for {
				h, err := tr.Next()
				if err != nil {
					break
				}
				n := "/" + strings.TrimPrefix(strings.TrimPrefix(h.Name, "."), "/")
				if n == "/" {
					n = "/."
				}
				wantFiles = append(wantFiles, strings.TrimSuffix(n, "/"))
			}
			if !slices.Equal(files, wantFiles) {
				t.Errorf("Files() = %v\ndpkg-deb: %v", files, wantFiles)
			}
		})
	}
}

// TestExtractMatchesDpkgDeb unpacks each fixture and compares the tree
// with what `dpkg-deb -x` makes of the same package.
func TestExtractMatchesDpkgDeb(t *testing.T) {
	for _, f := range fixtureDebs(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := Open(f)
			if err != nil {
				t.Fatal(err)
			}
			ours, theirs := t.TempDir(), t.TempDir()
			r, err := extract.OpenRoot(ours)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			res, err := p.Extract(context.Background(), r, extract.Options{IgnoreOwner: os.Geteuid() != 0})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Paths) == 0 {
				t.Fatal("nothing extracted")
			}
			dpkgDeb(t, "-x", f, theirs)
			a, b := scanTree(t, theirs), scanTree(t, ours)
			for path, want := range a {
				if path == "/" {
					continue // the root's own mode is the temp dir's
				}
				if got, ok := b[path]; !ok {
					t.Errorf("missing %s", path)
				} else if got != want {
					t.Errorf("%s: got %v, dpkg-deb %v", path, got, want)
				}
			}
			if len(a) != len(b) {
				t.Errorf("%d paths, dpkg-deb %d", len(b), len(a))
			}
		})
	}
}

func scanTree(t *testing.T, root string) map[string]string {
	out := map[string]string{}
	for p, n := range scan(t, root) {
		out[p] = n.String()
	}
	return out
}

// FuzzOpen: arbitrary bytes as a .deb never panic or hang Open, Files.
func FuzzOpen(f *testing.F) {
	for _, p := range fixtureDebs(f) {
		if st, err := os.Stat(p); err == nil && st.Size() < 64<<10 {
			b, _ := os.ReadFile(p)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "x.deb")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Open(file)
		if err != nil {
			return
		}
		if p.Name == "" || p.Version == "" {
			t.Errorf("Open succeeded without Package/Version")
		}
		_, _ = p.Files(context.Background())
	})
}

// BenchmarkXZ compares the host's xz with the pure-Go decoder (package
// xzstream) on the biggest .deb payload at hand (a minbase package when the
// bootstrap test has cached them, else a fixture).
func BenchmarkXZ(b *testing.B) {
	candidates, _ := filepath.Glob(filepath.Join(os.TempDir(), "vzkit-deb-test-minbase-"+testSuite, "all", "*.deb"))
	candidates = append(candidates, fixtureDebs(b)...)
	var best *Package
	var bestSize int64
	for _, c := range candidates {
		st, err := os.Stat(c)
		if err != nil || st.Size() <= bestSize {
			continue
		}
		if p, err := Open(c); err == nil && strings.HasSuffix(p.dataName, ".xz") {
			best, bestSize = p, st.Size()
		}
	}
	if best == nil {
		b.Skip("no xz package")
	}
	raw := dataMember(b, best)
	b.Logf("%s: data.tar.xz %d bytes", filepath.Base(best.Path), len(raw))
	run := func(b *testing.B, open func(io.Reader) (io.ReadCloser, error)) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			rc, err := open(bytes.NewReader(raw))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				b.Fatal(err)
			}
			if err := rc.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("xz-command", func(b *testing.B) {
		if !xzstream.HostXZ() {
			b.Skip("no xz")
		}
		run(b, func(r io.Reader) (io.ReadCloser, error) { return xzstream.NewReader(context.Background(), r) })
	})
	b.Run("pure-go", func(b *testing.B) {
		run(b, xzstream.NewGoReader)
	})
}

func dataMember(b *testing.B, p *Package) []byte {
	f, err := os.Open(p.Path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ms, err := arMembers(f)
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range ms {
		if m.Name == p.dataName {
			raw, err := io.ReadAll(m.Data)
			if err != nil {
				b.Fatal(err)
			}
			return raw
		}
	}
	b.Fatal("no data member")
	return nil
}

// TestExtractAllParallel unpacks several packages that share directories
// concurrently into one root and compares with dpkg-deb -x of each.
func TestExtractAllParallel(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root: ExtractAll keeps the packages' owners")
	}
	var pkgs []*Package
	for _, f := range fixtureDebs(t) {
		// The two libboost fixtures ship the same paths; keep one.
		if strings.Contains(f, "libboost-program-options-dev_1.49") {
			continue
		}
		p, err := Open(f)
		if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	ours, theirs := t.TempDir(), t.TempDir()
	if _, err := ExtractAll(context.Background(), ours, pkgs, 4); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		dpkgDeb(t, "-x", p.Path, theirs)
	}
	a, b := scanTree(t, theirs), scanTree(t, ours)
	delete(a, "/")
	delete(b, "/")
	for path, want := range a {
		got := b[path]
		// A directory shipped by several packages keeps the metadata of
		// whichever wrote it last, which in parallel is not fixed (dpkg
		// settles it when it unpacks in order); it must exist as a
		// directory.
		if strings.HasPrefix(want, "d") && strings.HasPrefix(got, "d") {
			continue
		}
		if got != want {
			t.Errorf("%s: got %q, dpkg-deb %q", path, got, want)
		}
	}
	if len(a) != len(b) || len(a) < 50 {
		t.Errorf("%d paths, dpkg-deb %d", len(b), len(a))
	}
}

// TestWriteSources also plants symlinks to a host canary at the files it
// writes: they are replaced, the canary left alone.
func TestWriteSources(t *testing.T) {
	root := t.TempDir()
	host := hostiletest.NewCanaries(t, "canary")
	for _, f := range []string{"etc/apt/sources.list", "etc/apt/sources.list.d/debian.sources", "etc/apt/keyrings/debian-archive-keyring.gpg"} {
		hostiletest.Link(host.Path("canary")).Plant(t, root, f)
	}
	defer host.Check(t)
	r := openSafe(t, root)
	if err := writeSources(r, Sources{Entries: []Source{
		{Mirror: "http://mirror.invalid/debian", Suite: "bookworm"},
		{Mirror: "http://mirror.invalid/debian", Suite: "bookworm-updates"},
	}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(root, "etc/apt/sources.list"))
	if string(b) != "deb http://mirror.invalid/debian bookworm main\ndeb http://mirror.invalid/debian bookworm-updates main\n" {
		t.Errorf("sources.list = %q", b)
	}
	key := filepath.Join(fixtures, "debian-archive/keyrings/debian-archive-keyring.gpg")
	if _, err := os.Stat(key); err != nil {
		testenv.Missing(t, "keyring fixture missing")
	}
	err := writeSources(r, Sources{Entries: []Source{
		{Mirror: "http://mirror.invalid/debian", Suite: "bookworm", Components: []string{"main", "contrib"}},
		{Mirror: "http://security.invalid/debian-security", Suite: "bookworm-security"},
	}, Keyring: key})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(root, "etc/apt/sources.list.d/debian.sources"))
	want := "Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm\nComponents: main contrib\n" +
		"Signed-By: /etc/apt/keyrings/debian-archive-keyring.gpg\n\n" +
		"Types: deb\nURIs: http://security.invalid/debian-security\nSuites: bookworm-security\nComponents: main\n" +
		"Signed-By: /etc/apt/keyrings/debian-archive-keyring.gpg\n"
	if string(b) != want {
		t.Errorf("debian.sources = %q", b)
	}
	got, _ := os.ReadFile(filepath.Join(root, "etc/apt/keyrings/debian-archive-keyring.gpg"))
	orig, _ := os.ReadFile(key)
	if len(orig) == 0 || !bytes.Equal(got, orig) {
		t.Error("keyring not copied into the root")
	}
}

// openSafe opens dir as the saferoot.Root the host-side steps take.
func openSafe(t testing.TB, dir string) *saferoot.Root {
	t.Helper()
	r, err := saferoot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
