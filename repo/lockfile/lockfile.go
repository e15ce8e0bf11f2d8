package lockfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/vzkit/vzkit/internal/atomicfile"

	"github.com/vzkit/vzkit/repo"
)

// Version is the schema version this package writes and reads.
const Version = 1

// maxSize bounds a lock file that is read: a Debian standard set (~400
// packages) takes about 150 KiB.
const maxSize = 32 << 20

// Lock is the content of a lock file.
type Lock struct {
	Version        int    `json:"version"`
	Template       string `json:"template"`        // template name
	MetadataDigest string `json:"metadata_digest"` // "sha256:<hex>" of the resolved metadata
	Arch           string `json:"arch"`
	// Format is the package format of every locked package; a lock
	// without one predates the field, when only deb was locked.
	Format       repo.Format  `json:"format,omitempty"`
	Repositories []Repository `json:"repositories"`
	Packages     []Package    `json:"packages"`
}

// Repository is one suite of one template repository, as it was when the
// lock was made.
type Repository struct {
	Name       string    `json:"name"`  // the template's name for the repository
	Suite      string    `json:"suite"` // as the template asks for it, e.g. bookworm
	Codename   string    `json:"codename,omitempty"`
	Components []string  `json:"components"`
	Mirror     string    `json:"mirror"` // base URL that served it (information only)
	Date       time.Time `json:"date"`   // the Release file's Date, UTC
	// ReleaseFile is "InRelease", or "Release" for a repository without
	// one; ReleaseSHA256 is the hex SHA-256 of the file as served.
	ReleaseFile   string `json:"release_file,omitempty"`
	ReleaseSHA256 string `json:"release_sha256,omitempty"`
}

// Label names the suite in messages: "bookworm main"; a repository
// without suites (rpm-md) by its name.
func (r Repository) Label() string {
	if l := strings.TrimSpace(r.Suite + " " + strings.Join(r.Components, " ")); l != "" {
		return l
	}
	return r.Name
}

// Package is one locked package.
type Package struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Arch       string `json:"arch"`
	SHA256     string `json:"sha256"`
	Size       int64  `json:"size"`
	Filename   string `json:"filename"`   // pool path under the repository's base URL
	Repository string `json:"repository"` // Repository.Name
	Suite      string `json:"suite"`      // Repository.Suite
}

func (p Package) String() string { return p.Name + " " + p.Version }

// Source is one loaded suite of a template repository (for an rpm-md
// repository, which has no suites, the repository itself): what New
// records and what Check looks packages up in.
type Source struct {
	Repository string // the template's repository name
	Suite      string
	Components []string
	Mirror     string    // base URL that served the verified index
	Codename   string    // from the verified Release file, if any
	Date       time.Time // of the verified index (apt's Release Date)
	// Packages are every package the verified index lists.
	Packages []repo.Package
	// ReleaseFile and ReleaseSHA256 identify the verified Release text
	// (see Repository); New copies them and Check ignores them.
	ReleaseFile, ReleaseSHA256 string
}

// Meta is what a lock says about the template.
type Meta struct {
	Template       string
	MetadataDigest string
	Arch           string
	Format         repo.Format
}

// New makes the lock of pkgs (a solved set) loaded from sources. Each
// package is attributed to the first source whose index holds exactly it
// (name, version, architecture, SHA-256).
func New(meta Meta, sources []Source, pkgs []repo.Package) (*Lock, error) {
	l := &Lock{Version: Version, Template: meta.Template, MetadataDigest: meta.MetadataDigest, Arch: meta.Arch, Format: meta.Format}
	type key struct{ name, version, arch, sha string }
	owner := map[key]int{}
	for i, s := range sources {
		l.Repositories = append(l.Repositories, Repository{Name: s.Repository, Suite: s.Suite, Components: slices.Clone(s.Components),
			Mirror: s.Mirror, Codename: s.Codename, Date: s.Date.UTC(), ReleaseFile: s.ReleaseFile, ReleaseSHA256: s.ReleaseSHA256})
		for _, p := range s.Packages {
			k := key{p.Name, p.Version, p.Arch, p.Checksum.SHA256()}
			if _, ok := owner[k]; !ok {
				owner[k] = i
			}
		}
	}
	var missing []string
	for _, p := range pkgs {
		if meta.Format != "" && p.Format != meta.Format {
			return nil, fmt.Errorf("lockfile: package %s is %s, the lock is for %s packages", p.ID(), p.Format, meta.Format)
		}
		i, ok := owner[key{p.Name, p.Version, p.Arch, p.Checksum.SHA256()}]
		if !ok {
			missing = append(missing, p.ID())
			continue
		}
		l.Packages = append(l.Packages, Package{Name: p.Name, Version: p.Version, Arch: p.Arch, SHA256: p.Checksum.SHA256(),
			Size: p.Size, Filename: p.Location, Repository: sources[i].Repository, Suite: sources[i].Suite})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("lockfile: packages not found in any loaded index: %s", strings.Join(missing, ", "))
	}
	l.sort()
	return l, l.validate()
}

