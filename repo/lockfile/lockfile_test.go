package lockfile

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/testenv"

	"github.com/vzkit/vzkit/internal/testfixtures"

	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/repo"
	"github.com/vzkit/vzkit/repo/apt"
	"github.com/vzkit/vzkit/repo/apt/apttest"
	"github.com/vzkit/vzkit/repo/fetch"
)

var fixtures = testfixtures.Path("debian-archive") + "/"

var fixtureNow = func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) }

// loadFixture loads the real, signed bookworm-updates suite of the shared
// fixtures.
func loadFixture(t testing.TB) *apt.Index {
	t.Helper()
	kr, err := pgp.LoadKeyring(fixtures + "keyrings/debian-archive-keyring.gpg")
	if err != nil {
		testenv.Missing(t, "fixture keyring: %v", err)
	}
	ix, err := apt.Load(context.Background(), fetch.New(fetch.Options{Retries: -1}), apt.Source{
		URIs: []string{"file://" + fixtures + "debian"}, Suite: "bookworm-updates", Components: []string{"main"},
		Arch: "amd64", Keyring: kr,
	}, apt.Options{CacheDir: t.TempDir(), Now: fixtureNow})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// indexed is s with the mirror, Release and packages of the verified
// index ix, as the Debian back end fills a Source.
func indexed(s Source, ix *apt.Index) Source {
	s.Mirror, s.Packages = ix.Mirror, apt.Neutral(ix.Packages, s.Repository)
	if ix.Release != nil {
		s.Codename, s.Date = ix.Release.Codename, ix.Release.Date
	}
	return s
}

func pick(t *testing.T, ix *apt.Index, names ...string) []apt.Package {
	t.Helper()
	var out []apt.Package
	for _, n := range names {
		found := false
		for _, p := range ix.Packages {
			if p.Name == n && (p.Architecture == "amd64" || p.Architecture == "all") {
				out = append(out, p)
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("fixture has no %s", n)
		}
	}
	return out
}

// A lock of real Debian packages survives a write and read unchanged,
// byte for byte, and Check against the same verified index gives back
// exactly the locked stanzas.
func TestRoundTripRealIndex(t *testing.T) {
	ix := loadFixture(t)
	set := pick(t, ix, "samba-ad-dc", "ca-certificates", "tzdata")
	src := []Source{indexed(Source{Repository: "updates", Suite: "bookworm-updates", Components: []string{"main"},
		ReleaseFile: "InRelease", ReleaseSHA256: strings.Repeat("ab", 32)}, ix)}
	l, err := New(Meta{Template: "debian-12-test", MetadataDigest: "sha256:" + strings.Repeat("0", 64), Arch: "amd64"}, src, apt.Neutral(set, ""))
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Repositories[0]; got.Codename != "bookworm-updates" || got.Date.IsZero() || got.Date.Location() != time.UTC || got.Mirror != "file://"+fixtures+"debian" {
		t.Errorf("repository %+v", got)
	}
	// Sorted by name whatever the input order.
	if l.Packages[0].Name != "ca-certificates" || l.Packages[1].Name != "samba-ad-dc" || l.Packages[2].Name != "tzdata" {
		t.Errorf("order: %v", l.Packages)
	}
	samba := l.Packages[1]
	if samba.Version != "2:4.17.12+dfsg-0+deb12u2" || samba.Arch != "all" || samba.Filename != "pool/main/s/samba/samba-ad-dc_4.17.12+dfsg-0+deb12u2_all.deb" {
		t.Errorf("samba-ad-dc locked as %+v", samba)
	}
	// The locked digest is the one of the real .deb in the fixture pool.
	if data, err := os.ReadFile(fixtures + "debian/" + samba.Filename); err == nil {
		if int64(len(data)) != samba.Size {
			t.Errorf("size %d, file has %d", samba.Size, len(data))
		}
	}

	path := filepath.Join(t.TempDir(), "lock.json")
	if err := Write(path, l); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	back, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(path, back); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	if !bytes.Equal(first, second) {
		t.Errorf("write(read(lock)) differs:\n%s\n---\n%s", first, second)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}

	got, err := Check(back, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("Check returned %d packages", len(got))
	}
	for i, p := range got {
		lp := back.Packages[i]
		if p.Name != lp.Name || p.Version != lp.Version || p.Checksum.Hex != lp.SHA256 || p.BaseURLs[0] != ix.Mirror {
			t.Errorf("Check[%d] = %s %s %s from %s, locked %+v", i, p.Name, p.Version, p.Checksum.Hex, p.BaseURLs, lp)
		}
	}
}

// The suite moved on: one locked package has a new version, one has the
// same version with another file, one vanished, and a locked suite is no
// longer loaded. Check names all of them at once.
func TestCheckReportsEveryChange(t *testing.T) {
	old := &apt.Index{Mirror: "http://archive.invalid/debian", Release: &apt.Release{Codename: "bookworm", Date: time.Unix(1e9, 0)}, Packages: []apt.Package{
		{Name: "libc6", Version: "2.36-9+deb12u9", Architecture: "amd64", SHA256: strings.Repeat("1", 64), Size: 10, Filename: "pool/main/g/glibc/libc6.deb"},
		{Name: "base-files", Version: "12.4+deb12u1", Architecture: "amd64", SHA256: strings.Repeat("2", 64), Size: 20},
		{Name: "gone", Version: "1", Architecture: "all", SHA256: strings.Repeat("3", 64), Size: 30},
		{Name: "same", Version: "1", Architecture: "amd64", SHA256: strings.Repeat("4", 64), Size: 40},
	}}
	extra := &apt.Index{Mirror: "file:///srv/local", Packages: []apt.Package{
		{Name: "local-tool", Version: "0.1", Architecture: "all", SHA256: strings.Repeat("5", 64), Size: 50},
	}}
	l, err := New(Meta{Template: "t", Arch: "amd64"}, []Source{
		indexed(Source{Repository: "main", Suite: "bookworm", Components: []string{"main"}}, old),
		indexed(Source{Repository: "local", Suite: "test", Components: []string{"main"}}, extra),
	}, apt.Neutral(append(append([]apt.Package{}, old.Packages...), extra.Packages...), ""))
	if err != nil {
		t.Fatal(err)
	}

	now := &apt.Index{Mirror: "http://other.invalid/debian", Packages: []apt.Package{
		{Name: "libc6", Version: "2.36-9+deb12u10", Architecture: "amd64", SHA256: strings.Repeat("6", 64), Size: 11},
		{Name: "libc6", Version: "2.36-9+deb12u8", Architecture: "amd64", SHA256: strings.Repeat("7", 64), Size: 9},
		{Name: "base-files", Version: "12.4+deb12u1", Architecture: "amd64", SHA256: strings.Repeat("8", 64), Size: 20},
		{Name: "same", Version: "1", Architecture: "amd64", SHA256: strings.Repeat("4", 64), Size: 40, Filename: "pool/s/same.deb"},
	}}
	_, err = Check(l, []Source{indexed(Source{Repository: "main", Suite: "bookworm"}, now)})
	var ce *CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("Check: %v", err)
	}
	want := []string{
		"base-files 12.4+deb12u1 in bookworm main has changed: sha256 " + strings.Repeat("8", 64),
		"gone 1 is no longer in bookworm main (not there at all any more)",
		"libc6 2.36-9+deb12u9 is no longer in bookworm main (now 2.36-9+deb12u10)",
		"repository local suite test is not loaded any more (it held local-tool)",
	}
	if len(ce.Problems) != len(want) {
		t.Fatalf("problems:\n%s", strings.Join(ce.Problems, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(ce.Problems[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i, ce.Problems[i], w)
		}
	}
	if !strings.Contains(err.Error(), "4 locked packages changed") {
		t.Errorf("message: %v", err)
	}

	// The unchanged package alone checks fine, and comes from the new mirror.
	l.Packages = []Package{l.Packages[len(l.Packages)-1]}
	got, err := Check(l, []Source{indexed(Source{Repository: "main", Suite: "bookworm"}, now), indexed(Source{Repository: "local", Suite: "test"}, extra)})
	if err != nil || len(got) != 1 || got[0].Location != "pool/s/same.deb" {
		t.Fatalf("Check = %v, %v", got, err)
	}
}

// A real local repository rebuilt with a bumped version: the lock made
// before fails against the new index and names the package, its locked
// version and the version the suite has now.
func TestCheckLocalRepoBump(t *testing.T) {
	ctx := context.Background()
	load := func(r *apttest.Repo) *apt.Index {
		ix, err := apt.Load(ctx, fetch.New(fetch.Options{Retries: -1}), apt.Source{URIs: []string{r.URI}, Suite: r.Suite,
			Components: []string{"main"}, Arch: "amd64", Keyring: r.Keyring}, apt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return ix
	}
	before := apttest.Build(t, "amd64", []apttest.Deb{
		{Name: "hello-vz", Version: "1.0-1", Arch: "amd64", Content: "one"},
		{Name: "data-vz", Version: "3", Arch: "all", Content: "data"},
	})
	ix := load(before)
	l, err := New(Meta{Template: "local", Arch: "amd64"}, []Source{indexed(Source{Repository: "local", Suite: "test", Components: []string{"main"}}, ix)}, apt.Neutral(ix.Packages, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Check(l, []Source{indexed(Source{Repository: "local", Suite: "test"}, ix)}); err != nil {
		t.Fatalf("unchanged repository: %v", err)
	}
	after := apttest.Build(t, "amd64", []apttest.Deb{
		{Name: "hello-vz", Version: "1.0-2", Arch: "amd64", Content: "two"},
		{Name: "data-vz", Version: "3", Arch: "all", Content: "data"},
	})
	_, err = Check(l, []Source{indexed(Source{Repository: "local", Suite: "test"}, load(after))})
	var ce *CheckError
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0] != "hello-vz 1.0-1 is no longer in test main (now 1.0-2)" {
		t.Fatalf("Check after the bump: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	good := `{"version":1,"template":"t","metadata_digest":"","arch":"amd64","repositories":[{"name":"main","suite":"s","components":["main"],"mirror":"","date":"2026-01-01T00:00:00Z"}],` +
		`"packages":[{"name":"a","version":"1","arch":"amd64","sha256":"` + strings.Repeat("a", 64) + `","size":1,"filename":"f","repository":"main","suite":"s"}]}`
	if _, err := Parse([]byte(good), "good"); err != nil {
		t.Fatalf("good lock: %v", err)
	}
	for name, bad := range map[string]string{
		"version":       strings.Replace(good, `"version":1`, `"version":2`, 1),
		"unknown field": strings.Replace(good, `"arch":"amd64",`, `"arch":"amd64","extra":1,`, 1),
		"sha256":        strings.Replace(good, strings.Repeat("a", 64), strings.Repeat("A", 64), 1),
		"size":          strings.Replace(good, `"size":1`, `"size":0`, 1),
		"repository":    strings.Replace(good, `"repository":"main"`, `"repository":"other"`, 1),
		"trailing":      good + "{}",
		"duplicate":     strings.Replace(good, `"packages":[`, `"packages":[{"name":"a","version":"2","arch":"amd64","sha256":"`+strings.Repeat("b", 64)+`","size":1,"filename":"g","repository":"main","suite":"s"},`, 1),
	} {
		if _, err := Parse([]byte(bad), name); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// An RPM lock names the newest version by rpm's order (the epoch first),
// not by Debian's or by the string, and a lock's format must be known.
func TestCheckRPMNewestAndFormat(t *testing.T) {
	sum := func(c string) repo.Checksum { return repo.Checksum{Algo: repo.SHA256, Hex: strings.Repeat(c, 64)} }
	rpm := func(v, c string) repo.Package {
		return repo.Package{Format: repo.FormatRPM, Name: "bash", Version: v, Arch: "x86_64", Size: 1, Checksum: sum(c), Location: "Packages/bash.rpm"}
	}
	src := Source{Repository: "baseos", Suite: "", Packages: []repo.Package{rpm("5.1.8-6.el9", "1")}}
	l, err := New(Meta{Template: "alma", Arch: "x86_64", Format: repo.FormatRPM}, []Source{src}, src.Packages)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Meta{Template: "alma", Arch: "x86_64", Format: repo.FormatDeb}, []Source{src}, src.Packages); err == nil {
		t.Error("rpm packages accepted in a deb lock")
	}
	data, err := l.Marshal()
	if err != nil || !strings.Contains(string(data), `"format": "rpm"`) {
		t.Fatalf("lock %s, %v", data, err)
	}
	if _, err := Parse(bytes.Replace(data, []byte(`"format": "rpm"`), []byte(`"format": "zip"`), 1), "zip"); err == nil {
		t.Error("unknown format accepted")
	}
	now := Source{Repository: "baseos", Packages: []repo.Package{rpm("5.2.15-2.el9", "2"), rpm("1:5.1.8-7.el9", "3"), rpm("5.10-1.el9", "4")}}
	_, err = Check(l, []Source{now})
	if err == nil || !strings.Contains(err.Error(), "bash 5.1.8-6.el9 is no longer in baseos (now 1:5.1.8-7.el9)") {
		t.Errorf("Check: %v", err)
	}
}
