package rpmmd

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// FileList is one package's entry of filelists.xml.
type FileList struct {
	PkgID, Name, Arch string
	EVR               EVR
	Files             []string
}

// ParseFilelists reads filelists.xml token by token and calls fn for every
// package entry; fn must copy what it keeps. keep, when not nil, filters
// the paths stored in FileList.Files (the whole list of a large
// distribution does not need to sit in memory: see Merge).
func ParseFilelists(r io.Reader, name string, keep func(path string) bool, fn func(*FileList) error) error {
	d := xml.NewDecoder(r)
	d.Strict = true
	return eachTopLevel(d, name, "filelists", func(se xml.StartElement) error {
		if se.Name.Local != "package" {
			if err := skip(d); err != nil {
				return xmlErr(name, d, err)
			}
			return nil
		}
		fl := FileList{PkgID: strings.ToLower(attr(se, "pkgid")), Name: attr(se, "name"), Arch: attr(se, "arch")}
		if fl.PkgID == "" {
			line, _ := d.InputPos()
			return fmt.Errorf("%s:%d: package %q without pkgid", name, line, fl.Name)
		}
		if err := parseFileList(d, &fl, keep); err != nil {
			return xmlErr(name, d, fmt.Errorf("package %q: %w", fl.Name, err))
		}
		return fn(&fl)
	})
}

func parseFileList(d *xml.Decoder, fl *FileList, keep func(string) bool) error {
	return eachChild(d, func(t xml.StartElement) error {
		switch t.Name.Local {
		case "version":
			fl.EVR = EVR{Epoch: attr(t, "epoch"), Version: attr(t, "ver"), Release: attr(t, "rel")}
			return skip(d)
		case "file":
			f, err := text(d, maxName)
			if err == nil && f != "" && (keep == nil || keep(f)) {
				fl.Files = append(fl.Files, f)
			}
			return err
		default:
			return skip(d)
		}
	})
}

// Merger adds filelists.xml's paths to the packages of a primary.xml, by
// pkgid (the .rpm's checksum, which both files carry).
type Merger struct {
	pkgs   []Package
	byID   map[string][]int
	wanted map[string]bool // nil: keep every path
	merged int
}

// NewMerger prepares merging into pkgs (modified in place). With all
// false, only the paths that some package's dependencies name are kept
// (file dependencies: requires, conflicts, obsoletes and the weak ones,
// rich dependencies included): that is all the solver looks up, and it
// keeps a large distribution's file list (millions of paths) out of
// memory. With all true, every path is kept.
func NewMerger(pkgs []Package, all bool) *Merger {
	m := &Merger{pkgs: pkgs, byID: make(map[string][]int, len(pkgs))}
	for i := range pkgs {
		id := strings.ToLower(pkgs[i].Checksum.Value)
		m.byID[id] = append(m.byID[id], i)
	}
	if !all {
		m.wanted = FileDeps(pkgs)
	}
	return m
}

// Want adds paths to keep (no-op when every path is kept).
func (m *Merger) Want(paths map[string]bool) {
	if m.wanted == nil {
		return
	}
	for p := range paths {
		m.wanted[p] = true
	}
}

// Keep is the path filter to give ParseFilelists.
func (m *Merger) Keep(path string) bool {
	return m.wanted == nil || m.wanted[path]
}

// Add merges one filelists entry; an entry whose pkgid (or name, arch and
// version) matches no package is an error: the two files are from
// different repository states.
func (m *Merger) Add(fl *FileList) error {
	idx, ok := m.byID[fl.PkgID]
	if !ok {
		return fmt.Errorf("filelists entry %s-%s.%s (pkgid %s) is not in primary", fl.Name, fl.EVR, fl.Arch, fl.PkgID)
	}
	for _, i := range idx {
		p := &m.pkgs[i]
		if p.Name != fl.Name || p.Arch != fl.Arch || p.EVR.Version != fl.EVR.Version || p.EVR.Release != fl.EVR.Release {
			return fmt.Errorf("filelists entry %s-%s.%s has the pkgid of %s in primary", fl.Name, fl.EVR, fl.Arch, p.NEVRA())
		}
		if m.wanted == nil {
			p.Files = append([]string(nil), fl.Files...)
		} else {
			p.Files = union(p.Files, fl.Files)
		}
	}
	m.merged++
	return nil
}

// Merged is the number of filelists entries added.
func (m *Merger) Merged() int { return m.merged }

func union(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	seen := make(map[string]bool, len(a))
	for _, s := range a {
		seen[s] = true
	}
	out := a
	for _, s := range b {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// FileDeps returns the absolute paths named by the packages' dependencies,
// inside rich dependencies too.
func FileDeps(pkgs []Package) map[string]bool {
	out := map[string]bool{}
	add := func(deps []Dep) {
		for _, d := range deps {
			if strings.HasPrefix(d.Name, "/") {
				out[d.Name] = true
			} else if strings.HasPrefix(d.Name, "(") {
				for _, w := range strings.FieldsFunc(d.Name, func(r rune) bool { return r == ' ' || r == '(' || r == ')' }) {
					if strings.HasPrefix(w, "/") {
						out[w] = true
					}
				}
			}
		}
	}
	for i := range pkgs {
		p := &pkgs[i]
		for _, l := range [][]Dep{p.Requires, p.Conflicts, p.Obsoletes, p.Recommends, p.Suggests, p.Supplements, p.Enhances} {
			add(l)
		}
	}
	return out
}
