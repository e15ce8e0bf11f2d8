package cachestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vzkit/vzkit/internal/atomicfile"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/cache/sbom"
	"github.com/vzkit/vzkit/cache/sign"
	"github.com/vzkit/vzkit/internal/pgp"
)

// Extensions of cache files, in the order vzctl create prefers them.
var Extensions = []string{".tar.zst", ".tar.gz", ".tar.xz"}

// ErrNotFound: no file of the named cache exists.
var ErrNotFound = errors.New("no such cache")

// Signature states of an Entry.
const (
	SigNone      = "none"      // no .asc file
	SigUnchecked = "unchecked" // .asc present, no keyring to check it with
	SigGood      = "good"      // good by a key of the keyring
	SigBad       = "bad"       // present but not good by the keyring
)

// Store is a directory of template caches.
type Store struct {
	Dir string
	// Keyring, when set, makes List check every signature.
	Keyring *pgp.Keyring
}

// Entry describes one cache as List finds it.
type Entry struct {
	Name      string    `json:"name"`
	File      string    `json:"file,omitempty"` // "" for a manifest whose cache is gone
	Manifest  string    `json:"manifest"`
	Size      int64     `json:"size"`
	Created   time.Time `json:"created,omitzero"` // the manifest's SOURCE_DATE_EPOCH
	Modified  time.Time `json:"modified"`         // of the cache file (of the manifest when the cache is gone)
	Distro    string    `json:"distro,omitempty"`
	Release   string    `json:"release,omitempty"`
	Arch      string    `json:"arch,omitempty"`
	Packages  int       `json:"packages"`
	Signed    bool      `json:"signed"`    // .asc present and, with a keyring, good
	Signature string    `json:"signature"` // none, unchecked, good or bad
	Signers   []string  `json:"signers,omitempty"`
	SBOM      string    `json:"sbom,omitempty"`
	Valid     bool      `json:"valid"`
	Problem   string    `json:"problem,omitempty"` // why it is not valid, or why the signature is bad
}

// Age is how long ago the cache file was last written.
func (e Entry) Age(now time.Time) time.Duration { return now.Sub(e.Modified) }

// List returns every cache in the directory, sorted by name, invalid ones
// included. A missing directory holds no caches.
func (s *Store) List(ctx context.Context) ([]Entry, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []Entry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cache store: %w", err)
	}
	out := []Entry{}
	manifests := map[string]bool{} // manifest paths that belong to a cache file
	for _, de := range ents {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name, ok := cacheName(de.Name())
		if !ok || !de.Type().IsRegular() {
			continue
		}
		e := s.inspect(ctx, name, filepath.Join(s.Dir, de.Name()))
		manifests[e.Manifest] = true
		out = append(out, e)
	}
	for _, de := range ents {
		n := de.Name()
		p := filepath.Join(s.Dir, n)
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".spdx.json") || manifests[p] {
			continue
		}
		out = append(out, s.orphan(strings.TrimSuffix(n, ".json"), p))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// cacheName returns NAME for a cache file name NAME.tar.{zst,gz,xz}.
func cacheName(file string) (string, bool) {
	if strings.HasPrefix(file, ".") { // temporary files of a save in progress
		return "", false
	}
	for _, ext := range Extensions {
		if n, ok := strings.CutSuffix(file, ext); ok && n != "" {
			return n, true
		}
	}
	return "", false
}

// inspect describes one cache file from its metadata and manifest.
func (s *Store) inspect(ctx context.Context, name, path string) Entry {
	e := Entry{Name: name, File: path, Manifest: cache.ManifestPath(path), Signature: SigNone}
	fi, err := os.Stat(path)
	if err != nil {
		e.Problem = err.Error()
		return e
	}
	e.Size, e.Modified = fi.Size(), fi.ModTime()
	if p := sbom.Path(path); exists(p) {
		e.SBOM = p
	}
	m, err := cache.ReadManifest(e.Manifest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e.Problem = "no manifest " + filepath.Base(e.Manifest)
	case err != nil:
		e.Problem = err.Error()
	default:
		e.Packages, e.Distro, e.Release, e.Arch = len(m.Packages), m.Distro, m.Release, m.Arch
		if m.Archive.SourceDateEpoch != 0 {
			e.Created = time.Unix(m.Archive.SourceDateEpoch, 0).UTC()
		}
		if m.Archive.Size != e.Size {
			e.Problem = fmt.Sprintf("file is %d bytes, manifest says %d", e.Size, m.Archive.Size)
		} else {
			e.Valid = true
		}
	}
	if !exists(sign.SignaturePath(path)) {
		return e
	}
	if s.Keyring == nil {
		e.Signed, e.Signature = true, SigUnchecked
		return e
	}
	signers, err := sign.VerifySignature(ctx, path, s.Keyring)
	if err != nil {
		e.Signature = SigBad
		if e.Problem == "" {
			e.Problem = err.Error()
		}
		return e
	}
	e.Signed, e.Signature, e.Signers = true, SigGood, signers
	return e
}