func (l *Lock) sort() {
	slices.SortFunc(l.Repositories, func(a, b Repository) int {
		return cmpOr(strings.Compare(a.Name, b.Name), strings.Compare(a.Suite, b.Suite))
	})
	slices.SortFunc(l.Packages, func(a, b Package) int {
		return cmpOr(strings.Compare(a.Name, b.Name), strings.Compare(a.Arch, b.Arch), strings.Compare(a.Version, b.Version))
	})
}

func cmpOr(cs ...int) int {
	for _, c := range cs {
		if c != 0 {
			return c
		}
	}
	return 0
}

// Marshal returns the lock's canonical bytes.
func (l *Lock) Marshal() ([]byte, error) {
	if err := l.validate(); err != nil {
		return nil, err
	}
	c := *l
	c.Repositories = slices.Clone(l.Repositories)
	c.Packages = slices.Clone(l.Packages)
	c.sort()
	for i := range c.Repositories {
		c.Repositories[i].Date = c.Repositories[i].Date.UTC()
	}
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("lockfile: encode: %w", err)
	}
	return append(b, '\n'), nil
}

// Parse reads a lock from its bytes; name is used in errors.
func Parse(data []byte, name string) (*Lock, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var l Lock
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("lockfile %s: %w", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("lockfile %s: data after the lock", name)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("lockfile %s: %w", name, err)
	}
	return &l, nil
}

// Read reads and checks the lock file at path.
func Read(path string) (*Lock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lockfile: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("lockfile %s: %w", path, err)
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("lockfile %s: larger than %d bytes", path, maxSize)
	}
	return Parse(data, path)
}

// Write writes l to path atomically: a temporary file in the same
// directory, fsync, rename, fsync of the directory.
func Write(path string, l *Lock) (err error) {
	data, err := l.Marshal()
	if err != nil {
		return fmt.Errorf("lockfile %s: %w", path, err)
	}
	if err := atomicfile.WriteBytes(path, data, 0o644); err != nil {
		return fmt.Errorf("lockfile: %w", err)
	}
	return nil
}

// validate checks what later code relies on: known version, names
// present, digests well formed, packages unique and attributed to a listed
// repository suite.
func (l *Lock) validate() error {
	if l.Version != Version {
		return fmt.Errorf("unsupported version %d (want %d)", l.Version, Version)
	}
	if l.Template == "" || l.Arch == "" {
		return errors.New("template and arch are required")
	}
	if l.Format != "" {
		if _, err := repo.ParseFormat(string(l.Format)); err != nil {
			return err
		}
	}
	repos := map[[2]string]bool{}
	for i, r := range l.Repositories {
		if r.Name == "" || r.Suite == "" && l.Format != repo.FormatRPM {
			// rpm-md repositories have no suites.
			return fmt.Errorf("repositories[%d]: name and suite are required", i)
		}
		if repos[[2]string{r.Name, r.Suite}] {
			return fmt.Errorf("repositories[%d]: %s suite %s listed twice", i, r.Name, r.Suite)
		}
		repos[[2]string{r.Name, r.Suite}] = true
		if r.ReleaseSHA256 != "" && !isHexSHA256(r.ReleaseSHA256) {
			return fmt.Errorf("repositories[%d]: release_sha256 is not a lower-case hex SHA-256", i)
		}
	}
	seen := map[[2]string]bool{}
	for i, p := range l.Packages {
		if p.Name == "" || p.Version == "" || p.Arch == "" {
			return fmt.Errorf("packages[%d]: name, version and arch are required", i)
		}
		if seen[[2]string{p.Name, p.Arch}] {
			return fmt.Errorf("packages[%d]: %s:%s locked twice", i, p.Name, p.Arch)
		}
		seen[[2]string{p.Name, p.Arch}] = true
		if !isHexSHA256(p.SHA256) {
			return fmt.Errorf("packages[%d] (%s): sha256 is not a lower-case hex SHA-256", i, p.Name)
		}
		if p.Size <= 0 {
			return fmt.Errorf("packages[%d] (%s): size must be positive", i, p.Name)
		}
		if !repos[[2]string{p.Repository, p.Suite}] {
			return fmt.Errorf("packages[%d] (%s): repository %q suite %q is not listed", i, p.Name, p.Repository, p.Suite)
		}
	}
	return nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
