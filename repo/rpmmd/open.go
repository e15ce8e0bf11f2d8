package rpmmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/repo/fetch"
	"github.com/vzkit/vzkit/repo/store"
)

// Fetcher is the part of *fetch.Client that Open needs.
type Fetcher interface {
	Fetch(ctx context.Context, req fetch.Request, w io.Writer) (fetch.Result, error)
}

// Source is one rpm-md repository to open. URLs arrive with $releasever
// and $basearch already substituted (metadata.Template.Expand does it).
type Source struct {
	Name string   // the template's name for it, copied to Package.Repository
	URIs []string // base URLs (the directory holding repodata/), tried in order
	// Metalink and Mirrorlist, when set, are fetched first; the mirrors
	// they list are tried before URIs. A Mirrorlist URL that answers with
	// a metalink is read as one (as dnf does).
	Metalink, Mirrorlist string
	Keyring              *pgp.Keyring
	// Insecure allows a repository whose repomd.xml is unsigned or whose
	// signature does not verify; Index.Signed is then false.
	Insecure bool
	// KeepModular keeps packages built for module streams (see the
	// package documentation); by default they are left out.
	KeepModular bool
}

// Options tune Open.
type Options struct {
	// CacheDir keeps verified data files by SHA-256 (when repomd.xml
	// gives sha256 checksums and sizes); empty disables the cache.
	CacheDir string
	// Now is the clock for key expiry; nil means time.Now.
	Now func() time.Time
	// MaxRepomdSize bounds repomd.xml, its signature, metalinks and
	// mirrorlists [16 MiB]; MaxDataSize bounds each data file, compressed
	// and decompressed [2 GiB] (Fedora's filelists.xml is about 1 GiB).
	MaxRepomdSize, MaxDataSize int64
	// AllFiles keeps every path of filelists.xml in Package.Files instead
	// of only those that the repository's dependencies name.
	AllFiles bool
	// FileDeps are paths to keep from filelists.xml besides those the
	// repository's own dependencies name: the file dependencies of the
	// template's other repositories (FileDeps of their packages).
	FileDeps map[string]bool
	// NoFilelists skips filelists.xml: only primary.xml's file subset
	// (/etc, */bin/, /usr/lib/sendmail, which is what createrepo puts
	// there for file dependencies) is known.
	NoFilelists bool
	// Progress, when set, is told about each data file download.
	Progress func(file string, written, total int64)
	Logger   *slog.Logger
}

// Index is a loaded, verified repository.
type Index struct {
	Packages []Package
	Comps    *Comps // nil when the repository has no group data
	Repomd   *Repomd
	Signed   bool     // false only for an Insecure source that was not verified
	Signers  []string // fingerprints of the keys with good signatures
	Mirror   string   // base URL that served repomd.xml
	Mirrors  []string // every base URL, Mirror first, for package downloads
	// Files lists the data files used (their repomd types and locations).
	Files []string
	// ModularSkipped counts the module-stream packages left out.
	ModularSkipped int
}

