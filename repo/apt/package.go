package apt

import "github.com/vzkit/vzkit/repo"

// Package is one binary package stanza from a verified Packages index.
//
// It is a plain value shared by the index parser, the solver and the
// downloader. Relationship fields keep the raw Debian syntax so that the
// solver parses each one (with pault.ag/go/debian/dependency) only when it
// needs it: a Packages file has ~60k stanzas and most are never looked at.
type Package struct {
	Name         string // Package:
	Version      string // Version: (full Debian version, epoch included)
	Architecture string // Architecture: (amd64, all, ...)
	MultiArch    string // Multi-Arch: (same, foreign, allowed or "")
	Essential    bool   // Essential: yes
	Priority     string // Priority: required, important, standard, optional, extra
	Section      string
	Source       string // Source: (name and optional "(version)"), empty when equal to Name

	Depends    string
	PreDepends string
	Provides   string
	Conflicts  string
	Breaks     string
	Replaces   string
	Recommends string

	Filename      string // pool path relative to the repository base URL
	Size          int64
	SHA256        string // lower-case hex, from the verified index
	InstalledSize int64  // KiB

	// Repository is the base URL (mirror) the index came from; the
	// downloader joins it with Filename.
	Repository string
}

// Neutral is p as the format-neutral value that the download, lock files
// and cache manifests take; repository is the template's name for the
// repository whose index listed p.
func (p *Package) Neutral(repository string) repo.Package {
	return repo.Package{
		Format:        repo.FormatDeb,
		Name:          p.Name,
		Version:       p.Version,
		Arch:          p.Architecture,
		Repository:    repository,
		BaseURLs:      []string{p.Repository},
		Location:      p.Filename,
		Size:          p.Size,
		Checksum:      repo.Checksum{Algo: repo.SHA256, Hex: p.SHA256},
		InstalledSize: p.InstalledSize << 10, // Installed-Size is in KiB
	}
}

// Neutral converts every package of pkgs, in order (see Package.Neutral).
func Neutral(pkgs []Package, repository string) []repo.Package {
	out := make([]repo.Package, len(pkgs))
	for i := range pkgs {
		out[i] = pkgs[i].Neutral(repository)
	}
	return out
}
