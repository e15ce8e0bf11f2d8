package rpmmd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/internal/testfixtures"
	"github.com/vzkit/vzkit/repo/fetch"
)

// Fixture repositories (see SOURCES.md in the fixtures folder).
var (
	giraut    = testfixtures.Path("giraut-rpm")
	zypp110   = testfixtures.Path("libzypp/zypp/tests/data/11.0-update")
	zypp102   = testfixtures.Path("libzypp/zypp/tests/repo/yum/data/10.2-updates-subset")
	appstream = testfixtures.Path("osbuild/test/data/testrepos/appstream")
	zstdRepo  = testfixtures.Path("osbuild/test/data/testrepos/custom")
	crcTest   = testfixtures.Path("createrepo_c/tests/testdata")
)

func needFixture(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		testenv.Missing(t, "fixture %s missing (see shared/fixtures/SOURCES.md)", path)
	}
}

func client() *fetch.Client {
	return fetch.New(fetch.Options{Backoff: time.Millisecond, Retries: 1})
}

func fileURL(dir string) string { return "file://" + dir + "/" }

func loadKeyring(t testing.TB, path string) *pgp.Keyring {
	t.Helper()
	kr, err := pgp.LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// copyRepo copies a fixture repository into a temporary directory, for
// tampering.
func copyRepo(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func find(t testing.TB, pkgs []Package, nevra string) *Package {
	t.Helper()
	for i := range pkgs {
		if pkgs[i].NEVRA() == nevra {
			return &pkgs[i]
		}
	}
	t.Fatalf("package %s not in the index", nevra)
	return nil
}

func TestOpenGirautSigned(t *testing.T) {
	needFixture(t, giraut)
	kr := loadKeyring(t, filepath.Join(giraut, "KEY.gpg"))
	ix, err := Open(context.Background(), client(), Source{Name: "giraut", URIs: []string{fileURL(giraut)}, Keyring: kr}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !ix.Signed || len(ix.Signers) != 1 || ix.Signers[0] != "2708A0E30498A3684C2015177D33E3C7075FDB3D" {
		t.Errorf("signed %v by %v, want the Rosco key", ix.Signed, ix.Signers)
	}
	if len(ix.Packages) != 22 {
		t.Errorf("%d packages, want the 22 primary.xml lists", len(ix.Packages))
	}
	p := find(t, ix.Packages, "python3-pyufr-0.3.9-0.noarch")
	want := Checksum{"sha256", "29260e20454877429850cb4f88106e56466c75039ad743f595a1fa21ee180bc2"}
	if p.Checksum != want || p.Location != "python3-pyufr-0.3.9-0.noarch.rpm" || p.Size != 48733 ||
		p.InstalledSize != 157079 || p.License != "GPL-3.0" || p.SourceRPM != "python3-pyufr-0.3.9-0.src.rpm" ||
		p.Repository != "giraut" || !strings.HasPrefix(p.Summary, "pyuFR - Pure Python") {
		t.Errorf("python3-pyufr 0.3.9: %+v", p)
	}
	if len(p.Requires) != 7 || p.Requires[0] != (Dep{Name: "/bin/sh", Pre: true}) ||
		p.Requires[3] != (Dep{Name: "python3", Op: OpGE, EVR: EVR{"0", "3.7.0b1", ""}}) {
		t.Errorf("requires: %v", p.Requires)
	}
	if len(p.Provides) != 1 || p.Provides[0].String() != "python3-pyufr = 0.3.9-0" {
		t.Errorf("provides: %v", p.Provides)
	}
	// The package's own file really has the checksum primary.xml gives.
	b, err := os.ReadFile(filepath.Join(giraut, p.Location))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := newVerifier(p.Checksum)
	v.Write(b)
	if _, ok := v.ok(); !ok || int64(len(b)) != p.Size {
		t.Errorf("%s does not match its primary.xml checksum and size", p.Location)
	}
	// filelists merged: /usr/bin/python3 is a file dependency.
	if ix.Files[1] == "" || len(ix.Files) != 2 {
		t.Errorf("files used: %v", ix.Files)
	}
}

func TestOpenGirautTampered(t *testing.T) {
	needFixture(t, giraut)
	kr := loadKeyring(t, filepath.Join(giraut, "KEY.gpg"))
	dir := copyRepo(t, filepath.Join(giraut, "repodata"))
	repo := filepath.Dir(dir)
	os.Rename(dir, filepath.Join(repo, "repodata"))
	md := filepath.Join(repo, "repodata", "repomd.xml")
	b, _ := os.ReadFile(md)
	// One byte of a checksum: still well-formed XML, still a sha256.
	i := bytes.Index(b, []byte("<checksum type=\"sha256\">")) + len("<checksum type=\"sha256\">")
	b[i] ^= 1
	os.WriteFile(md, b, 0o644)
	_, err := Open(context.Background(), client(), Source{Name: "giraut", URIs: []string{fileURL(repo)}, Keyring: kr}, Options{})
	if !errors.Is(err, pgp.ErrBadSignature) || !strings.Contains(err.Error(), "repodata/repomd.xml") ||
		!strings.Contains(err.Error(), "2708A0E30498A3684C2015177D33E3C7075FDB3D") {
		t.Fatalf("flipped byte: want a bad signature naming the URL and key, got %v", err)
	}
	// Insecure: the signature failure is tolerated, the bad checksum is not.
	_, err = Open(context.Background(), client(), Source{Name: "giraut", URIs: []string{fileURL(repo)}, Keyring: kr, Insecure: true}, Options{})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "primary.xml.gz") {
		t.Fatalf("insecure with a tampered checksum: want a checksum mismatch naming primary.xml.gz, got %v", err)
	}
	// Without the signature and not insecure: refused, saying how to accept it.
	os.Remove(md + ".asc")
	_, err = Open(context.Background(), client(), Source{Name: "giraut", URIs: []string{fileURL(repo)}, Keyring: kr}, Options{})
	if err == nil || !strings.Contains(err.Error(), "not signed") || !strings.Contains(err.Error(), "insecure: true") {
		t.Fatalf("unsigned: %v", err)
	}
}

func TestOpenWrongKey(t *testing.T) {
	needFixture(t, giraut)
	kr := loadKeyring(t, filepath.Join(zypp110, "repodata", "repomd.xml.key"))
	_, err := Open(context.Background(), client(), Source{Name: "giraut", URIs: []string{fileURL(giraut)}, Keyring: kr}, Options{})
	if !errors.Is(err, pgp.ErrNoGoodSignature) || !strings.Contains(err.Error(), "7D33E3C7075FDB3D") ||
		!strings.Contains(err.Error(), "79C179B2E1C820C1890F9994A84EDAE89C800ACA") {
		t.Fatalf("want no good signature naming the signer and the keyring's key, got %v", err)
	}
}

// openSUSE 11.0's update repository: a v3 DSA/SHA1 signature and "sha"
// checksums. Its filelists.xml is listed but not part of the fixture.
func TestOpenZyppDSA(t *testing.T) {
	needFixture(t, zypp110)
	kr := loadKeyring(t, filepath.Join(zypp110, "repodata", "repomd.xml.key"))
	when := func() time.Time { return time.Date(2008, 11, 1, 0, 0, 0, 0, time.UTC) } // the key expired in 2010
	ix, err := Open(context.Background(), client(), Source{Name: "update", URIs: []string{fileURL(zypp110)}, Keyring: kr},
		Options{Now: when, NoFilelists: true})
	if err != nil {
		t.Fatal(err)
	}
	if !ix.Signed || ix.Signers[0] != "79C179B2E1C820C1890F9994A84EDAE89C800ACA" {
		t.Errorf("signers %v", ix.Signers)
	}
	src := 0
	for _, p := range ix.Packages {
		if p.Checksum.Type != "sha" || len(p.Checksum.Value) != 40 {
			t.Fatalf("%s: checksum %v", p.NEVRA(), p.Checksum)
		}
	}
	// 2,430 entries in primary.xml, source packages among them left out.
	f, _ := os.Open(filepath.Join(zypp110, "repodata", "primary.xml.gz"))
	defer f.Close()
	r, _, _ := Decompress(f, 0, "primary")
	total := 0
	ParsePrimary(r, "primary", func(p *Package) error {
		total++
		if p.Arch == "src" || p.Arch == "nosrc" {
			src++
		}
		return nil
	})
	if total != 2430 || src == 0 || len(ix.Packages) != total-src {
		t.Errorf("%d packages in the index, primary has %d of which %d sources", len(ix.Packages), total, src)
	}
	find(t, ix.Packages, "autoyast2-installation-2.16.19-0.1.noarch")
	// At today's date the DSA key has expired: the signature does not count.
	_, err = Open(context.Background(), client(), Source{Name: "update", URIs: []string{fileURL(zypp110)}, Keyring: kr},
		Options{NoFilelists: true})
	if !errors.Is(err, pgp.ErrNoGoodSignature) {
		t.Errorf("expired key: %v", err)
	}
}

// The 10.2 subset is signed (DSA) and its other.xml.gz does not match its
// sha1; other.xml is not read, so the repository opens.
func TestOpenZypp102(t *testing.T) {
	needFixture(t, zypp102)
	kr := loadKeyring(t, filepath.Join(zypp102, "repodata", "repomd.xml.key"))
	ix, err := Open(context.Background(), client(), Source{Name: "u", URIs: []string{fileURL(zypp102)}, Keyring: kr},
		Options{Now: func() time.Time { return time.Date(2008, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	if !ix.Signed || len(ix.Packages) == 0 || len(ix.Files) != 2 {
		t.Errorf("signed %v, %d packages, files %v", ix.Signed, len(ix.Packages), ix.Files)
	}
	// The mismatching other.xml.gz, read as a data file, is refused by name.
	md, _ := ix.Repomd.Find("other")
	o := &opener{f: client(), opts: Options{MaxDataSize: 1 << 30}, mirrorList: []string{fileURL(zypp102)}}
	err = o.data(context.Background(), md, func(r io.Reader, name string) error { return nil })
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "other.xml.gz") {
		t.Errorf("other.xml.gz: %v", err)
	}
}

func TestOpenChecksumMismatch(t *testing.T) {
	repo := filepath.Join(crcTest, "repo_01")
	needFixture(t, repo)
	_, err := Open(context.Background(), client(), Source{Name: "r", URIs: []string{fileURL(repo)}, Insecure: true}, Options{})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "primary.xml.gz") {
		t.Fatalf("want a checksum mismatch naming primary.xml.gz, got %v", err)
	}
}

func TestOpenRefusesUnsignedWithoutInsecure(t *testing.T) {
	needFixture(t, zstdRepo)
	_, err := Open(context.Background(), client(), Source{Name: "r", URIs: []string{fileURL(zstdRepo)}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "no keyring") {
		t.Fatalf("no keyring, not insecure: %v", err)
	}
	kr := loadKeyring(t, filepath.Join(giraut, "KEY.gpg"))
	_, err = Open(context.Background(), client(), Source{Name: "r", URIs: []string{fileURL(zstdRepo)}, Keyring: kr}, Options{})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("no repomd.xml.asc: %v", err)
	}
}

func TestOpenZstd(t *testing.T) {
	needFixture(t, zstdRepo)
	ix, err := Open(context.Background(), client(), Source{Name: "custom", URIs: []string{fileURL(zstdRepo)}, Insecure: true}, Options{AllFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Signed || len(ix.Packages) != 1 {
		t.Fatalf("signed %v, %d packages", ix.Signed, len(ix.Packages))
	}
	if p := ix.Packages[0]; p.NEVRA() != "pkg-with-no-deps-1.0.0-0.noarch" || len(p.Requires) != 0 {
		t.Errorf("package %s requires %v", p.NEVRA(), p.Requires)
	}
	if len(ix.Files) != 2 || !strings.HasSuffix(ix.Files[0], "primary.xml.zst") || !strings.HasSuffix(ix.Files[1], "filelists.xml.zst") {
		t.Errorf("files used: %v", ix.Files)
	}
}

// CentOS Stream 9 AppStream: 17,649 packages, rich dependencies, modular
// packages, comps.
var appstreamOnce struct {
	sync.Once
	ix  *Index
	err error
}

// appstreamIndex opens the AppStream fixture once for the tests that read it.
func appstreamIndex(t *testing.T) *Index {
	t.Helper()
	needFixture(t, appstream)
	appstreamOnce.Do(func() {
		appstreamOnce.ix, appstreamOnce.err = Open(context.Background(), client(),
			Source{Name: "appstream", URIs: []string{fileURL(appstream)}, Insecure: true}, Options{})
	})
	if appstreamOnce.err != nil {
		t.Fatal(appstreamOnce.err)
	}
	return appstreamOnce.ix
}

func TestOpenAppStream(t *testing.T) {
	ix := appstreamIndex(t)
	total := len(ix.Packages) + ix.ModularSkipped
	if total != 17649 || ix.ModularSkipped != 515 {
		t.Errorf("%d packages kept + %d modular skipped, want 17,649 of which 515 modular", len(ix.Packages), ix.ModularSkipped)
	}
	for _, p := range ix.Packages {
		if p.Modular() {
			t.Fatalf("modular %s kept", p.NEVRA())
		}
	}
	rich := 0
	for _, p := range ix.Packages {
		for _, d := range p.Requires {
			if strings.HasPrefix(d.Name, "(") {
				rich++
				if !strings.HasSuffix(d.Name, ")") {
					t.Errorf("%s: rich dependency %q cut", p.NEVRA(), d.Name)
				}
			}
		}
	}
	if rich < 100 {
		t.Errorf("only %d rich requires", rich)
	}
	if ix.Comps == nil || len(ix.Comps.Groups) != 63 {
		t.Fatalf("comps: %v", ix.Comps)
	}
	if len(ix.Files) != 3 {
		t.Errorf("files used: %v", ix.Files)
	}
}

func TestOpenKeepModular(t *testing.T) {
	needFixture(t, appstream)
	ix, err := Open(context.Background(), client(), Source{Name: "appstream", URIs: []string{fileURL(appstream)}, Insecure: true, KeepModular: true}, Options{NoFilelists: true})
	if err != nil {
		t.Fatal(err)
	}
	modular := 0
	for _, p := range ix.Packages {
		if p.Modular() {
			modular++
		}
	}
	if len(ix.Packages) != 17649 || modular != 515 || ix.ModularSkipped != 0 {
		t.Errorf("%d packages, %d modular, %d skipped", len(ix.Packages), modular, ix.ModularSkipped)
	}
}

func TestDecompressByMagic(t *testing.T) {
	dir := filepath.Join(crcTest, "compressed_files")
	needFixture(t, dir)
	for _, n := range []string{"00", "01"} {
		want, err := os.ReadFile(filepath.Join(dir, n+"_plain.txt"))
		if err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, n+"_plain.*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			r, c, err := Decompress(bytes.NewReader(b), 1<<20, f)
			if c == Zchunk {
				if err == nil || !strings.Contains(err.Error(), "zchunk") {
					t.Errorf("%s: zchunk not refused: %v", f, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s (%s): %q, %v; want %q", filepath.Base(f), c, got, err, want)
			}
		}
	}
	// The misleading names: .foo1 is gzip, .foo2 bzip2, .foo3 xz, .foo5 zstd.
	for ext, want := range map[string]Compression{"foo1": Gzip, "foo2": Bzip2, "foo3": XZ, "foo4": Zchunk, "foo5": Zstd, "foo0": Plain} {
		b, _ := os.ReadFile(filepath.Join(dir, "01_plain."+ext))
		if got := DetectCompression(b); got != want {
			t.Errorf("01_plain.%s: %s, want %s", ext, got, want)
		}
	}
}

func TestDecompressLimit(t *testing.T) {
	f := filepath.Join(appstream, "repodata", "c03bb2ebc33bbee3046da091b45d90717273a43d3641a9d84e6eede05637bc8a-primary.xml.gz")
	needFixture(t, f)
	file, _ := os.Open(f)
	defer file.Close()
	r, _, err := Decompress(file, 1<<20, "primary")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	if !errors.Is(err, ErrTooLarge) || n > 1<<20+64<<10 {
		t.Errorf("limit 1 MiB: read %d, %v", n, err)
	}
}

func TestAppStreamSpotCheck(t *testing.T) {
	ix := appstreamIndex(t)
	sdl := find(t, ix.Packages, "SDL2-2.0.18-1.el9.x86_64")
	if sdl.Checksum.Value != "796ab0d6f5bc88d0d26465a80147a7f2d5a8640b91b06340df51359b9b2f378b" ||
		sdl.Location != "Packages/SDL2-2.0.18-1.el9.x86_64.rpm" || sdl.Size != 617836 || sdl.InstalledSize != 1735393 ||
		sdl.License != "zlib and MIT" || sdl.SourceRPM != "SDL2-2.0.18-1.el9.src.rpm" || sdl.Summary != "Cross-platform multimedia library" {
		t.Errorf("SDL2: %+v", sdl)
	}
	if len(sdl.Requires) != 7 || sdl.Requires[0].Name != "(libdecor-0.so.0()(64bit) if libwayland-client)" || sdl.Requires[0].Op != OpAny {
		t.Errorf("SDL2 requires: %v", sdl.Requires)
	}
	if len(sdl.Provides) != 3 || sdl.Provides[1] != (Dep{Name: "SDL2(x86-64)", Op: OpEQ, EVR: EVR{"0", "2.0.18", "1.el9"}}) {
		t.Errorf("SDL2 provides: %v", sdl.Provides)
	}
	nm := find(t, ix.Packages, "NetworkManager-cloud-setup-1:1.51.2-1.el9.x86_64")
	if nm.EVR != (EVR{"1", "1.51.2", "1.el9"}) {
		t.Errorf("epoch: %+v", nm.EVR)
	}
	ff := find(t, ix.Packages, "firefox-128.3.0-1.el9.x86_64")
	pre, plain := false, false
	for _, d := range ff.Requires {
		pre = pre || d == Dep{Name: "/bin/sh", Pre: true}
		plain = plain || d == Dep{Name: "/bin/sh"}
	}
	if !pre || !plain || !slicesContains(ff.Files, "/usr/bin/firefox") || !slicesContains(ff.Files, "/etc/firefox") {
		t.Errorf("firefox: /bin/sh as pre %v and plain %v requires, files %v", pre, plain, ff.Files)
	}
	// Weak and reverse dependencies are read too.
	var weak, obs int
	for _, p := range ix.Packages {
		weak += len(p.Recommends) + len(p.Suggests) + len(p.Supplements) + len(p.Enhances)
		obs += len(p.Obsoletes) + len(p.Conflicts)
	}
	if weak == 0 || obs == 0 {
		t.Errorf("weak deps %d, obsoletes+conflicts %d", weak, obs)
	}
}

func slicesContains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestFilelistsKeepsFileDeps(t *testing.T) {
	needFixture(t, giraut)
	kr := loadKeyring(t, filepath.Join(giraut, "KEY.gpg"))
	open := func(all bool) *Package {
		ix, err := Open(context.Background(), client(), Source{Name: "g", URIs: []string{fileURL(giraut)}, Keyring: kr}, Options{AllFiles: all})
		if err != nil {
			t.Fatal(err)
		}
		return find(t, ix.Packages, "python3-pyufr-0.3.9-0.noarch")
	}
	if p := open(true); !slicesContains(p.Files, "/usr/lib/python3/dist-packages/pyufr.py") {
		t.Errorf("AllFiles: %v", p.Files)
	}
	if p := open(false); slicesContains(p.Files, "/usr/lib/python3/dist-packages/pyufr.py") {
		t.Errorf("a path no dependency names was kept: %v", p.Files)
	}
	// A file dependency of another repository keeps its path too.
	ix, err := Open(context.Background(), client(), Source{Name: "g", URIs: []string{fileURL(giraut)}, Keyring: kr},
		Options{FileDeps: map[string]bool{"/usr/lib/python3/dist-packages/pyufr.py": true}})
	if err != nil {
		t.Fatal(err)
	}
	if p := find(t, ix.Packages, "python3-pyufr-0.3.9-0.noarch"); !slicesContains(p.Files, "/usr/lib/python3/dist-packages/pyufr.py") {
		t.Errorf("Options.FileDeps: %v", p.Files)
	}
	// A path that a dependency names is kept from filelists.xml.
	pkgs := []Package{
		{Name: "a", Arch: "noarch", EVR: EVR{Version: "1"}, Checksum: Checksum{"sha256", "aa"}, Requires: []Dep{{Name: "(/usr/bin/b or c)"}}},
		{Name: "b", Arch: "noarch", EVR: EVR{Version: "1"}, Checksum: Checksum{"sha256", "bb"}},
	}
	m := NewMerger(pkgs, false)
	xmlText := `<filelists packages="2"><package pkgid="bb" name="b" arch="noarch"><version epoch="0" ver="1" rel=""/>` +
		`<file>/usr/bin/b</file><file>/usr/share/b</file></package></filelists>`
	if err := ParseFilelists(strings.NewReader(xmlText), "f", m.Keep, m.Add); err != nil {
		t.Fatal(err)
	}
	if len(pkgs[1].Files) != 1 || pkgs[1].Files[0] != "/usr/bin/b" {
		t.Errorf("b's files: %v", pkgs[1].Files)
	}
	// An entry of another repository state is refused.
	bad := strings.Replace(xmlText, `pkgid="bb"`, `pkgid="cc"`, 1)
	if err := ParseFilelists(strings.NewReader(bad), "f", m.Keep, m.Add); err == nil || !strings.Contains(err.Error(), "not in primary") {
		t.Errorf("unknown pkgid: %v", err)
	}
}

func TestCompsAppStream(t *testing.T) {
	needFixture(t, appstream)
	files, _ := filepath.Glob(filepath.Join(appstream, "repodata", "*-comps-AppStream.x86_64.xml"))
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := ParseComps(f, files[0])
	if err != nil {
		t.Fatal(err)
	}
	core := c.Groups["core"]
	if core == nil || core.UserVisible || !core.Default || core.Name != "Core" || len(core.Packages) != 3 {
		t.Fatalf("core: %+v", core)
	}
	sel, err := Expand("@core", c, nil, ExpandOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sel.Packages, " ") != "python3-libselinux rsyslog" {
		t.Errorf("@core: %v", sel.Packages)
	}
	sel, _ = Expand("core", c, nil, ExpandOptions{Optional: true})
	if strings.Join(sel.Packages, " ") != "initial-setup python3-libselinux rsyslog" {
		t.Errorf("core with optional: %v", sel.Packages)
	}
	env, err := Expand("@^server-product-environment", c, nil, ExpandOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(env.Groups, " ") != "container-management core hardware-support headless-management server-product standard" &&
		len(env.UnknownGroups) == 0 {
		t.Errorf("environment groups %v, unknown %v", env.Groups, env.UnknownGroups)
	}
	if !slicesContains(env.Packages, "podman") || !slicesContains(env.Packages, "rsyslog") || slicesContains(env.Packages, "toolbox") {
		t.Errorf("server-product-environment: %v", env.Packages)
	}
	// Conditional packagereqs come apart from the plain ones.
	var cond int
	for _, g := range c.Groups {
		s, _ := Expand(g.ID, c, nil, ExpandOptions{})
		cond += len(s.Conditional)
		for _, r := range s.Conditional {
			if r.Requires == "" || slicesContains(s.Packages, r.Name) && r.Type == Conditional && false {
				t.Errorf("%s: %+v", g.ID, r)
			}
		}
	}
	if cond == 0 {
		t.Error("no conditional packagereq")
	}
	_, err = Expand("@no-such-group", c, nil, ExpandOptions{})
	if !errors.Is(err, ErrUnknownGroup) || !strings.Contains(err.Error(), "no-such-group") || !strings.Contains(err.Error(), "server-product-environment") {
		t.Errorf("unknown group: %v", err)
	}
	// @^ names environments only.
	if _, err := Expand("@^core", c, nil, ExpandOptions{}); !errors.Is(err, ErrUnknownGroup) {
		t.Errorf("@^core: %v", err)
	}
}

func TestCompsF19Environment(t *testing.T) {
	f := filepath.Join(crcTest, "other_metadata", "comps-f19.xml")
	needFixture(t, f)
	// The same comps, plain and in every compression createrepo_c writes.
	files, _ := filepath.Glob(filepath.Join(crcTest, "other_metadata", "*comps-f19.xml*"))
	if len(files) < 4 {
		t.Fatalf("comps-f19 fixtures: %v", files)
	}
	for _, name := range files {
		file, _ := os.Open(name)
		r, _, err := Decompress(file, 1<<20, name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseComps(r, name)
		file.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		e := c.Environments["gnome-desktop-environment"]
		if e == nil || e.Name != "GNOME Desktop" || len(e.Groups) != 1 || len(e.Options) != 1 {
			t.Fatalf("%s: environment %+v", name, e)
		}
		sel, err := Expand("@gnome-desktop-environment", c, nil, ExpandOptions{Optional: true})
		if err != nil {
			t.Fatal(err)
		}
		// base-x is not defined in this file: named, not silently dropped.
		if strings.Join(sel.UnknownGroups, ",") != "base-x" || strings.Join(sel.Packages, " ") != "blender cura" {
			t.Errorf("%s: %+v", name, sel)
		}
	}
}

func TestCompsMerge(t *testing.T) {
	a, err := ParseComps(strings.NewReader(`<comps><group><id>core</id><packagelist><packagereq type="mandatory">bash</packagereq></packagelist></group>
<environment><id>minimal-environment</id><grouplist><groupid>core</groupid><groupid>standard</groupid></grouplist></environment></comps>`), "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseComps(strings.NewReader(`<comps><group><id>standard</id><packagelist><packagereq>vim-minimal</packagereq></packagelist></group>
<group><id>core</id><packagelist><packagereq type="mandatory">dnf</packagereq><packagereq type="mandatory">bash</packagereq></packagelist></group></comps>`), "b")
	if err != nil {
		t.Fatal(err)
	}
	c := (*Comps)(nil).Merge(a).Merge(b)
	sel, err := Expand("@minimal-environment", c, nil, ExpandOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sel.Packages, " ") != "bash dnf vim-minimal" || len(sel.UnknownGroups) != 0 {
		t.Errorf("merged: %+v", sel)
	}
	if len(a.Groups["core"].Packages) != 1 {
		t.Error("Merge changed its argument")
	}
	if _, err := ParseComps(strings.NewReader(`<comps><group><id>x</id></group><group><id>x</id></group></comps>`), "dup"); err == nil {
		t.Error("a group defined twice was accepted")
	}
}

func TestPatterns(t *testing.T) {
	pkgs := []Package{
		{Name: "patterns-base-minimal_base", Arch: "x86_64", EVR: EVR{"0", "20200124", "lp156.1"},
			Provides: []Dep{{Name: "pattern()", Op: OpEQ, EVR: EVR{Version: "minimal_base"}}, {Name: "pattern-icon()", Op: OpEQ, EVR: EVR{Version: "pattern-basis"}}}},
		{Name: "zypper", Arch: "x86_64", EVR: EVR{Version: "1.14"}},
	}
	for _, ref := range []string{"@minimal_base", "pattern:minimal_base", "@pattern:minimal_base", "minimal_base"} {
		sel, err := Expand(ref, nil, pkgs, ExpandOptions{})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if sel.Pattern != "minimal_base" || len(sel.Packages) != 1 || sel.Packages[0] != "patterns-base-minimal_base" {
			t.Errorf("%s: %+v", ref, sel)
		}
	}
	if _, err := Expand("@^minimal_base", nil, pkgs, ExpandOptions{}); !errors.Is(err, ErrUnknownGroup) {
		t.Errorf("@^ is for environments only: %v", err)
	}
	if _, err := Expand("pattern:zypper", nil, pkgs, ExpandOptions{}); !errors.Is(err, ErrUnknownGroup) {
		t.Errorf("a package that is no pattern: %v", err)
	}
}

func TestLocations(t *testing.T) {
	pkg := func(loc string) string {
		return `<metadata><package><name>a</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/>` + loc + `</package></metadata>`
	}
	var got Package
	keep := func(p *Package) error { got = *p; return nil }
	if err := ParsePrimary(strings.NewReader(pkg(`<location xml:base="https://cdn.example/oss/" href="noarch/a-1-1.noarch.rpm"/>`)), "p", keep); err != nil {
		t.Fatal(err)
	}
	if got.Location != "noarch/a-1-1.noarch.rpm" || got.LocationBase != "https://cdn.example/oss/" {
		t.Errorf("location %q base %q", got.Location, got.LocationBase)
	}
	ix := &Index{Mirrors: []string{"https://m1/", "https://m2/"}}
	if m := ix.PackageMirrors(&got); len(m) != 1 || m[0] != "https://cdn.example/oss/" {
		t.Errorf("mirrors for an xml:base package: %v", m)
	}
	if m := ix.PackageMirrors(&Package{Location: "a.rpm"}); len(m) != 2 {
		t.Errorf("mirrors: %v", m)
	}
	for _, bad := range []string{`<location href="../../etc/passwd"/>`, `<location href="a/%2e%2e/%2E%2E/x.rpm"/>`, `<location href="/etc/shadow"/>`,
		`<location href="https://evil.example/a.rpm"/>`, `<location xml:base="ftp://x/" href="a.rpm"/>`, `<location xml:base="/etc/" href="a.rpm"/>`} {
		if err := ParsePrimary(strings.NewReader(pkg(bad)), "p", keep); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	md := `<repomd><data type="primary"><checksum type="sha256">` + strings.Repeat("a", 64) + `</checksum><location href="LOC"/></data></repomd>`
	if _, err := ParseRepomd([]byte(strings.Replace(md, "LOC", "repodata/p.xml.gz", 1)), "r"); err != nil {
		t.Error(err)
	}
	if _, err := ParseRepomd([]byte(strings.Replace(md, "LOC", "../p.xml.gz", 1)), "r"); err == nil {
		t.Error("repomd location outside the repository accepted")
	}
	// md5 checksums protect nothing and are refused.
	if _, err := ParseRepomd([]byte(strings.Replace(strings.Replace(md, "LOC", "p", 1), `"sha256">`+strings.Repeat("a", 64), `"md5">`+strings.Repeat("a", 32), 1)), "r"); err == nil {
		t.Error("md5 accepted")
	}
}

// A document cut short is refused, naming the file, by every parser;
// one whose root element is another is refused naming both.
func TestTruncatedAndWrongRoot(t *testing.T) {
	// Both a primary and a filelists entry, which ignore each other's
	// fields; comps and repomd skip an unknown element.
	pkg := `<package pkgid="0a" name="a"><name>a</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/></package>`
	none := func(*Package) error { return nil }
	noFiles := func(*FileList) error { return nil }
	for _, c := range []struct {
		what  string
		parse func(string) error
	}{
		{"primary.xml", func(doc string) error {
			return ParsePrimary(strings.NewReader(doc), "primary.xml", none)
		}},
		{"filelists.xml", func(doc string) error {
			return ParseFilelists(strings.NewReader(doc), "filelists.xml", nil, noFiles)
		}},
		{"comps.xml", func(doc string) error {
			_, err := ParseComps(strings.NewReader(doc), "comps.xml")
			return err
		}},
		{"repomd.xml", func(doc string) error {
			_, err := ParseRepomd([]byte(doc), "repomd.xml")
			return err
		}},
	} {
		root := map[string]string{"primary.xml": "metadata", "filelists.xml": "filelists", "comps.xml": "comps", "repomd.xml": "repomd"}[c.what]
		whole := "<" + root + ">" + pkg + "</" + root + ">"
		if err := c.parse(whole); err != nil {
			t.Errorf("%s: %v", c.what, err)
		}
		err := c.parse("<" + root + ">" + pkg)
		if err == nil || !strings.Contains(err.Error(), c.what) || !strings.Contains(err.Error(), "ends inside <"+root+">") {
			t.Errorf("%s cut after its first entry: %v", c.what, err)
		}
		err = c.parse("<other>" + pkg + "</other>")
		if err == nil || !strings.Contains(err.Error(), "root element is <other>, not <"+root+">") {
			t.Errorf("%s with another root: %v", c.what, err)
		}
	}
}

// createrepo_c's repository with every kind of extra data: only the .xml
// forms are read (group_gz for comps; the zck and sqlite ones are not).
func TestOpenAdditionalMetadata(t *testing.T) {
	repo := filepath.Join(crcTest, "repo_with_additional_metadata")
	needFixture(t, repo)
	ix, err := Open(context.Background(), client(), Source{Name: "r", URIs: []string{fileURL(repo)}, Insecure: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Packages) != 1 || ix.Comps == nil || len(ix.Comps.Groups) != 1 || len(ix.Files) != 3 ||
		!strings.HasSuffix(ix.Files[2], "comps.f20.xml.gz") {
		t.Fatalf("%d packages, comps %v, files %v", len(ix.Packages), ix.Comps, ix.Files)
	}
	for _, f := range ix.Files {
		if strings.Contains(f, ".zck") || strings.Contains(f, "sqlite") {
			t.Errorf("read %s", f)
		}
	}
}

// A real OBS repository of 2008 (DSA-signed, primary only besides others
// that are listed but absent).
func TestOpenOBS(t *testing.T) {
	repo := testfixtures.Path("libzypp/zypp/tests/data/obs_virtualbox_11_1")
	needFixture(t, repo)
	kr := loadKeyring(t, filepath.Join(repo, "repodata", "repomd.xml.key"))
	ix, err := Open(context.Background(), client(), Source{Name: "obs", URIs: []string{fileURL(repo)}, Keyring: kr},
		Options{Now: func() time.Time { return time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC) }, NoFilelists: true})
	if err != nil {
		t.Fatal(err)
	}
	if !ix.Signed || ix.Signers[0] != "14160D00EEE5DCB479D48A07F852E3C157721A66" || len(ix.Packages) == 0 {
		t.Fatalf("signed %v %v, %d packages", ix.Signed, ix.Signers, len(ix.Packages))
	}
	if p := find(t, ix.Packages, "libstdc++41-4.1.3_20071030-1.21.x86_64"); p.Checksum.Type != "sha" || p.Location == "" {
		t.Errorf("libstdc++41: %+v", p)
	}
	// Listed but absent: a missing filelists.xml is an error naming it.
	_, err = Open(context.Background(), client(), Source{Name: "obs", URIs: []string{fileURL(repo)}, Keyring: kr},
		Options{Now: func() time.Time { return time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "filelists") {
		t.Errorf("absent filelists: %v", err)
	}
}

// Decompressed data is capped: a primary.xml larger than MaxDataSize is
// refused by name, however small its compressed file.
func TestOpenSizeCap(t *testing.T) {
	needFixture(t, giraut)
	kr := loadKeyring(t, filepath.Join(giraut, "KEY.gpg"))
	_, err := Open(context.Background(), client(), Source{Name: "g", URIs: []string{fileURL(giraut)}, Keyring: kr}, Options{MaxDataSize: 10000})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "primary.xml.gz") {
		t.Fatalf("40 KB primary.xml with a 10 KB cap: %v", err)
	}
	// Insecure without keys: the signature is not looked at.
	ix, err := Open(context.Background(), client(), Source{Name: "g", URIs: []string{fileURL(giraut)}, Insecure: true}, Options{})
	if err != nil || ix.Signed || len(ix.Signers) != 0 {
		t.Fatalf("insecure: %v", err)
	}
}

// The parsed AppStream index holds bounded memory: the packages' values
// (dependencies are most of it, with their strings interned), never the
// document or the descriptions.
func TestAppStreamMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 52 MB")
	}
	needFixture(t, appstream)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix, err := Open(context.Background(), client(), Source{Name: "appstream", URIs: []string{fileURL(appstream)}, Insecure: true, KeepModular: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	deps := 0
	for _, p := range ix.Packages {
		deps += len(p.Provides) + len(p.Requires) + len(p.Conflicts) + len(p.Obsoletes) +
			len(p.Recommends) + len(p.Suggests) + len(p.Supplements) + len(p.Enhances)
	}
	t.Logf("%d packages with %d dependency entries hold %d MB of heap (primary.xml: 51.8 MB)", len(ix.Packages), deps, held>>20)
	if held > 200<<20 {
		t.Errorf("the index holds %d MB", held>>20)
	}
	runtime.KeepAlive(ix)
}
