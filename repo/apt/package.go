package apt

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
