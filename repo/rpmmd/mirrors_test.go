package rpmmd

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// metalinkFor writes a metalink in MirrorManager's form (metalink 3.0 with
// the mm0 namespace and alternates) for repomd.xml content.
func metalinkFor(repomd []byte, alternate string, urls ...string) string {
	s256 := sha256.Sum256(repomd)
	s512 := sha512.Sum512(repomd)
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" pubdate="Wed, 01 Jan 2025 00:00:00 GMT" generator="mirrormanager" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files>
  <file name="repomd.xml">
   <mm0:timestamp>1736761560</mm0:timestamp>
   <size>%d</size>
   <verification>
    <hash type="md5">00000000000000000000000000000000</hash>
    <hash type="sha256">%x</hash>
    <hash type="sha512">%x</hash>
   </verification>
   <mm0:alternates>
    <mm0:alternate>
     <mm0:timestamp>1736700000</mm0:timestamp>
     <size>1</size>
     <verification><hash type="sha512">%s</hash></verification>
    </mm0:alternate>
   </mm0:alternates>
   <resources maxconnections="1">
`, len(repomd), s256, s512, alternate)
	for i, u := range urls {
		fmt.Fprintf(&b, "    <url protocol=\"%s\" type=\"%s\" location=\"US\" preference=\"%d\">%srepodata/repomd.xml</url>\n",
			u[:strings.Index(u, ":")], u[:strings.Index(u, ":")], 100-i, u)
	}
	b.WriteString("    <url protocol=\"rsync\" type=\"rsync\" location=\"US\" preference=\"100\">rsync://mirror.example/fedora/repodata/repomd.xml</url>\n")
	b.WriteString("   </resources>\n  </file>\n </files>\n</metalink>\n")
	return b.String()
}

func TestParseMetalink(t *testing.T) {
	ml, err := ParseMetalink(strings.NewReader(metalinkFor([]byte("x"), strings.Repeat("ab", 64),
		"https://a.example/pub/f/", "http://b.example/f/")), "ml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ml.Mirrors, " ") != "https://a.example/pub/f/ http://b.example/f/" {
		t.Errorf("mirrors %v (rsync must be dropped, order by preference)", ml.Mirrors)
	}
	// md5 is not kept; sha256, sha512 and the alternate's sha512 are.
	if len(ml.Hashes) != 3 || ml.Hashes[0].Type != "sha256" || ml.Hashes[2].Value != strings.Repeat("ab", 64) || ml.Size != 1 {
		t.Errorf("hashes %v size %d", ml.Hashes, ml.Size)
	}
	// Metalink 4: priority 1 is best.
	ml, err = ParseMetalink(strings.NewReader(`<metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="repomd.xml">
<hash type="sha-256">ignored-outside-verification</hash>
<url priority="2">https://two.example/repodata/repomd.xml</url><url priority="1">https://one.example/repodata/repomd.xml</url></file></metalink>`), "ml4")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ml.Mirrors, " ") != "https://one.example/ https://two.example/" {
		t.Errorf("metalink 4 mirrors %v", ml.Mirrors)
	}
	for _, bad := range []string{"", "<x/>", `<metalink><file name="other.xml"><url>https://a/</url></file></metalink>`,
		`<metalink><file name="repomd.xml"><url>rsync://a/</url></file></metalink>`} {
		if _, err := ParseMetalink(strings.NewReader(bad), "bad"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseMirrorlist(t *testing.T) {
	l, err := ParseMirrorlist(strings.NewReader("# repo = fedora-42 arch = x86_64 country = DE\n"+
		"https://a.example/fedora/releases/42/Everything/x86_64/os/\n\n"+
		"http://b.example/f42/repodata/repomd.xml\nrsync://c.example/f42/\nftp://d.example/f42/\n"+
		"https://a.example/fedora/releases/42/Everything/x86_64/os\n"), "ml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(l, " ") != "https://a.example/fedora/releases/42/Everything/x86_64/os/ http://b.example/f42/" {
		t.Errorf("mirrorlist: %v", l)
	}
	if _, err := ParseMirrorlist(strings.NewReader("# nothing\n"), "empty"); err == nil {
		t.Error("an empty mirrorlist was accepted")
	}
	if !IsMetalink([]byte("<?xml version='1.0'?>\n<metalink version=\"3.0\">")) || IsMetalink([]byte("https://a/\n")) {
		t.Error("IsMetalink")
	}
}

// serve serves dir over loopback HTTP and counts requests per path.
func serve(t *testing.T, dir string, hits *counter) *httptest.Server {
	t.Helper()
	fs := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits != nil {
			hits.n.Add(1)
		}
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type counter struct{ n atomic.Int64 }

func TestOpenMetalink(t *testing.T) {
	needFixture(t, giraut)
	kr := loadKeyring(t, filepath.Join(giraut, "KEY.gpg"))
	repomd, err := os.ReadFile(filepath.Join(giraut, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	good := serve(t, giraut, nil)
	// A mirror that answers 404 for everything comes first: failover.
	dead := httptest.NewServer(http.NotFoundHandler())
	defer dead.Close()
	mlDir := t.TempDir()
	write := func(name, s string) string {
		os.WriteFile(filepath.Join(mlDir, name), []byte(s), 0o644)
		return "file://" + filepath.Join(mlDir, name)
	}
	ml := write("metalink", metalinkFor(repomd, strings.Repeat("ab", 64), dead.URL+"/", good.URL+"/"))
	ix, err := Open(context.Background(), client(), Source{Name: "g", Metalink: ml, Keyring: kr}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Mirror != good.URL+"/" || len(ix.Packages) != 22 || !ix.Signed || ix.Mirrors[0] != ix.Mirror || len(ix.Mirrors) != 2 {
		t.Errorf("mirror %s (of %v), %d packages, signed %v", ix.Mirror, ix.Mirrors, len(ix.Packages), ix.Signed)
	}
	// repomd.xml matching only an alternate's hash is accepted...
	s512 := sha512.Sum512(repomd)
	alt := metalinkFor([]byte("a newer repomd.xml"), hex.EncodeToString(s512[:]), good.URL+"/")
	if _, err := Open(context.Background(), client(), Source{Name: "g", Metalink: write("alt", alt), Keyring: kr}, Options{}); err != nil {
		t.Errorf("alternate hash: %v", err)
	}
	// ...one matching none is a stale or altered mirror, even though signed.
	stale := metalinkFor([]byte("a newer repomd.xml"), strings.Repeat("cd", 64), good.URL+"/")
	_, err = Open(context.Background(), client(), Source{Name: "g", Metalink: write("stale", stale), Keyring: kr}, Options{})
	if err == nil || !strings.Contains(err.Error(), "metalink") || !strings.Contains(err.Error(), good.URL) {
		t.Errorf("stale mirror: %v", err)
	}
	// A mirrorlist URL that is a plain list.
	list := write("mirrorlist", "# mirrors\n"+dead.URL+"/\n"+good.URL+"/\n")
	ix, err = Open(context.Background(), client(), Source{Name: "g", Mirrorlist: list, Keyring: kr}, Options{})
	if err != nil || ix.Mirror != good.URL+"/" {
		t.Errorf("mirrorlist: %v", err)
	}
	// A mirrorlist URL that answers with a metalink is read as one.
	ix, err = Open(context.Background(), client(), Source{Name: "g", Mirrorlist: ml, Keyring: kr}, Options{})
	if err != nil || ix.Mirror != good.URL+"/" {
		t.Errorf("mirrorlist answering a metalink: %v", err)
	}
}

// The cache keeps verified data files: a second Open downloads only
// repomd.xml and its signature.
func TestOpenCache(t *testing.T) {
	needFixture(t, giraut)
	kr := loadKeyring(t, filepath.Join(giraut, "KEY.gpg"))
	hits := &counter{}
	srv := serve(t, giraut, hits)
	cache := t.TempDir()
	for i, want := range []int64{4, 2} {
		hits.n.Store(0)
		progress := map[string]int64{}
		_, err := Open(context.Background(), client(), Source{Name: "g", URIs: []string{srv.URL + "/"}, Keyring: kr},
			Options{CacheDir: cache, Progress: func(file string, written, total int64) { progress[file] = written }})
		if err != nil {
			t.Fatal(err)
		}
		if got := hits.n.Load(); got != want {
			t.Errorf("open %d: %d requests, want %d", i+1, got, want)
		}
		// Progress reports the data files downloaded, not those from the cache.
		if i == 0 && (len(progress) != 2 || progress["repodata/7dec104432171bff699599f55394f1cabe9f8d32f505cf60eeccaf8ffc2989a7-primary.xml.gz"] != 3288) ||
			i == 1 && len(progress) != 0 {
			t.Errorf("open %d: progress %v", i+1, progress)
		}
	}
}
