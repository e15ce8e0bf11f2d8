package distros_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/vzkit/vzkit/distros"
	"github.com/vzkit/vzkit/metadata"
)

func loader() *metadata.Loader {
	return &metadata.Loader{Sources: []metadata.Source{{Name: "distros", FS: distros.Metadata(), Dir: distros.TemplateDir}}}
}

// TestShippedLintClean lints every shipped file as a maintainer would.
func TestShippedLintClean(t *testing.T) {
	files, err := filepath.Glob("templates/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range metadata.Lint(files...) {
		t.Errorf("%s", p)
	}
}

var wantTemplates = []string{
	"almalinux-9-minimal", "centos-stream-9-minimal", "debian-12-minimal", "debian-12-standard",
	"debian-13-minimal", "debian-13-standard", "fedora-41-minimal", "fedora-42-minimal",
	"opensuse-leap-15.6-minimal", "rocky-9-minimal", "ubuntu-22.04-minimal", "ubuntu-24.04-minimal",
}

func TestShippedTemplates(t *testing.T) {
	l := loader()
	es, err := l.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		tp, err := l.Load(context.Background(), e.Name)
		if errors.Is(err, metadata.ErrAbstract) {
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		got = append(got, e.Name)
		if e.Name != tp.Distro+"-"+tp.Release+"-"+tp.Variant {
			t.Errorf("%s: name is not DISTRO-RELEASE-VARIANT (%s-%s-%s)", e.Name, tp.Distro, tp.Release, tp.Variant)
		}
		// Debian-family templates take their mirror from the caller only.
		if tp.Distro == "debian" || tp.Distro == "ubuntu" {
			for _, r := range tp.Repositories {
				if !strings.HasPrefix(r.URL, "$mirror") && !strings.HasPrefix(r.URL, "$security_mirror") {
					t.Errorf("%s: repository %s names a host: %s", e.Name, r.Name, r.URL)
				}
			}
		}
		if _, err := tp.Expand(map[string]string{"mirror": "http://m.example.org/x", "security_mirror": "http://s.example.org/x"}); err != nil {
			t.Errorf("%s: %v", e.Name, err)
		}
	}
	if strings.Join(got, " ") != strings.Join(wantTemplates, " ") {
		t.Errorf("shipped templates:\n got %v\nwant %v", got, wantTemplates)
	}
}

// TestUpdatesAndSecuritySuites: every shipped Debian and Ubuntu template
// (minimal ones too) installs from its release, updates and security
// suites, so no cache is built without its security fixes; a minimal one
// stays mmdebstrap's minbase (no extra packages).
func TestUpdatesAndSecuritySuites(t *testing.T) {
	ents, err := loader().List()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range ents {
		tp, err := loader().Load(context.Background(), e.Name)
		if errors.Is(err, metadata.ErrAbstract) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if tp.Distro != "debian" && tp.Distro != "ubuntu" {
			continue
		}
		checked++
		x, err := tp.Expand(map[string]string{"mirror": "http://m.example.org/x", "security_mirror": "http://s.example.org/x"})
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		code := x.Variables["codename"]
		suites := map[string]string{}
		for _, r := range x.Repositories {
			for _, s := range r.Suites {
				suites[s] = r.URL
			}
		}
		want := map[string]string{code: "http://m.example.org/x", code + "-updates": "http://m.example.org/x", code + "-security": "http://s.example.org/x"}
		if tp.Distro == "ubuntu" {
			want[code+"-security"] = "http://m.example.org/x" // Ubuntu's mirrors carry it
		}
		if len(suites) != 3 {
			t.Errorf("%s: suites %v, want %v", e.Name, suites, want)
		}
		for s, url := range want {
			if suites[s] != url {
				t.Errorf("%s: suite %s from %q, want %q", e.Name, s, suites[s], url)
			}
		}
		if tp.Variant == "minimal" && (tp.Packages.Variant != "minbase" || len(tp.Packages.Include) != 0) {
			t.Errorf("%s: packages %+v, want mmdebstrap's minbase", e.Name, tp.Packages)
		}
	}
	if checked < 6 {
		t.Errorf("checked %d Debian and Ubuntu templates, want the 6 shipped", checked)
	}
}

// TestPinnedKeys opens every key file the templates name and checks that
// the pinned fingerprint is a primary key in it. Debian's keys come from the
// host package debian-archive-keyring.
func TestPinnedKeys(t *testing.T) {
	l := loader()
	es, err := l.List()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range es {
		tp, err := l.Load(context.Background(), e.Name)
		if err != nil {
			continue
		}
		if len(tp.Keys) == 0 {
			t.Errorf("%s: no keys", e.Name)
		}
		for _, k := range tp.Keys {
			var r io.ReadCloser
			if k.FS != nil {
				r, err = k.FS.Open(k.File)
			} else {
				r, err = os.Open(k.File)
			}
			if errors.Is(err, fs.ErrNotExist) && k.FS == nil {
				t.Logf("%s: %s missing on this host (install %s)", e.Name, k.File, k.Package)
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", e.Name, err)
			}
			fps := fingerprints(t, r)
			r.Close()
			if !fps[k.Fingerprint] {
				t.Errorf("%s: %s holds no primary key %s", e.Name, k.File, k.Fingerprint)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no key checked")
	}
}

func fingerprints(t *testing.T, r io.Reader) map[string]bool {
	t.Helper()
	b, err := io.ReadAll(io.LimitReader(r, 4<<20))
	if err != nil {
		t.Fatal(err)
	}
	var el openpgp.EntityList
	if strings.HasPrefix(string(b), "-----BEGIN") {
		el, err = openpgp.ReadArmoredKeyRing(strings.NewReader(string(b)))
	} else {
		el, err = openpgp.ReadKeyRing(strings.NewReader(string(b)))
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range el {
		out[strings.ToUpper(fmtHex(e.PrimaryKey.Fingerprint))] = true
	}
	return out
}

func fmtHex(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
