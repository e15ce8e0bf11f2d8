package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testfixtures"
	"github.com/vzkit/vzkit/pipeline"
)

// TestInspect runs vzpkg inspect on real packages and repository indexes
// (../shared/fixtures) and on tampered copies: the verdict each prints and
// the exit status, 0 only when what was asked to verify verified.
func TestInspect(t *testing.T) {
	fx := testfixtures.Path
	rpmKey := fx("rpm-org/tests/data/keys/rpm.org-rsa-2048-test.pub")
	hello := fx("rpm-org/tests/data/RPMS/hello-2.0-1.x86_64-signed.rpm")
	tmp := t.TempDir()
	tampered := func(src, name string, edit func([]byte) []byte) string {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, edit(b), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The last byte of the payload: the signature over header and payload
	// and the payload digest no longer match.
	badPayload := tampered(hello, "payload/hello-2.0-1.x86_64.rpm", func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
	// A repomd.xml with one checksum changed, beside the real signature.
	giraut := fx("giraut-rpm/repodata")
	asc, err := os.ReadFile(filepath.Join(giraut, "repomd.xml.asc"))
	if err != nil {
		t.Fatal(err)
	}
	badRepomd := tampered(filepath.Join(giraut, "repomd.xml"), "repo/repodata/repomd.xml", func(b []byte) []byte {
		i := strings.Index(string(b), "<checksum type=\"sha256\">") + len("<checksum type=\"sha256\">")
		if b[i] == '0' { // another hex digit
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		return b
	})
	if err := os.WriteFile(badRepomd+".asc", asc, 0o644); err != nil {
		t.Fatal(err)
	}
	// The giraut repository served over HTTP, given by its base URL.
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(giraut))))
	defer srv.Close()

	for _, c := range []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"signed rpm, its key", []string{hello, "--key", rpmKey}, 0,
			[]string{"kind:        rpm", "name:        hello", "version:     2.0-1", "compression: gzip", "files:       5",
				"depends:     libc.so.6()(64bit)", "signature:   verified by 771B18D3D7BAA28734333C424344591E1964C5FC"}},
		{"signed rpm, no key given", []string{hello}, 0, []string{"signature:   unknown key 4344591E1964C5FC"}},
		{"signed rpm, another key", []string{hello, "--key", fx("giraut-rpm/KEY.gpg")}, 1, []string{"signature:   unknown key 4344591E1964C5FC"}},
		{"unsigned rpm with a key", []string{fx("rpm-org/tests/data/RPMS/hello-2.0-1.x86_64.rpm"), "--key", rpmKey}, 1, []string{"signature:   unsigned"}},
		{"altered payload", []string{badPayload, "--key", rpmKey}, 1,
			[]string{"signature:   BAD signature: rpm: hello-2.0-1.x86_64.rpm: verification failed:"}},
		{"zstd rpm of Fedora 31", []string{fx("rpm-rs/test_assets/rpm-sign-4.15.1-1.fc31.x86_64.rpm"),
			"--key", fx("distribution-gpg-keys/keys/fedora/RPM-GPG-KEY-fedora-31-primary")}, 0,
			[]string{"compression: zstd", "signature:   verified by"}},
		{"repomd.xml", []string{filepath.Join(giraut, "repomd.xml"), "--key", fx("giraut-rpm/KEY.gpg")}, 0,
			[]string{"kind:        rpm-md", "data:        primary filelists other", "signature:   verified by 2708A0E30498A3684C2015177D33E3C7075FDB3D"}},
		{"repository by URL", []string{srv.URL + "/", "--key", fx("giraut-rpm/KEY.gpg")}, 0,
			[]string{"kind:        rpm-md", "signature:   verified by 2708A0E30498A3684C2015177D33E3C7075FDB3D"}},
		{"tampered repomd.xml", []string{badRepomd, "--key", fx("giraut-rpm/KEY.gpg")}, 1, []string{"signature:   BAD signature:"}},
		{"InRelease", []string{fx("debian-archive/debian/dists/bookworm/InRelease"), "--key", fx("debian-archive/keyrings/debian-archive-keyring.gpg")}, 0,
			[]string{"kind:        apt-release", "codename:    bookworm", "signature:   verified by"}},
		{"Release + Release.gpg, one key of two", []string{fx("backseat-signed/tests/data/vim/Release"),
			"--key", fx("backseat-signed/tests/data/debian-archive-bookworm-automatic.asc")}, 0,
			[]string{"codename:    sid", "signature:   verified by"}},
		{"deb", []string{fx("aptly/system/files/libboost-program-options-dev_1.62.0.1_i386.deb")}, 0,
			[]string{"kind:        deb", "version:     1.62.0.1", "arch:        i386", "compression: xz", "signature:   unsigned (a .deb is verified"}},
		{"not a known file", []string{fx("SOURCES.md")}, 1, []string{"not a file inspect knows"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, code, _ := run(t, t.TempDir(), append([]string{"inspect"}, c.args...)...)
			if code != c.code {
				t.Errorf("exit %d, want %d:\n%s", code, c.code, out)
			}
			for _, w := range c.wants {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in:\n%s", w, out)
				}
			}
		})
	}

	// -o json: one object per source, with the verdict's state.
	out, code, err := run(t, t.TempDir(), "inspect", hello, filepath.Join(giraut, "repomd.xml"), "--key", rpmKey, "-o", "json")
	if code != 1 { // repomd.xml is signed by a key not given
		t.Errorf("json run: exit %d (%v)", code, err)
	}
	var reports []pipeline.Inspected
	if err := json.Unmarshal([]byte(out), &reports); err != nil || len(reports) != 2 {
		t.Fatalf("json: %v:\n%s", err, out)
	}
	if reports[0].Signature.State != pipeline.Verified || reports[1].Signature.State != pipeline.UnknownKey ||
		reports[1].Signature.KeyIDs[0] != "7D33E3C7075FDB3D" {
		t.Errorf("json verdicts: %+v, %+v", reports[0].Signature, reports[1].Signature)
	}
}
