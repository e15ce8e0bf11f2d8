package aptsources

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"
)

func TestReadHostSamples(t *testing.T) {
	es, err := ReadHost("testdata/etc-apt")
	if err != nil {
		t.Fatal(err)
	}
	// sources.list: 3 entries (the commented one is not an entry);
	// debian.sources: 3 stanzas; vendor.sources: 1; *.disabled is ignored.
	if len(es) != 7 {
		for _, e := range es {
			t.Logf("%s:%d %v %v", e.File, e.Line, e.URIs, e.Suites)
		}
		t.Fatalf("got %d entries, want 7", len(es))
	}
	list := es[0]
	if list.URIs[0] != "http://example.org/ubuntu" || list.Line != 3 ||
		list.Options["arch"] != "amd64,arm64" || list.Options["signed-by"] != "/usr/share/keyrings/ubuntu-archive-keyring.gpg" ||
		strings.Join(list.Components, " ") != "main universe" {
		t.Errorf("one-line entry parsed wrong: %+v", list)
	}
	if !es[1].HasType("deb-src") || es[1].HasType("deb") {
		t.Errorf("deb-src line: types %v", es[1].Types)
	}
	if es[2].Options["trusted"] != "yes" {
		t.Errorf("[ trusted=yes ] with spaces: options %v", es[2].Options)
	}
	deb := es[3]
	if filepath.Base(deb.File) != "debian.sources" || deb.Line != 4 ||
		strings.Join(deb.Types, " ") != "deb deb-src" || strings.Join(deb.Suites, " ") != "bookworm bookworm-updates" ||
		deb.Options["signed-by"] != "/usr/share/keyrings/debian-archive-keyring.gpg" || !deb.Enabled {
		t.Errorf("deb822 stanza parsed wrong: %+v", deb)
	}
	if es[5].Enabled || es[5].URIs[0] != "http://disabled.example.org/debian" {
		t.Errorf("Enabled: no stanza: %+v", es[5])
	}
	vendor := es[6]
	if !strings.Contains(vendor.Options["signed-by"], "BEGIN PGP PUBLIC KEY BLOCK") || vendor.Options["architectures"] != "amd64" {
		t.Errorf("multi-line Signed-By lost: %q", vendor.Options["signed-by"])
	}
}

func TestPick(t *testing.T) {
	es, err := ReadHost("testdata/etc-apt")
	if err != nil {
		t.Fatal(err)
	}
	trixie, err := os.ReadFile("testdata/trixie.list")
	if err != nil {
		t.Fatal(err)
	}
	more, err := ParseList(bytes.NewReader(trixie), "trixie.list")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		entries []Entry
		q       Query
		uri     string
		origin  string
	}{
		{"debian main by suite", es, Query{Distro: "debian", Suite: "bookworm"}, "http://example.org/debian", "debian.sources:4"},
		{"debian security by suite", es, Query{Distro: "debian", Suite: "bookworm", Security: true}, "http://example.org/debian-security/", "debian.sources:10"},
		// The only trixie entry is disabled: the /debian path heuristic picks the bookworm mirror.
		{"trixie from a bookworm host", es, Query{Distro: "debian", Suite: "trixie"}, "http://example.org/debian", "debian.sources:4"},
		{"trixie security by path", es, Query{Distro: "debian", Suite: "trixie", Security: true}, "http://example.org/debian-security/", "debian.sources:10"},
		{"ubuntu main", es, Query{Distro: "ubuntu", Suite: "noble"}, "http://example.org/ubuntu", "sources.list:3"},
		{"ubuntu security on the main path", es, Query{Distro: "ubuntu", Suite: "noble", Security: true}, "http://example.org/ubuntu", "sources.list:5"},
		{"exact suite wins over earlier path match", more, Query{Distro: "debian", Suite: "bookworm"}, "http://mirror-b.example.org/debian", "trixie.list:2"},
		{"first path match otherwise", more, Query{Distro: "debian", Suite: "forky"}, "http://mirror-a.example.org/debian", "trixie.list:1"},
	}
	for _, c := range cases {
		m, err := Pick(c.entries, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if m.URI != c.uri || filepath.Base(m.File)+":"+strconv.Itoa(m.Line) != c.origin {
			t.Errorf("%s: got %s from %s, want %s from %s", c.name, m.URI, m.Origin(), c.uri, c.origin)
		}
	}
	if _, err := Pick(es, Query{Distro: "devuan", Suite: "daedalus"}); err == nil || !strings.Contains(err.Error(), "devuan") {
		t.Errorf("no devuan entry: want an error naming devuan, got %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	f, err := os.Open("testdata/bad.sources")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = ParseDeb822(f, "testdata/bad.sources")
	if err == nil || !strings.Contains(err.Error(), "testdata/bad.sources:1: stanza has no Suites field") {
		t.Errorf("missing Suites: got %v", err)
	}
	for _, c := range []struct{ in, want string }{
		{"deb http://example.org/debian bookworm\n", "x.list:1: suite \"bookworm\" needs components"},
		{"\n\ndeb [arch=amd64 http://example.org/debian bookworm main\n", "x.list:3: option block [ has no closing ]"},
		{"rpm http://example.org/x stable main\n", "x.list:1: unknown source type \"rpm\""},
	} {
		_, err := ParseList(strings.NewReader(c.in), "x.list")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.in, err, c.want)
		}
	}
	if es, err := ParseList(strings.NewReader("deb file:/srv/repo ./\n"), "flat.list"); err != nil || es[0].Suites[0] != "./" {
		t.Errorf("flat repository: %v %v", es, err)
	}
	big := strings.Repeat("# padding padding padding padding padding padding padding\n", MaxFileSize/50)
	if _, err := ParseList(strings.NewReader(big), "big.list"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: got %v", err)
	}
}

// TestHostSources reads this machine's real apt configuration: every Debian
// host lists its archive, so the main mirror must resolve.
func TestHostSources(t *testing.T) {
	es, err := ReadHost("/etc/apt")
	if err != nil {
		t.Fatal(err)
	}
	var debian bool
	for _, e := range es {
		for _, u := range e.URIs {
			debian = debian || archiveMatches(u, "debian", false)
		}
	}
	if !debian {
		testenv.Missing(t, "this host's apt sources list no Debian archive")
	}
	m, err := Pick(es, Query{Distro: "debian", Suite: "bookworm"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.File, "/etc/apt/") || m.Line < 1 || !strings.Contains(m.URI, "://") {
		t.Errorf("host mirror %+v: want a URI from a file under /etc/apt", m)
	}
	t.Logf("host mirror: %s (from %s)", m.URI, m.Origin())
}
