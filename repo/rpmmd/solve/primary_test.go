package solve

// A minimal primary.xml reader for the tests, until repo/rpmmd has its
// own parser: just the fields the solver reads.

import (
	"compress/gzip"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/internal/testfixtures"
	"github.com/vzkit/vzkit/repo/rpmmd"
)

// appstreamPrimary is CentOS Stream 9's AppStream primary.xml (17,649
// packages) as osbuild keeps it for its depsolver tests.
func appstreamPrimary(tb testing.TB) string {
	tb.Helper()
	m, _ := filepath.Glob(testfixtures.Path("osbuild/test/data/testrepos/appstream/repodata/*-primary.xml.gz"))
	if len(m) != 1 {
		testenv.Missing(tb, "the osbuild AppStream primary.xml.gz fixture is not in %s", testfixtures.Dir())
	}
	return m[0]
}

type xmlEntry struct {
	Name  string `xml:"name,attr"`
	Flags string `xml:"flags,attr"`
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
	Pre   string `xml:"pre,attr"`
}

type xmlPackage struct {
	Name    string `xml:"name"`
	Arch    string `xml:"arch"`
	Version struct {
		Epoch string `xml:"epoch,attr"`
		Ver   string `xml:"ver,attr"`
		Rel   string `xml:"rel,attr"`
	} `xml:"version"`
	Location struct {
		Href string `xml:"href,attr"`
	} `xml:"location"`
	Checksum struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"checksum"`
	Format struct {
		Provides    []xmlEntry `xml:"provides>entry"`
		Requires    []xmlEntry `xml:"requires>entry"`
		Conflicts   []xmlEntry `xml:"conflicts>entry"`
		Obsoletes   []xmlEntry `xml:"obsoletes>entry"`
		Recommends  []xmlEntry `xml:"recommends>entry"`
		Supplements []xmlEntry `xml:"supplements>entry"`
		Files       []string   `xml:"file"`
	} `xml:"format"`
}

var primaryOps = map[string]rpmmd.Op{"": rpmmd.OpAny, "EQ": rpmmd.OpEQ, "LT": rpmmd.OpLT, "LE": rpmmd.OpLE, "GT": rpmmd.OpGT, "GE": rpmmd.OpGE}

func (x xmlEntry) dep(tb testing.TB) rpmmd.Dep {
	op, ok := primaryOps[x.Flags]
	if !ok {
		tb.Fatalf("primary.xml: entry %s has flags %q", x.Name, x.Flags)
	}
	return rpmmd.Dep{Name: x.Name, Op: op, EVR: rpmmd.EVR{Epoch: x.Epoch, Version: x.Ver, Release: x.Rel}, Pre: x.Pre == "1"}
}

// readPrimary parses a primary.xml(.gz) file.
func readPrimary(tb testing.TB, path, repo string) []rpmmd.Package {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if filepath.Ext(path) == ".gz" {
		zr, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatal(err)
		}
		r = zr
	}
	dec := xml.NewDecoder(r)
	var out []rpmmd.Package
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "package" {
			continue
		}
		var x xmlPackage
		if err := dec.DecodeElement(&x, &se); err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		p := rpmmd.Package{
			Name: x.Name, Arch: x.Arch,
			EVR:        rpmmd.EVR{Epoch: x.Version.Epoch, Version: x.Version.Ver, Release: x.Version.Rel},
			Location:   x.Location.Href,
			Checksum:   rpmmd.Checksum{Type: x.Checksum.Type, Value: x.Checksum.Value},
			Files:      x.Format.Files,
			Repository: repo,
		}
		conv := func(list []xmlEntry) []rpmmd.Dep {
			var deps []rpmmd.Dep
			for _, e := range list {
				deps = append(deps, e.dep(tb))
			}
			return deps
		}
		p.Provides, p.Requires, p.Conflicts, p.Obsoletes = conv(x.Format.Provides), conv(x.Format.Requires), conv(x.Format.Conflicts), conv(x.Format.Obsoletes)
		p.Recommends, p.Supplements = conv(x.Format.Recommends), conv(x.Format.Supplements)
		out = append(out, p)
	}
	return out
}

var appstream struct {
	once sync.Once
	pkgs []rpmmd.Package
}

// appstreamPackages parses the AppStream primary once per test binary.
func appstreamPackages(tb testing.TB) []rpmmd.Package {
	path := appstreamPrimary(tb)
	appstream.once.Do(func() { appstream.pkgs = readPrimary(tb, path, "appstream") })
	if len(appstream.pkgs) == 0 {
		tb.Fatal("AppStream primary parsed to no packages")
	}
	return appstream.pkgs
}

// mergeFilelists replaces each package's Files with the whole list from
// a filelists.xml(.gz), matched by pkgid.
func mergeFilelists(tb testing.TB, pkgs []rpmmd.Package, path string) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if filepath.Ext(path) == ".gz" {
		zr, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatal(err)
		}
		r = zr
	}
	byID := map[string]*rpmmd.Package{}
	for i := range pkgs {
		byID[pkgs[i].Checksum.Value] = &pkgs[i]
	}
	dec := xml.NewDecoder(r)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "package" {
			continue
		}
		var x struct {
			PkgID string   `xml:"pkgid,attr"`
			Files []string `xml:"file"`
		}
		if err := dec.DecodeElement(&x, &se); err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		if p := byID[x.PkgID]; p != nil {
			p.Files = x.Files
		}
	}
}
