package rpmmd

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testfixtures"
)

// maxSeed keeps the corpus small: the 52 MB AppStream primary.xml is
// left out, the other fixtures go in whole.
const maxSeed = 1 << 20

// seed adds the fixture files matching the patterns, decompressed.
func seed(f *testing.F, patterns ...string) {
	n := 0
	for _, p := range patterns {
		files, _ := filepath.Glob(testfixtures.Path(p))
		for _, name := range files {
			file, err := os.Open(name)
			if err != nil {
				f.Fatal(err)
			}
			r, c, err := Decompress(file, maxSeed, name)
			if err != nil {
				file.Close()
				continue // zchunk
			}
			b, err := io.ReadAll(r)
			file.Close()
			if err != nil {
				continue // larger than maxSeed
			}
			_ = c
			f.Add(b)
			n++
		}
	}
	if n == 0 {
		f.Logf("no fixture seeds found under %s", testfixtures.Dir())
	}
}

func FuzzRepomd(f *testing.F) {
	seed(f, "giraut-rpm/repodata/repomd.xml", "libzypp/zypp/tests/*/*/repodata/repomd.xml",
		"libzypp/zypp/tests/repo/yum/data/*/repodata/repomd.xml", "osbuild/test/data/testrepos/*/repodata/repomd.xml",
		"createrepo_c/tests/testdata/*/repodata/repomd.xml")
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := ParseRepomd(b, "fuzz")
		if err != nil {
			return
		}
		for _, e := range md.Data {
			if e.Type == "" || e.Location == "" || e.Checksum.check() != nil || e.Size < -1 || e.OpenSize < -1 {
				t.Fatalf("bad entry accepted: %+v", e)
			}
		}
	})
}

func FuzzPrimary(f *testing.F) {
	seed(f, "giraut-rpm/repodata/*-primary.xml.gz", "libzypp/zypp/tests/*/*/repodata/primary.xml.gz",
		"libzypp/zypp/tests/repo/yum/data/*/repodata/primary.xml.gz", "osbuild/test/data/testrepos/custom/repodata/*primary.xml.zst",
		"createrepo_c/tests/testdata/*/repodata/*-primary.xml.gz")
	f.Add([]byte(`<metadata><package><name>a</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/><format><rpm:requires xmlns:rpm="x"><rpm:entry name="(b if c)"/><rpm:entry name="d" flags="GE" ver="2" pre="1"/></rpm:requires></format></package></metadata>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := ParsePrimary(bytes.NewReader(b), "fuzz", func(p *Package) error {
			if p.Name == "" || p.Arch == "" || p.EVR.Version == "" {
				t.Fatalf("package without name, arch or version accepted: %+v", p)
			}
			for _, l := range [][]Dep{p.Provides, p.Requires, p.Conflicts, p.Obsoletes, p.Recommends, p.Suggests, p.Supplements, p.Enhances} {
				for _, d := range l {
					if d.Name == "" || (d.Op == OpAny) != (d.EVR.Version == "") || d.Op < OpAny || d.Op > OpGE {
						t.Fatalf("%s: bad dependency accepted: %+v", p.Name, d)
					}
				}
			}
			return nil
		})
		_ = err
	})
}

func FuzzFilelists(f *testing.F) {
	seed(f, "giraut-rpm/repodata/*-filelists.xml.gz", "libzypp/zypp/tests/repo/yum/data/*/repodata/filelists.xml.gz",
		"osbuild/test/data/testrepos/*/repodata/*filelists.xml.*", "createrepo_c/tests/testdata/*/repodata/*-filelists.xml.gz")
	f.Fuzz(func(t *testing.T, b []byte) {
		keep := func(p string) bool { return strings.HasPrefix(p, "/usr") }
		_ = ParseFilelists(bytes.NewReader(b), "fuzz", keep, func(fl *FileList) error {
			if fl.PkgID == "" {
				t.Fatalf("entry without pkgid accepted: %+v", fl)
			}
			for _, p := range fl.Files {
				if !keep(p) {
					t.Fatalf("filtered path %q kept", p)
				}
			}
			return nil
		})
	})
}

func FuzzComps(f *testing.F) {
	seed(f, "osbuild/test/data/testrepos/appstream/repodata/*comps*", "createrepo_c/tests/testdata/comps_files/*.xml",
		"createrepo_c/tests/testdata/other_metadata/comps-f19.xml", "createrepo_c/tests/testdata/repo_with_additional_metadata/repodata/*comps.f20.xml")
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseComps(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		var ids []string
		for id := range c.Groups {
			ids = append(ids, id)
		}
		for id := range c.Environments {
			ids = append(ids, "@^"+id)
		}
		for _, id := range ids {
			sel, err := Expand(id, c, nil, ExpandOptions{Optional: true})
			if err != nil {
				t.Fatalf("%s: defined but not expandable: %v", id, err)
			}
			if !sort.StringsAreSorted(sel.Packages) {
				t.Fatalf("%s: packages not sorted: %v", id, sel.Packages)
			}
			for i := 1; i < len(sel.Packages); i++ {
				if sel.Packages[i] == sel.Packages[i-1] {
					t.Fatalf("%s: %s twice", id, sel.Packages[i])
				}
			}
		}
		_ = (*Comps)(nil).Merge(c).Merge(c)
	})
}

func FuzzMetalink(f *testing.F) {
	f.Add([]byte(metalinkFor([]byte("x"), strings.Repeat("ab", 64), "https://a.example/f/", "http://b.example/")))
	f.Add([]byte(`<metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="repomd.xml"><url priority="1">https://one.example/repodata/repomd.xml</url></file></metalink>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ml, err := ParseMetalink(bytes.NewReader(b), "fuzz")
		if err == nil {
			if len(ml.Mirrors) == 0 {
				t.Fatal("metalink without mirrors accepted")
			}
			for _, m := range ml.Mirrors {
				u, err := url.Parse(m)
				if err != nil || u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file" || !strings.HasSuffix(m, "/") {
					t.Fatalf("mirror %q accepted", m)
				}
			}
			for _, h := range ml.Hashes {
				if h.check() != nil || h.Type == "md5" {
					t.Fatalf("hash %+v accepted", h)
				}
			}
		}
		if l, err := ParseMirrorlist(bytes.NewReader(b), "fuzz"); err == nil && len(l) == 0 {
			t.Fatal("empty mirrorlist accepted")
		}
	})
}

func FuzzDecompress(f *testing.F) {
	for _, c := range []string{"00", "01"} {
		files, _ := filepath.Glob(testfixtures.Path("createrepo_c/tests/testdata/compressed_files/" + c + "_plain.*"))
		for _, name := range files {
			b, _ := os.ReadFile(name)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _, err := Decompress(bytes.NewReader(b), 1<<20, "fuzz")
		if err != nil {
			return
		}
		n, _ := io.Copy(io.Discard, r)
		if n > 1<<20+64<<10 {
			t.Fatalf("read %d bytes past the 1 MiB limit", n)
		}
		r.Close()
	})
}
