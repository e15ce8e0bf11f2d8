package rpmmd

import "strings"

// EVR is an RPM package's epoch, version and release. Epoch is "" where
// the metadata gives none (rpm compares it as 0).
type EVR struct {
	Epoch, Version, Release string
}

// Op is the comparison of a versioned dependency (primary.xml's flags).
type Op int

const (
	OpAny Op = iota // unversioned: any version
	OpEQ
	OpLT
	OpLE
	OpGT
	OpGE
)

// Dep is one entry of a package's provides, requires, conflicts,
// obsoletes or weak dependencies, as primary.xml lists it. A Name that
// begins with "(" is a rich (boolean) dependency, kept as written and
// parsed by the solver.
type Dep struct {
	Name string
	Op   Op
	EVR  EVR
	Pre  bool // requires with pre="1": needed before the package's scriptlets run
}

// Checksum is a digest as rpm-md writes it: the algorithm's name
// ("sha256", "sha512", "sha1" or its old spelling "sha") and hex value.
type Checksum struct {
	Type, Value string
}

// Package is one package of a repository's primary.xml (with its files
// from filelists.xml once those are read).
type Package struct {
	Name string
	Arch string // x86_64, i686, noarch, src, ...
	EVR  EVR

	Provides, Requires, Conflicts, Obsoletes []Dep
	// Weak dependencies: the solver does not follow them (as dnf with
	// install_weak_deps=False, which minimal templates use).
	Recommends, Suggests, Supplements, Enhances []Dep

	// Files are the package's paths: primary.xml's subset (what
	// createrepo puts there: /etc, */bin/, /usr/lib/sendmail), plus, once
	// filelists.xml is merged, the paths that file dependencies name (or
	// all of them with Options.AllFiles).
	Files []string

	Location string // href, relative to the repository's base URL
	// LocationBase is the location's xml:base when primary.xml gives one:
	// the package then lies at LocationBase + Location instead of under
	// the repository's own base URL (openSUSE's split repositories).
	LocationBase  string
	Checksum      Checksum // of the .rpm file (the pkgid)
	Size          int64    // of the .rpm file
	InstalledSize int64
	SourceRPM     string
	License       string
	Summary       string
	Repository    string // the template's name for the repository
}

// String is rpm's [epoch:]version-release form.
func (e EVR) String() string {
	s := e.Version
	if e.Release != "" {
		s += "-" + e.Release
	}
	if e.Epoch != "" && e.Epoch != "0" {
		s = e.Epoch + ":" + s
	}
	return s
}

// String is the operator as rpm prints it ("" for OpAny).
func (o Op) String() string {
	switch o {
	case OpEQ:
		return "="
	case OpLT:
		return "<"
	case OpLE:
		return "<="
	case OpGT:
		return ">"
	case OpGE:
		return ">="
	}
	return ""
}

// String is the dependency as rpm prints it: "name", "name >= 1.0-1".
func (d Dep) String() string {
	if d.Op == OpAny {
		return d.Name
	}
	return d.Name + " " + d.Op.String() + " " + d.EVR.String()
}

// NEVRA is name-[epoch:]version-release.arch, the package's full name.
func (p *Package) NEVRA() string {
	return p.Name + "-" + p.EVR.String() + "." + p.Arch
}

// Modular reports whether the package was built for a module stream:
// its release carries the ".module_" (Fedora, CentOS Stream, Alma) or
// ".module+" (RHEL, Rocky) tag that the module build system adds. See
// the package documentation for what is done with such packages.
func (p *Package) Modular() bool {
	return strings.Contains(p.EVR.Release, ".module_") || strings.Contains(p.EVR.Release, ".module+")
}
