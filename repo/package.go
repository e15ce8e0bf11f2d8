package repo

import "fmt"

// Format is the package format of a repository and of the packages in it.
// Its values are the names the manifest and the SBOM's purls use.
type Format string

const (
	FormatDeb Format = "deb" // Debian binary packages from apt repositories
	FormatRPM Format = "rpm" // RPM packages from rpm-md (yum, dnf, zypper) repositories
)

// ParseFormat checks a format name read from a file (a manifest, a lock).
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatDeb, FormatRPM:
		return f, nil
	}
	return "", fmt.Errorf("unknown package format %q (want deb or rpm)", s)
}

// Algo names a checksum algorithm as repository metadata spells it.
type Algo string

const (
	SHA256 Algo = "sha256"
	SHA512 Algo = "sha512"
)

// Checksum is the digest of a package file, taken from verified metadata.
type Checksum struct {
	Algo Algo
	Hex  string // lower-case
}

func (c Checksum) String() string { return string(c.Algo) + ":" + c.Hex }

// SHA256 is the hex SHA-256, or "" when the checksum is of another kind.
// The package store is addressed by SHA-256.
func (c Checksum) SHA256() string {
	if c.Algo != SHA256 {
		return ""
	}
	return c.Hex
}

// Package is one package file chosen for a build, in the terms every
// format shares: what Download fetches into the store, what a lock file
// pins and what a cache manifest lists. Each repository client converts
// its own package value (apt.Package, rpmmd.Package) to it once the solver
// has chosen; the format-specific fields (dependencies, priorities, file
// lists) stay behind with the solver.
type Package struct {
	Format Format
	Name   string
	// Version is the full Debian version (epoch included) or the RPM
	// [epoch:]version-release.
	Version string
	Arch    string // as the format spells it: amd64, all; x86_64, noarch
	// Repository is the template's name for the repository the package
	// was chosen from ("" where that is not known).
	Repository string
	// BaseURLs serve Location, in the order they are tried: the mirror
	// that served the verified index first.
	BaseURLs []string
	// Location is the file's path below a base URL: apt's Filename,
	// rpm-md's location href.
	Location string
	Size     int64    // of the package file
	Checksum Checksum // of the package file
	// InstalledSize is the unpacked size in bytes as the metadata
	// estimates it (0 when unknown); a build sizes its root with it.
	InstalledSize int64
}

// ID names the package in messages: "name version".
func (p *Package) ID() string { return p.Name + " " + p.Version }
