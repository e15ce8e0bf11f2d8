package apt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/testenv"

	"github.com/vzkit/vzkit/internal/testfixtures"

	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/repo/apt/apttest"
	"github.com/vzkit/vzkit/repo/fetch"
)

var fixtures = testfixtures.Path("debian-archive") + "/"

// countingFetcher records the paths requested through it.
type countingFetcher struct {
	c     *fetch.Client
	mu    sync.Mutex
	paths []string
}

func (f *countingFetcher) Fetch(ctx context.Context, req fetch.Request, w io.Writer) (fetch.Result, error) {
	f.mu.Lock()
	f.paths = append(f.paths, req.Path)
	f.mu.Unlock()
	return f.c.Fetch(ctx, req, w)
}

func newFetcher() *countingFetcher {
	return &countingFetcher{c: fetch.New(fetch.Options{Backoff: time.Millisecond, Retries: 1})}
}

func debianKeyring(t testing.TB) *pgp.Keyring {
	t.Helper()
	k, err := pgp.LoadKeyring(fixtures + "keyrings/debian-archive-keyring.gpg")
	if err != nil {
		testenv.Missing(t, "fixture keyring: %v", err)
	}
	return k
}

var fixtureNow = func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) }

// The real bookworm-updates chain: InRelease (2 signatures) lists
// Packages.xz, by-hash is announced but absent in the fixture copy, so the
// loader must fall back to the plain path and check both digests.
func TestFixtureBookwormUpdates(t *testing.T) {
	cache := t.TempDir()
	f := newFetcher()
	src := Source{URIs: []string{"file://" + fixtures + "debian"}, Suite: "bookworm-updates",
		Components: []string{"main"}, Arch: "amd64", Keyring: debianKeyring(t)}
	idx, err := Load(context.Background(), f, src, Options{CacheDir: cache, Now: fixtureNow})
	if err != nil {
		t.Fatal(err)
	}
	if !idx.Signed || len(idx.Signers) != 2 || idx.Release.Codename != "bookworm-updates" || !idx.Release.AcquireByHash {
		t.Fatalf("index %+v", idx)
	}
	if len(idx.Files) != 1 || idx.Files[0] != "main/binary-amd64/Packages.xz" {
		t.Fatalf("files used %v (binary-all must be skipped: No-Support-for-Architecture-all)", idx.Files)
	}
	plain, _ := os.ReadFile(fixtures + "debian/dists/bookworm-updates/main/binary-amd64/Packages")
	if want := bytes.Count(plain, []byte("\nPackage: ")) + 1; len(idx.Packages) != want {
		t.Fatalf("%d packages, Packages has %d stanzas", len(idx.Packages), want)
	}
	var samba *Package
	for i := range idx.Packages {
		if idx.Packages[i].Name == "samba-ad-dc" {
			samba = &idx.Packages[i]
		}
	}
	if samba == nil || samba.Version != "2:4.17.12+dfsg-0+deb12u2" || samba.Architecture != "all" ||
		samba.Filename != "pool/main/s/samba/samba-ad-dc_4.17.12+dfsg-0+deb12u2_all.deb" ||
		samba.Source != "samba" || len(samba.SHA256) != 64 || samba.Size == 0 || samba.Repository != src.URIs[0] {
		t.Fatalf("samba-ad-dc stanza %+v", samba)
	}
	// Second load: the index comes from the cache, only InRelease is read.
	f.paths = nil
	if _, err := Load(context.Background(), f, src, Options{CacheDir: cache, Now: fixtureNow}); err != nil {
		t.Fatal(err)
	}
	if len(f.paths) != 1 || !strings.HasSuffix(f.paths[0], "/InRelease") {
		t.Fatalf("second load fetched %v, want only InRelease", f.paths)
	}
}

