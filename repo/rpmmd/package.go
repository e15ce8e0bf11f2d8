package rpmmd

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

	// Files are the package's paths: primary.xml's subset first, the
	// whole list after filelists.xml is merged.
	Files []string

	Location      string   // href, relative to the repository's base URL
	Checksum      Checksum // of the .rpm file (the pkgid)
	Size          int64    // of the .rpm file
	InstalledSize int64
	SourceRPM     string
	License       string
	Summary       string
	Repository    string // the template's name for the repository
}