// orphan describes a manifest whose cache file is gone.
func (s *Store) orphan(name, path string) Entry {
	e := Entry{Name: name, Manifest: path, Signature: SigNone, Problem: "manifest without a cache file"}
	if fi, err := os.Stat(path); err == nil {
		e.Modified = fi.ModTime()
	}
	if m, err := cache.ReadManifest(path); err == nil {
		e.Packages, e.Distro, e.Release, e.Arch = len(m.Packages), m.Distro, m.Release, m.Arch
	}
	return e
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

// CheckName accepts NAME or a cache file name NAME.tar.zst and returns NAME;
// anything that could name a file outside the directory is refused.
func CheckName(arg string) (string, error) {
	name := arg
	if n, ok := cacheName(arg); ok {
		name = n
	}
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, ".") || strings.ContainsAny(name, "/\x00") {
		return "", fmt.Errorf("cache name %q: want a template cache name such as debian-12-x86_64-minimal", arg)
	}
	return name, nil
}

// Files returns the paths that belong to cache NAME and exist, the
// manifest first: the order in which Remove deletes them.
func (s *Store) Files(name string) []string {
	var caches []string
	for _, ext := range Extensions {
		if p := filepath.Join(s.Dir, name+ext); exists(p) {
			caches = append(caches, p)
		}
	}
	var out []string
	if m := filepath.Join(s.Dir, name+".json"); exists(m) {
		out = append(out, m)
	}
	out = append(out, caches...)
	for _, c := range caches {
		if p := sign.SignaturePath(c); exists(p) {
			out = append(out, p)
		}
	}
	if p := filepath.Join(s.Dir, name+".spdx.json"); exists(p) {
		out = append(out, p)
	}
	return out
}

// Remove deletes cache NAME: manifest (made durable before anything else
// goes), cache files, signatures, SBOM. It returns the paths removed; a name
// with no file is ErrNotFound.
func (s *Store) Remove(ctx context.Context, name string) ([]string, error) {
	name, err := CheckName(name)
	if err != nil {
		return nil, err
	}
	files := s.Files(name)
	if len(files) == 0 {
		return nil, fmt.Errorf("cache %q in %s: %w", name, s.Dir, ErrNotFound)
	}
	var removed []string
	for i, p := range files {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("remove cache %s: %w", name, err)
		}
		removed = append(removed, p)
		if i == 0 && strings.HasSuffix(p, ".json") {
			if err := atomicfile.SyncDir(s.Dir); err != nil {
				return removed, err
			}
		}
	}
	return removed, atomicfile.SyncDir(s.Dir)
}

// PruneOptions tune Prune.
type PruneOptions struct {
	DryRun bool      // report what would go, remove nothing
	Now    time.Time // zero: time.Now()
}

// Prune removes every cache (valid or not) whose file is older than
// olderThan and returns them. Failures are joined; the others still go.
func (s *Store) Prune(ctx context.Context, olderThan time.Duration, opts PruneOptions) ([]Entry, error) {
	if olderThan <= 0 {
		return nil, fmt.Errorf("prune: age %s must be positive", olderThan)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	// Signatures do not matter here: list without checking them.
	all, err := (&Store{Dir: s.Dir}).List(ctx)
	if err != nil {
		return nil, err
	}
	var pruned []Entry
	var errs []error
	done := map[string]bool{}
	for _, e := range all {
		if e.Age(now) <= olderThan || done[e.Name] {
			continue
		}
		done[e.Name] = true
		if !opts.DryRun {
			if _, err := s.Remove(ctx, e.Name); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		pruned = append(pruned, e)
	}
	return pruned, errors.Join(errs...)
}

// maxAge keeps day and week counts far from overflowing a Duration.
const maxAge = 100 * 365 * 24 * time.Hour

// ParseAge reads an age: a Go duration ("36h", "90m"), or days and weeks
// ("30d", "2w", "1d12h").
func ParseAge(s string) (time.Duration, error) {
	rest := strings.TrimSpace(s)
	var d time.Duration
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}} {
		i := strings.Index(rest, u.suffix)
		if i <= 0 {
			continue
		}
		n, err := strconv.ParseUint(rest[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("age %q: want a duration such as 30d, 12h or 90m", s)
		}
		if n > uint64(maxAge/u.unit) {
			return 0, fmt.Errorf("age %q: more than %d days", s, maxAge/(24*time.Hour))
		}
		d += time.Duration(n) * u.unit
		rest = rest[i+1:]
	}
	if rest != "" {
		more, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("age %q: want a duration such as 30d, 12h or 90m", s)
		}
		d += more
	}
	if d <= 0 {
		return 0, fmt.Errorf("age %q: must be positive", s)
	}
	return d, nil
}
