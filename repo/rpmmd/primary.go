package rpmmd

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
)

// Bounds on single values; the whole file is bounded by the decompressed
// size limit. Real values are far below them.
const (
	maxName    = 4 << 10  // a name, version, path or dependency
	maxSummary = 64 << 10 // summary, license, sourcerpm
)

// interner shares the backing string of values that repeat across
// thousands of packages (dependency names such as /bin/sh or
// libc.so.6()(64bit), versions, architectures, licenses). It also holds
// the parse's scratch buffer of dependencies.
type interner struct {
	m   map[string]string
	buf []Dep
}

const maxInterned = 1 << 17

func newInterner() *interner { return &interner{m: map[string]string{}} }

func (in *interner) get(s string) string {
	if v, ok := in.m[s]; ok {
		return v
	}
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}

func (in *interner) scratch() []Dep { return in.buf }

// keep retains a grown buffer for the next list.
func (in *interner) keep(b []Dep) {
	if cap(b) > cap(in.buf) {
		in.buf = b
	}
}

// ParsePrimary reads primary.xml token by token and calls fn for every
// package, in file order; fn must copy what it keeps (the *Package is
// reused). name is used in errors. An error from fn stops the parse and is
// returned as is.
func ParsePrimary(r io.Reader, name string, fn func(*Package) error) error {
	d := xml.NewDecoder(r)
	d.Strict = true
	in := newInterner()
	return eachTopLevel(d, name, "metadata", func(se xml.StartElement) error {
		if se.Name.Local != "package" {
			if err := skip(d); err != nil {
				return xmlErr(name, d, err)
			}
			return nil
		}
		var p Package
		if err := parsePackage(d, in, &p); err != nil {
			return xmlErr(name, d, err)
		}
		if p.Name == "" || p.Arch == "" || p.EVR.Version == "" {
			line, _ := d.InputPos()
			return fmt.Errorf("%s:%d: package %q without name, arch or version", name, line, p.Name)
		}
		if p.Location != "" || p.LocationBase != "" {
			if err := checkLocation(p.Location, p.LocationBase); err != nil {
				return fmt.Errorf("%s: package %s: %w", name, p.NEVRA(), err)
			}
		}
		if p.Checksum.Value != "" {
			if err := p.Checksum.check(); err != nil {
				return fmt.Errorf("%s: package %s: %w", name, p.NEVRA(), err)
			}
		}
		return fn(&p)
	})
}

func parsePackage(d *xml.Decoder, in *interner, p *Package) error {
	return eachChild(d, func(t xml.StartElement) error {
		var err error
		switch t.Name.Local {
		case "name":
			p.Name, err = internText(d, in, maxName)
		case "arch":
			p.Arch, err = internText(d, in, maxName)
		case "version":
			p.EVR = evrAttrs(t, in)
			err = skip(d)
		case "checksum":
			p.Checksum.Type = in.get(attr(t, "type"))
			p.Checksum.Value, err = text(d, maxName)
		case "summary":
			p.Summary, err = text(d, maxSummary)
		case "size":
			if p.Size, err = sizeAttr(t, "package"); err == nil {
				if p.InstalledSize, err = sizeAttr(t, "installed"); err == nil {
					err = skip(d)
				}
			}
		case "location":
			p.Location, p.LocationBase = attr(t, "href"), xmlBase(t)
			err = skip(d)
		case "format":
			err = parseFormat(d, in, p)
		default:
			err = skip(d)
		}
		if err != nil {
			return fmt.Errorf("package %q: <%s>: %w", p.Name, t.Name.Local, err)
		}
		return nil
	})
}

func parseFormat(d *xml.Decoder, in *interner, p *Package) error {
	return eachChild(d, func(t xml.StartElement) error {
		var deps *[]Dep
		var err error
		switch t.Name.Local {
		case "license":
			p.License, err = internText(d, in, maxSummary)
		case "sourcerpm":
			p.SourceRPM, err = text(d, maxSummary)
		case "file":
			var f string
			if f, err = text(d, maxName); err == nil && f != "" {
				p.Files = append(p.Files, f)
			}
		case "provides":
			deps = &p.Provides
		case "requires":
			deps = &p.Requires
		case "conflicts":
			deps = &p.Conflicts
		case "obsoletes":
			deps = &p.Obsoletes
		case "recommends":
			deps = &p.Recommends
		case "suggests":
			deps = &p.Suggests
		case "supplements":
			deps = &p.Supplements
		case "enhances":
			deps = &p.Enhances
		default:
			err = skip(d)
		}
		if deps != nil {
			// Parsed into a reused buffer and copied at their exact
			// length: append's spare capacity, kept for 400,000
			// entries, would be a third of the index's memory.
			var got []Dep
			if got, err = parseDeps(d, in, in.scratch()[:0]); err == nil {
				*deps = append(*deps, got...)
				in.keep(got)
			}
		}
		if err != nil {
			return fmt.Errorf("<%s>: %w", t.Name.Local, err)
		}
		return nil
	})
}

func parseDeps(d *xml.Decoder, in *interner, deps []Dep) ([]Dep, error) {
	err := eachChild(d, func(t xml.StartElement) error {
		if t.Name.Local != "entry" {
			return skip(d)
		}
		dep, err := depAttrs(t, in)
		if err != nil {
			return err
		}
		deps = append(deps, dep)
		return skip(d)
	})
	return deps, err
}

func depAttrs(se xml.StartElement, in *interner) (Dep, error) {
	var dep Dep
	var flags string
	for _, a := range se.Attr {
		if a.Name.Space != "" {
			continue
		}
		if len(a.Value) > maxName {
			return dep, fmt.Errorf("entry attribute %s longer than %d bytes", a.Name.Local, maxName)
		}
		switch a.Name.Local {
		case "name":
			dep.Name = in.get(a.Value)
		case "flags":
			flags = a.Value
		case "epoch":
			dep.EVR.Epoch = in.get(a.Value)
		case "ver":
			dep.EVR.Version = in.get(a.Value)
		case "rel":
			dep.EVR.Release = in.get(a.Value)
		case "pre":
			dep.Pre = a.Value == "1" || a.Value == "true"
		}
	}
	if dep.Name == "" {
		return dep, fmt.Errorf("entry without name")
	}
	switch flags {
	case "":
		if dep.EVR.Version != "" {
			return dep, fmt.Errorf("entry %q: version %q without flags", dep.Name, dep.EVR.Version)
		}
	case "EQ":
		dep.Op = OpEQ
	case "LT":
		dep.Op = OpLT
	case "LE":
		dep.Op = OpLE
	case "GT":
		dep.Op = OpGT
	case "GE":
		dep.Op = OpGE
	default:
		return dep, fmt.Errorf("entry %q: unknown flags %q", dep.Name, flags)
	}
	if dep.Op != OpAny && dep.EVR.Version == "" {
		return dep, fmt.Errorf("entry %q: flags %s without a version", dep.Name, flags)
	}
	return dep, nil
}

func evrAttrs(se xml.StartElement, in *interner) EVR {
	return EVR{Epoch: in.get(attr(se, "epoch")), Version: attr(se, "ver"), Release: attr(se, "rel")}
}

func sizeAttr(se xml.StartElement, name string) (int64, error) {
	s := attr(se, name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s size %q is not a number", name, s)
	}
	return n, nil
}

func internText(d *xml.Decoder, in *interner, max int) (string, error) {
	s, err := text(d, max)
	return in.get(s), err
}
