package metadata

import "io/fs"

// ReplaceTag on a list or mapping in a template that extends another one
// replaces the inherited value instead of merging with it.
const ReplaceTag = "!replace"

// Repository types.
const (
	TypeApt   = "apt"
	TypeRPMMD = "rpm-md"
)

// Script names, in the order a build runs them.
const (
	PreInstall  = "pre-install"
	PostInstall = "post-install"
	PreCache    = "pre-cache"
)

// Template is a resolved template: inheritance applied and, after Expand,
// variables substituted. It is a plain value; Pos tells where each field
// was written (keys such as "release", "repositories[1].url",
// "packages.include[3]", "defaults.HOSTNAME").
type Template struct {
	Name         string            `json:"name"`
	Distro       string            `json:"distro"`
	Release      string            `json:"release"`
	Variant      string            `json:"variant"`
	Arch         []string          `json:"arch"` // after Expand: the one chosen architecture
	Variables    map[string]string `json:"variables,omitempty"`
	Repositories []Repository      `json:"repositories"`
	Keys         []Key             `json:"keys,omitempty"`
	Packages     Packages          `json:"packages"`
	Scripts      map[string]Script `json:"scripts,omitempty"` // by PreInstall, PostInstall, PreCache
	Cache        Cache             `json:"cache"`
	Defaults     map[string]string `json:"defaults,omitempty"` // OpenVZ sample-config parameters
	// File is the template's own file; Chain lists it and every file it
	// extends, nearest first.
	File  string         `json:"file"`
	Chain []string       `json:"chain"`
	Pos   map[string]Pos `json:"-"`
	// expanded is set by Expand.
	expanded bool
}

// Repository is one package repository.
type Repository struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"` // TypeApt or TypeRPMMD
	URL     string   `json:"url,omitempty"`
	Mirrors []string `json:"mirrors,omitempty"` // tried in order after URL
	// Metalink and Mirrorlist (rpm-md only) name a MirrorManager metalink
	// or a mirror list whose base URLs are tried before URL and Mirrors;
	// a metalink's hashes of repomd.xml are checked too.
	Metalink   string   `json:"metalink,omitempty"`
	Mirrorlist string   `json:"mirrorlist,omitempty"`
	Suites     []string `json:"suites,omitempty"`     // apt only
	Components []string `json:"components,omitempty"` // apt only
	Keys       []Key    `json:"keys,omitempty"`       // in addition to the template's keys
	Insecure   bool     `json:"insecure,omitempty"`   // no signature check: only when written explicitly
}

// URLs returns URL followed by the mirrors, the order to try them in.
func (r Repository) URLs() []string {
	var out []string
	if r.URL != "" {
		out = append(out, r.URL)
	}
	return append(out, r.Mirrors...)
}

// Key is one OpenPGP public key, pinned by the fingerprint of its primary
// key. Exactly one of File, Armored and URL is set.
//
// File is an absolute host path when FS is nil; otherwise it is a path
// inside FS (keys shipped beside embedded templates). Reading and checking
// the key is the repository client's job: this package does not open it.
// A host key file is read like a script file: never through a final
// symlink, never a FIFO or device, with a size limit (internal/namedfile).
type Key struct {
	File        string `json:"file,omitempty"`
	Armored     string `json:"armored,omitempty"`
	URL         string `json:"url,omitempty"`
	Fingerprint string `json:"fingerprint"` // 40 upper-case hex digits
	// Package is the host package that provides File (for example
	// debian-archive-keyring), to name in the error when it is missing.
	Package string `json:"package,omitempty"`
	FS      fs.FS  `json:"-"`
	// Pos is where the template names the key's file, URL or text, for
	// the reader's messages.
	Pos Pos `json:"-"`
	// written is a relative File as the template wrote it (File is then
	// resolved against the template's place); Digest uses it.
	written string
}

// Packages says what to install.
type Packages struct {
	// Variant is the base set: for apt one of the mmdebstrap variants
	// (essential, required, minbase, buildd, important, standard, ...);
	// for rpm-md a comps group such as @core, or empty.
	Variant string   `json:"variant,omitempty"`
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// Script is a template script. It runs inside the build sandbox with / as
// the new root and this environment: TEMPLATE_NAME, DISTRO, RELEASE, ARCH,
// VARIANT, MIRROR (the resolved $mirror, empty when unused) and PATH.
type Script struct {
	Body string `json:"body"`
	File string `json:"file,omitempty"` // where Body came from, when not inline
}

// Cache says how the cache is named and compressed.
type Cache struct {
	// Name is a pattern with {name}, {distro}, {release}, {arch} and
	// {variant}; after Expand it is the final name (without .tar.zst).
	Name      string `json:"name"`
	ZstdLevel int    `json:"zstd-level"`
}

// Defaults for fields a template may leave out.
const (
	DefaultCacheName = "{name}"
	DefaultZstdLevel = 9
)
