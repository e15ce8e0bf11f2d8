package repo_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/testenv"

	"github.com/vzkit/vzkit/internal/testfixtures"

	"github.com/vzkit/vzkit/repo"
	"github.com/vzkit/vzkit/repo/apt"
	"github.com/vzkit/vzkit/repo/apt/apttest"
	"github.com/vzkit/vzkit/repo/fetch"
	"github.com/vzkit/vzkit/repo/store"
)

var debian = testfixtures.Path("debian-archive/debian")

func client() *fetch.Client {
	return fetch.New(fetch.Options{Backoff: time.Millisecond, Retries: 1})
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixturePackages returns the real stanzas of the two fixture .debs.
func fixturePackages(t *testing.T) []repo.Package {
	t.Helper()
	f, err := os.Open(debian + "/dists/bookworm-updates/main/binary-amd64/Packages")
	if err != nil {
		testenv.Missing(t, "fixture: %v", err)
	}
	defer f.Close()
	all, err := apt.ParsePackages(f, f.Name(), "file://"+debian)
	if err != nil {
		t.Fatal(err)
	}
	var out []repo.Package
	for _, p := range all {
		if p.Name == "samba-ad-dc" || p.Name == "ca-certificates" {
			out = append(out, p.Neutral("bookworm-updates"))
		}
	}
	if len(out) != 2 {
		t.Fatalf("found %d of the 2 fixture packages", len(out))
	}
	return out
}

func TestDownloadRealDebs(t *testing.T) {
	pkgs := fixturePackages(t)
	st := openStore(t)
	stats, err := repo.Download(context.Background(), client(), st, pkgs, repo.DownloadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Downloaded != 2 || stats.Cached != 0 || stats.Bytes != pkgs[0].Size+pkgs[1].Size {
		t.Fatalf("stats %+v", stats)
	}
	for _, p := range pkgs {
		want, _ := os.ReadFile(filepath.Join(debian, p.Location))
		got, err := os.ReadFile(st.Path(p.Checksum.Hex))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: stored copy differs (%v)", p.Name, err)
		}
	}
	stats, err = repo.Download(context.Background(), client(), st, append(pkgs, pkgs...), repo.DownloadOptions{})
	if err != nil || stats.Cached != 2 || stats.Downloaded != 0 || stats.Packages != 2 {
		t.Fatalf("second run: %+v, %v", stats, err)
	}
}

func TestDownloadWrongStanzaFails(t *testing.T) {
	pkgs := fixturePackages(t)
	// samba's stanza with ca-certificates' checksum: the file on the
	// mirror does not match what the "index" says.
	bad := pkgs[0]
	bad.Checksum = pkgs[1].Checksum
	if bad.Name == pkgs[1].Name {
		t.Fatal("fixture order")
	}
	st := openStore(t)
	_, err := repo.Download(context.Background(), client(), st, []repo.Package{bad}, repo.DownloadOptions{})
	if err == nil || !strings.Contains(err.Error(), bad.Name) || !strings.Contains(err.Error(), bad.Location) ||
		!strings.Contains(err.Error(), "mismatch") {
		t.Fatalf("err = %v, want a mismatch naming package and URL", err)
	}
	if st.Has(bad.Checksum.Hex, bad.Size) {
		t.Fatal("mismatching file stored")
	}
}

// recorder checks the Progress calls.
type recorder struct {
	mu      sync.Mutex
	started map[string]bool
	last    map[string]int64
	done    map[string]error
	cached  map[string]bool
}

func newRecorder() *recorder {
	return &recorder{started: map[string]bool{}, last: map[string]int64{}, done: map[string]error{}, cached: map[string]bool{}}
}
func (r *recorder) Start(p *repo.Package) { r.mu.Lock(); r.started[p.Name] = true; r.mu.Unlock() }
func (r *recorder) Advance(p *repo.Package, n int64) {
	r.mu.Lock()
	r.last[p.Name] = n
	r.mu.Unlock()
}
func (r *recorder) Done(p *repo.Package, cached bool, err error) {
	r.mu.Lock()
	r.done[p.Name], r.cached[p.Name] = err, cached
	r.mu.Unlock()
}

// A signed local repository served over HTTP: load the index, download
// everything in parallel, then break one .deb.
func TestDownloadLocalRepoOverHTTP(t *testing.T) {
	var debs []apttest.Deb
	for _, n := range []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"} {
		debs = append(debs, apttest.Deb{Name: n, Version: "1.0-1", Arch: "amd64", Content: strings.Repeat(n, 5000)})
	}
	r := apttest.Build(t, "amd64", debs)
	srv := httptest.NewServer(http.FileServer(http.Dir(r.Root)))
	defer srv.Close()
	c := client()
	idx, err := apt.Load(context.Background(), c, apt.Source{URIs: []string{srv.URL}, Suite: r.Suite,
		Components: []string{"main"}, Arch: "amd64", Keyring: r.Keyring}, apt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Packages) != len(debs) {
		t.Fatalf("%d packages", len(idx.Packages))
	}
	pkgs := apt.Neutral(idx.Packages, "local")
	st := openStore(t)
	rec := newRecorder()
	stats, err := repo.Download(context.Background(), c, st, pkgs, repo.DownloadOptions{Parallel: 4, Progress: rec})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Downloaded != len(debs) {
		t.Fatalf("stats %+v", stats)
	}
	for _, p := range pkgs {
		if !rec.started[p.Name] || rec.last[p.Name] != p.Size || rec.done[p.Name] != nil || rec.cached[p.Name] {
			t.Fatalf("%s: progress started=%v last=%d/%d err=%v", p.Name, rec.started[p.Name], rec.last[p.Name], p.Size, rec.done[p.Name])
		}
		if err := st.Verify(p.Checksum.Hex, p.Size); err != nil {
			t.Fatal(err)
		}
	}

	// Corrupt one stored file: the Verify option re-downloads it.
	victim := pkgs[3]
	os.WriteFile(st.Path(victim.Checksum.Hex), bytes.Repeat([]byte{0}, int(victim.Size)), 0o644)
	stats, err = repo.Download(context.Background(), c, st, pkgs, repo.DownloadOptions{Verify: true})
	if err != nil || stats.Downloaded != 1 || stats.Cached != len(debs)-1 {
		t.Fatalf("after corruption: %+v, %v", stats, err)
	}

	// Replace a .deb on the server with other bytes of the same size.
	st2 := openStore(t)
	debPath := filepath.Join(r.Root, victim.Location)
	orig, _ := os.ReadFile(debPath)
	os.WriteFile(debPath, bytes.Repeat([]byte{'x'}, len(orig)), 0o644)
	_, err = repo.Download(context.Background(), c, st2, pkgs, repo.DownloadOptions{})
	if err == nil || !strings.Contains(err.Error(), "package "+victim.Name) ||
		!strings.Contains(err.Error(), srv.URL+"/"+victim.Location) || !strings.Contains(err.Error(), "mismatch") {
		t.Fatalf("err = %v, want a mismatch naming %s and its URL", err, victim.Name)
	}
	if st2.Has(victim.Checksum.Hex, victim.Size) {
		t.Fatal("corrupt .deb stored")
	}
	// A larger file is cut off at the index's size.
	os.WriteFile(debPath, append(orig, make([]byte, 1<<20)...), 0o644)
	_, err = repo.Download(context.Background(), c, st2, []repo.Package{victim}, repo.DownloadOptions{})
	if err == nil || !strings.Contains(err.Error(), victim.Name) {
		t.Fatalf("oversized: err = %v", err)
	}
}