// Open fetches, verifies and parses a repository as the package
// documentation describes.
func Open(ctx context.Context, f Fetcher, src Source, opts Options) (*Index, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRepomdSize <= 0 {
		opts.MaxRepomdSize = 16 << 20
	}
	if opts.MaxDataSize <= 0 {
		opts.MaxDataSize = 2 << 30
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	what := "rpm-md repository " + src.Name
	if len(src.URIs) == 0 && src.Metalink == "" && src.Mirrorlist == "" {
		return nil, fmt.Errorf("%s: no URL, metalink or mirrorlist given", what)
	}
	if src.Keyring == nil && !src.Insecure {
		return nil, fmt.Errorf("%s: no keyring given and not marked insecure", what)
	}
	var cache *store.Store
	if opts.CacheDir != "" {
		var err error
		if cache, err = store.Open(opts.CacheDir); err != nil {
			return nil, err
		}
	}
	o := &opener{f: f, src: src, opts: opts, cache: cache}
	mirrors, ml, err := o.mirrors(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	idx := &Index{}
	data, res, err := o.repomd(ctx, mirrors, ml, idx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	idx.Mirror = res.Mirror
	idx.Mirrors = append([]string{res.Mirror}, without(mirrors, res.Mirror)...)
	md, err := ParseRepomd(data, res.URL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	idx.Repomd = md
	o.mirrorList = idx.Mirrors

	prim, ok := md.Find("primary")
	if !ok {
		return nil, fmt.Errorf("%s: %s lists no primary data", what, res.URL)
	}
	err = o.data(ctx, prim, func(r io.Reader, name string) error {
		return ParsePrimary(r, name, func(p *Package) error {
			if p.Arch == "src" || p.Arch == "nosrc" {
				return nil // source packages are not installable
			}
			if !src.KeepModular && p.Modular() {
				idx.ModularSkipped++
				return nil
			}
			p.Repository = src.Name
			idx.Packages = append(idx.Packages, *p)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	idx.Files = append(idx.Files, prim.Location)

	if fl, ok := md.Find("filelists"); ok && !opts.NoFilelists {
		m := NewMerger(idx.Packages, opts.AllFiles)
		m.Want(opts.FileDeps)
		// Entries of packages that were dropped (sources, modular) are
		// skipped; any other unknown pkgid is an error.
		dropped := idx.ModularSkipped > 0
		err := o.data(ctx, fl, func(r io.Reader, name string) error {
			return ParseFilelists(r, name, m.Keep, func(e *FileList) error {
				if e.Arch == "src" || e.Arch == "nosrc" {
					return nil
				}
				if err := m.Add(e); err != nil {
					if dropped && isModularRelease(e.EVR.Release) {
						return nil
					}
					return fmt.Errorf("%s: %w", name, err)
				}
				return nil
			})
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		idx.Files = append(idx.Files, fl.Location)
	}

	// Group data: the compressed forms first (smaller), falling back to
	// another form when a mirror does not carry one.
	var groupErr error
	for _, typ := range []string{"group_gz", "group_xz", "group_zst", "group"} {
		g, ok := md.Find(typ)
		if !ok {
			continue
		}
		groupErr = o.data(ctx, g, func(r io.Reader, name string) error {
			c, err := ParseComps(r, name)
			idx.Comps = c
			return err
		})
		if groupErr == nil {
			idx.Files = append(idx.Files, g.Location)
			break
		}
		idx.Comps = nil
		if !errors.Is(groupErr, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", what, groupErr)
		}
		opts.Logger.DebugContext(ctx, "group data missing, trying another form", "type", typ, "err", groupErr)
	}
	if groupErr != nil {
		return nil, fmt.Errorf("%s: %w", what, groupErr)
	}
	opts.Logger.DebugContext(ctx, "rpm-md repository loaded", "repo", src.Name, "mirror", idx.Mirror,
		"packages", len(idx.Packages), "modular_skipped", idx.ModularSkipped, "signed", idx.Signed)
	return idx, nil
}

// PackageMirrors returns the base URLs a package's Location is relative
// to: its xml:base when primary.xml gives one, else the repository's
// mirrors, the one that served repomd.xml first.
func (ix *Index) PackageMirrors(p *Package) []string {
	if p.LocationBase != "" {
		return []string{p.LocationBase}
	}
	return ix.Mirrors
}

func isModularRelease(rel string) bool {
	return (&Package{EVR: EVR{Release: rel}}).Modular()
}

func without(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

type opener struct {
	f          Fetcher
	src        Source
	opts       Options
	cache      *store.Store
	mirrorList []string
}

func (o *opener) get(ctx context.Context, mirrors []string, path string) ([]byte, fetch.Result, error) {
	var buf bytes.Buffer
	res, err := o.f.Fetch(ctx, fetch.Request{Mirrors: mirrors, Path: path, MaxSize: o.opts.MaxRepomdSize}, &buf)
	return buf.Bytes(), res, err
}

// mirrors returns the base URLs to try: those of the metalink or
// mirrorlist, then the source's own.
func (o *opener) mirrors(ctx context.Context) ([]string, *Metalink, error) {
	var out []string
	var ml *Metalink
	for _, u := range []string{o.src.Metalink, o.src.Mirrorlist} {
		if u == "" {
			continue
		}
		data, res, err := o.get(ctx, []string{u}, "")
		if err != nil {
			if len(o.src.URIs) > 0 {
				o.opts.Logger.WarnContext(ctx, "mirror list not available, using the repository's URLs", "url", u, "err", err)
				continue
			}
			return nil, nil, err
		}
		if u == o.src.Metalink || IsMetalink(data) {
			m, err := ParseMetalink(bytes.NewReader(data), res.URL)
			if err != nil {
				return nil, nil, err
			}
			ml = m
			out = append(out, m.Mirrors...)
		} else {
			l, err := ParseMirrorlist(bytes.NewReader(data), res.URL)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, l...)
		}
		break
	}
	for _, u := range o.src.URIs {
		if !contains(out, u) {
			out = append(out, u)
		}
	}
	return out, ml, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// repomd fetches repodata/repomd.xml, checks it against the metalink's
// hashes and verifies repomd.xml.asc from the same mirror.
func (o *opener) repomd(ctx context.Context, mirrors []string, ml *Metalink, idx *Index) ([]byte, fetch.Result, error) {
	data, res, err := o.get(ctx, mirrors, "repodata/repomd.xml")
	if err != nil {
		return nil, res, err
	}
	if ml != nil && len(ml.Hashes) > 0 {
		if err := checkMetalink(data, ml); err != nil {
			return nil, res, fmt.Errorf("%s: %w", res.URL, err)
		}
	}
	sigURL := strings.TrimSuffix(res.URL, "repomd.xml") + "repomd.xml.asc"
	if o.src.Keyring == nil {
		// Insecure (Open refuses no keyring otherwise): nothing to check with.
		o.opts.Logger.WarnContext(ctx, "insecure repository: signature not checked (no keys)", "url", res.URL)
		return data, res, nil
	}
	// The signature must come from the mirror that served the file it signs.
	sig, _, err := o.get(ctx, []string{res.Mirror}, "repodata/repomd.xml.asc")
	if err != nil {
		if o.src.Insecure && errors.Is(err, fs.ErrNotExist) {
			o.opts.Logger.WarnContext(ctx, "insecure repository: no repomd.xml.asc", "url", sigURL)
			return data, res, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, res, fmt.Errorf("%s is not signed (no %s); mark the repository insecure: true to use it anyway: %w", res.URL, sigURL, err)
		}
		return nil, res, err
	}
	v, err := o.src.Keyring.VerifyDetached(data, sig, pgp.VerifyOptions{Now: o.opts.Now()})
	if err != nil {
		err = fmt.Errorf("%s: signature %s does not verify with key(s) %s: %w",
			res.URL, sigURL, strings.Join(o.src.Keyring.Fingerprints(), ", "), err)
		if !o.src.Insecure {
			return nil, res, err
		}
		o.opts.Logger.WarnContext(ctx, "insecure repository: signature not valid", "err", err)
		return data, res, nil
	}
	idx.Signed, idx.Signers = true, v.Signers()
	return data, res, nil
}

// checkMetalink accepts repomd.xml when it matches one of the metalink's
// hashes of the strongest type given (a mirror that is behind by a push
// matches an alternate).
func checkMetalink(data []byte, ml *Metalink) error {
	rank := map[string]int{"sha512": 4, "sha384": 3, "sha256": 2, "sha224": 1, "sha1": 0, "sha": 0}
	best := -1
	for _, h := range ml.Hashes {
		if r, ok := rank[h.Type]; ok && r > best {
			best = r
		}
	}
	var tried []string
	for _, h := range ml.Hashes {
		if rank[h.Type] != best {
			continue
		}
		v, err := newVerifier(h)
		if err != nil {
			continue
		}
		v.Write(data)
		got, ok := v.ok()
		if ok {
			return nil
		}
		tried = append(tried, h.Value)
		if len(tried) == 1 {
			tried[0] = fmt.Sprintf("got %s %s, metalink lists %s", h.Type, got, h.Value)
		}
	}
	return fmt.Errorf("does not match the metalink (%s): a stale or altered mirror", strings.Join(tried, ", "))
}

// data fetches one data file, checks its size and checksum against the
// verified repomd.xml, and gives parse its decompressed content.
//
// open-checksum and open-size are not checked, as librepo does not check
// them: the stored file's checksum, signed through repomd.xml, already
// fixes what it decompresses to, and repositories edited after
// createrepo_c (osbuild's AppStream copy) carry a stale open-checksum that
// dnf accepts. The decompressed size is bounded by Options.MaxDataSize.
func (o *opener) data(ctx context.Context, e Data, parse func(r io.Reader, name string) error) error {
	mirrors := o.mirrorList
	where := e.Location
	if e.LocationBase != "" {
		mirrors = []string{e.LocationBase}
	}
	if len(mirrors) > 0 {
		if u, err := fetch.Join(mirrors[0], e.Location); err == nil {
			where = u
		}
	}
	file, err := o.download(ctx, mirrors, e, where)
	if err != nil {
		return err
	}
	defer file.Close()
	r, _, err := Decompress(file, o.opts.MaxDataSize, where)
	if err != nil {
		return fmt.Errorf("%s data: %w", e.Type, err)
	}
	defer r.Close()
	if err := parse(r, where); err != nil {
		return fmt.Errorf("%s data: %w", e.Type, err)
	}
	return nil
}

// download brings a data file to a local file whose size and checksum
// match repomd.xml: from the cache, or fetched while hashed.
func (o *opener) download(ctx context.Context, mirrors []string, e Data, where string) (*os.File, error) {
	sha256Sized := strings.EqualFold(e.Checksum.Type, "sha256") && e.Size >= 0
	if o.cache != nil && sha256Sized && o.cache.Has(e.Checksum.Value, e.Size) {
		o.opts.Logger.DebugContext(ctx, "data file from cache", "type", e.Type, "sha256", e.Checksum.Value)
		return o.cache.Open(e.Checksum.Value)
	}
	maxSize := o.opts.MaxDataSize
	if e.Size >= 0 {
		maxSize = min(maxSize, e.Size)
	}
	v, err := newVerifier(e.Checksum)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	tmp, err := os.CreateTemp(o.opts.CacheDir, "rpmmd-*")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	os.Remove(tmp.Name()) // anonymous: gone when closed
	req := fetch.Request{Mirrors: mirrors, Path: e.Location, MaxSize: maxSize}
	if o.opts.Progress != nil {
		req.Progress = func(w, t int64) { o.opts.Progress(e.Location, w, t) }
	}
	res, err := o.f.Fetch(ctx, req, io.MultiWriter(tmp, v))
	if err != nil {
		tmp.Close()
		if errors.Is(err, fetch.ErrTooLarge) && e.Size >= 0 {
			return nil, fmt.Errorf("%s data %s: %w: larger than the %d bytes repomd.xml lists (%v)", e.Type, where, ErrChecksum, e.Size, err)
		}
		return nil, fmt.Errorf("%s data: %w", e.Type, err)
	}
	got, ok := v.ok()
	if !ok || e.Size >= 0 && v.n != e.Size {
		tmp.Close()
		want := e.Checksum.Value
		if e.Size >= 0 {
			want = fmt.Sprintf("%d bytes with %s", e.Size, want)
		}
		return nil, fmt.Errorf("%s data %s: %w: %d bytes with %s %s, repomd.xml lists %s",
			e.Type, res.URL, ErrChecksum, v.n, e.Checksum.Type, got, want)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		return nil, err
	}
	if o.cache != nil && sha256Sized {
		if err := o.cache.Put(e.Checksum.Value, e.Size, tmp); err != nil {
			o.opts.Logger.WarnContext(ctx, "could not keep data file in the cache", "file", where, "err", err)
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			tmp.Close()
			return nil, err
		}
	}
	return tmp, nil
}

// ErrChecksum is wrapped by the error for a data file that does not match
// repomd.xml.
var ErrChecksum = errors.New("checksum mismatch")