func TestFixtureValidUntil(t *testing.T) {
	src := Source{URIs: []string{"file://" + fixtures + "debian-security"}, Suite: "bookworm-security",
		Components: []string{"main"}, Arch: "amd64", Keyring: debianKeyring(t)}
	late := func() time.Time { return time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC) }
	_, err := Load(context.Background(), newFetcher(), src, Options{Now: late})
	if err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "bookworm-security/InRelease") {
		t.Fatalf("after Valid-Until: err = %v", err)
	}
	// Within validity the Release is accepted; the fixture has no Packages,
	// so the load stops there, naming that file.
	_, err = Load(context.Background(), newFetcher(), src, Options{Now: fixtureNow})
	if err == nil || strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "main/binary-amd64/Packages") {
		t.Fatalf("before Valid-Until: err = %v", err)
	}
}

func TestFixtureWrongSuiteRejected(t *testing.T) {
	// A signed Release for one suite served under another suite's name
	// (a replay) must be refused.
	root := t.TempDir()
	os.MkdirAll(root+"/dists/bookworm-backports", 0o755)
	in, _ := os.ReadFile(fixtures + "debian/dists/bookworm-updates/InRelease")
	os.WriteFile(root+"/dists/bookworm-backports/InRelease", in, 0o644)
	src := Source{URIs: []string{"file://" + root}, Suite: "bookworm-backports",
		Components: []string{"main"}, Arch: "amd64", Keyring: debianKeyring(t)}
	_, err := Load(context.Background(), newFetcher(), src, Options{Now: fixtureNow})
	if err == nil || !strings.Contains(err.Error(), "not \"bookworm-backports\"") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseRelease(t *testing.T) {
	in, _ := os.ReadFile(fixtures + "debian-security/dists/bookworm-security/InRelease")
	text, err := debianKeyring(t).VerifyClearsigned(in, pgp.VerifyOptions{Now: fixtureNow()})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := ParseRelease(text.Signed, "InRelease")
	if err != nil {
		t.Fatal(err)
	}
	if !rel.ValidUntil.Equal(time.Date(2026, 11, 27, 0, 12, 41, 0, time.UTC)) {
		t.Fatalf("Valid-Until %v", rel.ValidUntil)
	}
	if rel.Codename != "bookworm-security" || !rel.hasArch("amd64") || !rel.hasComponent("main") {
		t.Fatalf("release %+v", rel)
	}
	if fh, ok := rel.Files["main/binary-amd64/Packages.xz"]; !ok || len(fh.SHA256) != 64 || fh.Size == 0 {
		t.Fatalf("Packages.xz entry %+v", fh)
	}
	for _, bad := range []string{"Suite: x\nSHA256:\n nothex 12 main/Packages\n", "Suite: x\n", "Codename: x\nDate: yesterday\nSHA256:\n"} {
		if _, err := ParseRelease([]byte(bad), "Release"); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestParsePackagesErrors(t *testing.T) {
	for _, bad := range []string{
		"Package: a\nSize: -1\n",
		"Version: 1\n\n",
		" continuation\n",
		"Package: a\nno colon here\n",
		"Package: a\n" + strings.Repeat("x", maxLine+10) + "\n",
	} {
		if _, err := ParsePackages(strings.NewReader(bad), "Packages", ""); err == nil || !strings.Contains(err.Error(), "Packages") {
			t.Errorf("%.30q: err = %v", bad, err)
		}
	}
	pkgs, err := ParsePackages(strings.NewReader("Package: a\nDepends: b,\n c (>= 1)\nDescription: x\n more\n\n\nPackage: b\nEssential: yes\n"), "P", "R")
	if err != nil || len(pkgs) != 2 || pkgs[0].Depends != "b, c (>= 1)" || !pkgs[1].Essential || pkgs[1].Repository != "R" {
		t.Fatalf("%+v %v", pkgs, err)
	}
}

func FuzzParsePackages(f *testing.F) {
	if b, err := os.ReadFile(fixtures + "debian/dists/bookworm-updates/main/binary-amd64/Packages"); err == nil {
		f.Add(b[:min(len(b), 8000)])
	}
	f.Add([]byte("Package: a\nVersion: 1\nDepends: b,\n c\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := ParsePackages(bytes.NewReader(data), "fuzz", "r")
		if err == nil {
			for _, p := range pkgs {
				if p.Name == "" || p.Size < 0 {
					t.Fatalf("invalid package accepted: %+v", p)
				}
			}
		}
	})
}

func FuzzParseRelease(f *testing.F) {
	for _, p := range []string{"debian/dists/bookworm-updates/InRelease", "debian-security/dists/bookworm-security/InRelease"} {
		if b, err := os.ReadFile(fixtures + p); err == nil {
			if text, err := pgp.ClearsignedText(b); err == nil {
				f.Add(text[:min(len(text), 6000)])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rel, err := ParseRelease(data, "fuzz")
		if err == nil && (len(rel.Files) == 0 || (rel.Suite == "" && rel.Codename == "")) {
			t.Fatal("incomplete Release accepted")
		}
	})
}

// BenchmarkParsePackages parses the host's real Packages index (the apt
// lists are lz4-compressed here: lz4 is needed to read them).
func BenchmarkParsePackages(b *testing.B) {
	matches, _ := filepath.Glob("/var/lib/apt/lists/*_dists_bookworm_main_binary-amd64_Packages*")
	if len(matches) == 0 {
		b.Skip("no bookworm main amd64 Packages in /var/lib/apt/lists")
	}
	var data []byte
	var err error
	if strings.HasSuffix(matches[0], ".lz4") {
		data, err = exec.Command("lz4", "-dc", matches[0]).Output()
	} else {
		data, err = os.ReadFile(matches[0])
	}
	if err != nil {
		b.Skipf("reading %s: %v (apt-get install lz4)", matches[0], err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		pkgs, err := ParsePackages(bytes.NewReader(data), matches[0], "r")
		if err != nil || len(pkgs) < 1000 {
			b.Fatalf("%d packages, %v", len(pkgs), err)
		}
	}
}

var localDebs = []apttest.Deb{
	{Name: "hello", Version: "1:2.10-3", Arch: "amd64", Depends: "libc6 (>= 2.34)", Content: "hello"},
	{Name: "base-files", Version: "12.4", Arch: "amd64", Essential: true, Content: "base"},
	{Name: "data-all", Version: "1.0", Arch: "all", Content: "arch independent"},
}

func localSource(r *apttest.Repo) Source {
	return Source{URIs: []string{r.URI}, Suite: r.Suite, Components: []string{"main"}, Arch: "amd64", Keyring: r.Keyring}
}

func TestLocalRepoLoads(t *testing.T) {
	r := apttest.Build(t, "amd64", localDebs)
	idx, err := Load(context.Background(), newFetcher(), localSource(r), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !idx.Signed || len(idx.Signers) != 1 || idx.Signers[0] != r.Fingerprint || idx.Mirror != r.URI {
		t.Fatalf("index signed=%v signers=%v mirror=%s", idx.Signed, idx.Signers, idx.Mirror)
	}
	got := map[string]Package{}
	for _, p := range idx.Packages {
		got[p.Name] = p
	}
	h := got["hello"]
	if len(got) != 3 || h.Version != "1:2.10-3" || h.Depends != "libc6 (>= 2.34)" || h.Priority != "optional" ||
		!strings.HasPrefix(h.Filename, "pool/main/h/hello/hello_") || h.Repository != r.URI {
		t.Fatalf("packages %+v", got)
	}
	if !got["base-files"].Essential || got["data-all"].Architecture != "all" {
		t.Fatalf("packages %+v", got)
	}
	// The stanza's checksum is the real file's.
	deb, err := os.ReadFile(filepath.Join(r.Root, h.Filename))
	if err != nil || int64(len(deb)) != h.Size || sha256hex(deb) != h.SHA256 {
		t.Fatalf("hello .deb does not match its stanza: %v", err)
	}
}

func TestLocalRepoFallsBackToReleaseGpg(t *testing.T) {
	r := apttest.Build(t, "amd64", localDebs)
	os.Remove(filepath.Join(r.Root, "dists/test/InRelease"))
	f := newFetcher()
	idx, err := Load(context.Background(), f, localSource(r), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !idx.Signed || len(idx.Packages) != 3 {
		t.Fatalf("signed=%v, %d packages", idx.Signed, len(idx.Packages))
	}
	if !slicesContainsSuffix(f.paths, "/Release.gpg") {
		t.Fatalf("fetched %v", f.paths)
	}
	// Without Release.gpg the repository is unsigned: refused unless insecure.
	os.Remove(filepath.Join(r.Root, "dists/test/Release.gpg"))
	if _, err := Load(context.Background(), newFetcher(), localSource(r), Options{}); err == nil || !strings.Contains(err.Error(), "Release.gpg") {
		t.Fatalf("unsigned repo: err = %v", err)
	}
	src := localSource(r)
	src.Insecure = true
	idx, err = Load(context.Background(), newFetcher(), src, Options{})
	if err != nil || idx.Signed || len(idx.Packages) != 3 {
		t.Fatalf("insecure: %v", err)
	}
}

func TestLocalRepoBadSignature(t *testing.T) {
	r := apttest.Build(t, "amd64", localDebs)
	p := filepath.Join(r.Root, "dists/test/InRelease")
	in, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(in, []byte("Suite: test"), []byte("Suite: tesT"), 1), 0o644)
	_, err := Load(context.Background(), newFetcher(), localSource(r), Options{})
	if err == nil || !strings.Contains(err.Error(), "dists/test/InRelease") || !strings.Contains(err.Error(), "bad signature") {
		t.Fatalf("err = %v, want a bad signature naming InRelease", err)
	}
	// A valid signature by a key the template does not trust.
	other := apttest.Build(t, "amd64", localDebs[:1])
	src := localSource(r)
	src.Keyring = other.Keyring
	r.Sign(t, "amd64")
	_, err = Load(context.Background(), newFetcher(), src, Options{})
	if err == nil || !strings.Contains(err.Error(), "no good signature") {
		t.Fatalf("foreign key: err = %v", err)
	}
}

func TestLocalRepoPackagesHashMismatch(t *testing.T) {
	r := apttest.Build(t, "amd64", localDebs)
	// Replace Packages.xz after signing with another valid xz file.
	bin := filepath.Join(r.Root, "dists/test/main/binary-amd64")
	os.WriteFile(filepath.Join(bin, "evil"), []byte("Package: evil\nVersion: 1\n"), 0o644)
	xzOut, err := exec.Command("xz", "-c", filepath.Join(bin, "evil")).Output()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(bin, "Packages.xz"), xzOut, 0o644)
	cache := t.TempDir()
	_, err = Load(context.Background(), newFetcher(), localSource(r), Options{CacheDir: cache})
	if err == nil || !strings.Contains(err.Error(), "main/binary-amd64/Packages.xz") || !strings.Contains(err.Error(), "mismatch") {
		t.Fatalf("err = %v, want a checksum mismatch naming Packages.xz", err)
	}
	// Nothing unverified is left in the cache.
	entries, _ := filepath.Glob(filepath.Join(cache, "*", "*"))
	for _, e := range entries {
		if !strings.HasSuffix(filepath.Dir(e), "tmp") {
			t.Fatalf("cache holds %s", e)
		}
	}
}

func TestLocalRepoDecompressedMismatch(t *testing.T) {
	// Release lists both Packages and Packages.xz; if the xz matches its
	// entry but unpacks to something else, the load must fail. Sign a
	// Release whose plain Packages entry is for other content.
	r := apttest.Build(t, "amd64", localDebs)
	bin := filepath.Join(r.Root, "dists/test/main/binary-amd64")
	orig, _ := os.ReadFile(filepath.Join(bin, "Packages"))
	os.WriteFile(filepath.Join(bin, "Packages"), append(orig, "\nPackage: extra\n"...), 0o644)
	r.Sign(t, "amd64")
	_, err := Load(context.Background(), newFetcher(), localSource(r), Options{})
	if err == nil || !strings.Contains(err.Error(), "decompressed content") {
		t.Fatalf("err = %v", err)
	}
}

func TestIndexSizeLimit(t *testing.T) {
	r := apttest.Build(t, "amd64", localDebs)
	_, err := Load(context.Background(), newFetcher(), localSource(r), Options{MaxIndexSize: 100})
	if err == nil || !strings.Contains(err.Error(), "limit") || !strings.Contains(err.Error(), "Packages.xz") {
		t.Fatalf("err = %v", err)
	}
}

func slicesContainsSuffix(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