func TestDownloadMirrorFallback(t *testing.T) {
	pkgs := fixturePackages(t)
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Error(w, "gone", http.StatusServiceUnavailable)
	}))
	defer dead.Close()
	for i := range pkgs {
		pkgs[i].BaseURLs = []string{dead.URL + "/debian"}
	}
	st := openStore(t)
	stats, err := repo.Download(context.Background(), client(), st, pkgs, repo.DownloadOptions{Mirrors: []string{"file://" + debian}})
	if err != nil || stats.Downloaded != 2 {
		t.Fatalf("%+v, %v", stats, err)
	}
}

func TestDownloadRefusesUnsafeStanzas(t *testing.T) {
	good := fixturePackages(t)[0]
	for name, mut := range map[string]func(*repo.Package){
		"escape":      func(p *repo.Package) { p.Location = "../../etc/passwd" },
		"absolute":    func(p *repo.Package) { p.Location = "/etc/passwd" },
		"no checksum": func(p *repo.Package) { p.Checksum.Hex = "" },
		// The store is addressed by SHA-256.
		"sha512 only": func(p *repo.Package) { p.Checksum = repo.Checksum{Algo: repo.SHA512, Hex: strings.Repeat("ab", 64)} },
	} {
		p := good
		mut(&p)
		if _, err := repo.Download(context.Background(), client(), openStore(t), []repo.Package{p}, repo.DownloadOptions{}); err == nil || !strings.Contains(err.Error(), p.Name) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// One broken package among many: the error names it once, and the other
// downloads stop instead of running to the end.
func TestDownloadFirstErrorCancels(t *testing.T) {
	var pkgs []repo.Package
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/broken.deb") {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		select { // the others hang until cancelled
		case <-r.Context().Done():
		case <-block:
		}
	}))
	defer srv.Close()
	defer close(block)
	for i, n := range []string{"broken", "a", "b", "c"} {
		pkgs = append(pkgs, repo.Package{Name: n, Version: "1", Location: "pool/" + n + ".deb", Size: 10,
			Checksum: repo.Checksum{Algo: repo.SHA256, Hex: strings.Repeat(string("0123"[i]), 64)}, BaseURLs: []string{srv.URL}})
	}
	_, err := repo.Download(context.Background(), client(), openStore(t), pkgs, repo.DownloadOptions{Parallel: 4})
	if err == nil || strings.Count(err.Error(), "package ") != 1 || !strings.Contains(err.Error(), "package broken 1") ||
		!strings.Contains(err.Error(), "403") {
		t.Fatalf("err = %v", err)
	}
}
