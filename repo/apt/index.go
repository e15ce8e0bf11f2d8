package apt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/xi2/xz"

	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/repo/fetch"
	"github.com/vzkit/vzkit/repo/store"
)

// Fetcher is the part of *fetch.Client that Load needs.
type Fetcher interface {
	Fetch(ctx context.Context, req fetch.Request, w io.Writer) (fetch.Result, error)
}

// Source is one apt repository suite to load.
type Source struct {
	URIs       []string // mirrors of the same archive, tried in order
	Suite      string   // e.g. bookworm, bookworm-updates
	Components []string // e.g. main
	Arch       string   // e.g. amd64
	Keyring    *pgp.Keyring
	// Insecure allows a repository without a valid signature; the index is
	// then loaded unverified and Index.Signed is false.
	Insecure bool
}

// Options tune Load.
type Options struct {
	// CacheDir keeps verified index files by SHA-256; empty disables the
	// cache (indexes go through a temporary directory).
	CacheDir string
	// Now is the clock for Valid-Until and key expiry; nil means time.Now.
	Now func() time.Time
	// MaxReleaseSize bounds InRelease/Release [32 MiB]; MaxIndexSize
	// bounds each decompressed Packages file [1 GiB].
	MaxReleaseSize, MaxIndexSize int64
	Logger                       *slog.Logger
}

// Index is a loaded, verified suite.
type Index struct {
	Packages []Package
	Release  *Release
	Signed   bool     // false only for an Insecure source that was not verified
	Signers  []string // fingerprints of the keys with good signatures
	Mirror   string   // base URI that served the Release file
	// Files lists the index files used (path under dists/<suite>/).
	Files []string
}

// Load fetches, verifies and parses a suite as the package documentation
// describes.
func Load(ctx context.Context, f Fetcher, src Source, opts Options) (*Index, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxReleaseSize <= 0 {
		opts.MaxReleaseSize = 32 << 20
	}
	if opts.MaxIndexSize <= 0 {
		opts.MaxIndexSize = 1 << 30
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if len(src.URIs) == 0 || src.Suite == "" || src.Arch == "" || len(src.Components) == 0 {
		return nil, fmt.Errorf("apt source %v %q: URIs, suite, components and arch are required", src.URIs, src.Suite)
	}
	if strings.HasSuffix(src.Suite, "/") {
		return nil, fmt.Errorf("apt source %q: flat repositories are not supported", src.Suite)
	}
	if src.Keyring == nil && !src.Insecure {
		return nil, fmt.Errorf("apt source %v %s: no keyring given and not marked insecure", src.URIs, src.Suite)
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		tmp, err := os.MkdirTemp("", "vzkit-apt-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		cacheDir = tmp
	}
	cache, err := store.Open(cacheDir)
	if err != nil {
		return nil, err
	}

	dist := "dists/" + src.Suite
	idx := &Index{}
	text, res, err := fetchRelease(ctx, f, src, dist, opts, idx)
	if err != nil {
		return nil, err
	}
	idx.Mirror = res.Mirror
	relName := res.URL
	rel, err := ParseRelease(text, relName)
	if err != nil {
		return nil, err
	}
	idx.Release = rel
	if rel.Suite != src.Suite && rel.Codename != src.Suite {
		return nil, fmt.Errorf("%s: is for suite %q (codename %q), not %q", relName, rel.Suite, rel.Codename, src.Suite)
	}
	if err := rel.CheckValid(opts.Now(), relName); err != nil {
		return nil, err
	}
	if !rel.hasArch(src.Arch) {
		return nil, fmt.Errorf("%s: architecture %q not in %v", relName, src.Arch, rel.Architectures)
	}
	arches := []string{src.Arch}
	if src.Arch != "all" && rel.hasArch("all") && rel.NoSupportForArchitectureAll != "Packages" {
		arches = append(arches, "all")
	}
	// The mirror that served the signed Release goes first; the others
	// stay as fallbacks, safe because every file is checked by hash.
	mirrors := append([]string{res.Mirror}, without(src.URIs, res.Mirror)...)
	for _, comp := range src.Components {
		if !rel.hasComponent(comp) {
			return nil, fmt.Errorf("%s: component %q not in %v", relName, comp, rel.Components)
		}
		for _, arch := range arches {
			base := comp + "/binary-" + arch + "/Packages"
			pkgs, used, err := loadPackages(ctx, f, cache, mirrors, dist, base, rel, opts)
			if errors.Is(err, errNotListed) && arch == "all" && arch != src.Arch {
				continue // binary-all announced but not published for this component
			}
			if err != nil {
				return nil, err
			}
			idx.Files = append(idx.Files, used)
			idx.Packages = append(idx.Packages, pkgs...)
		}
	}
	opts.Logger.DebugContext(ctx, "apt index loaded", "mirror", idx.Mirror, "suite", src.Suite,
		"packages", len(idx.Packages), "signed", idx.Signed)
	return idx, nil
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

// fetchRelease gets InRelease, or Release + Release.gpg, verifies it and
// returns the signed text only.
func fetchRelease(ctx context.Context, f Fetcher, src Source, dist string, opts Options, idx *Index) ([]byte, fetch.Result, error) {
	get := func(mirrors []string, name string) ([]byte, fetch.Result, error) {
		var buf bytes.Buffer
		res, err := f.Fetch(ctx, fetch.Request{Mirrors: mirrors, Path: dist + "/" + name, MaxSize: opts.MaxReleaseSize}, &buf)
		return buf.Bytes(), res, err
	}
	vopts := pgp.VerifyOptions{Now: opts.Now()}
	data, res, err := get(src.URIs, "InRelease")
	if err == nil {
		if src.Keyring != nil {
			v, verr := src.Keyring.VerifyClearsigned(data, vopts)
			if verr == nil {
				idx.Signed, idx.Signers = true, v.Signers()
				return v.Signed, res, nil
			}
			if !src.Insecure {
				return nil, res, fmt.Errorf("%s: %w", res.URL, verr)
			}
			opts.Logger.WarnContext(ctx, "insecure repository: signature not valid", "url", res.URL, "err", verr)
		}
		text, terr := pgp.ClearsignedText(data)
		if terr != nil {
			return nil, res, fmt.Errorf("%s: %w", res.URL, terr)
		}
		return text, res, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, res, err
	}
	opts.Logger.DebugContext(ctx, "no InRelease, trying Release + Release.gpg", "suite", src.Suite)
	data, res, err = get(src.URIs, "Release")
	if err != nil {
		return nil, res, err
	}
	// The signature must come from the same mirror as the file it signs.
	sig, sres, err := get([]string{res.Mirror}, "Release.gpg")
	if err != nil && !(src.Insecure && errors.Is(err, fs.ErrNotExist)) {
		return nil, res, err
	}
	if err == nil && src.Keyring != nil {
		v, verr := src.Keyring.VerifyDetached(data, sig, vopts)
		if verr == nil {
			idx.Signed, idx.Signers = true, v.Signers()
			return data, res, nil
		}
		if !src.Insecure {
			return nil, res, fmt.Errorf("%s (signature %s): %w", res.URL, sres.URL, verr)
		}
		opts.Logger.WarnContext(ctx, "insecure repository: signature not valid", "url", sres.URL, "err", verr)
	}
	return data, res, nil
}

var errNotListed = errors.New("not listed in Release")

// loadPackages fetches (or takes from the cache) the best compressed form
// of one Packages index, then decompresses, checks and parses it.
func loadPackages(ctx context.Context, f Fetcher, cache *store.Store, mirrors []string, dist, base string, rel *Release, opts Options) ([]Package, string, error) {
	var name string
	var fh FileHash
	for _, ext := range []string{".xz", ".gz", ""} {
		if h, ok := rel.Files[base+ext]; ok {
			name, fh = base+ext, h
			break
		}
	}
	if name == "" {
		return nil, "", fmt.Errorf("%s/%s/%s: %w", mirrors[0], dist, base, errNotListed)
	}
	where := mirrors[0] + "/" + dist + "/" + name
	plain, hasPlain := rel.Files[base]
	hasPlain = hasPlain && name != base
	if hasPlain && cache.Has(plain.SHA256, plain.Size) {
		// Verified and decompressed by an earlier load.
		opts.Logger.DebugContext(ctx, "index from cache", "file", base, "sha256", plain.SHA256)
		file, err := cache.Open(plain.SHA256)
		if err != nil {
			return nil, "", err
		}
		defer file.Close()
		pkgs, err := ParsePackages(&limitReader{r: file, n: opts.MaxIndexSize, name: where}, where, mirrors[0])
		return pkgs, name, err
	}
	if !cache.Has(fh.SHA256, fh.Size) {
		if err := download(ctx, f, cache, mirrors, dist, name, fh, rel.AcquireByHash); err != nil {
			return nil, "", err
		}
	} else {
		opts.Logger.DebugContext(ctx, "index from cache", "file", name, "sha256", fh.SHA256)
	}
	file, err := cache.Open(fh.SHA256)
	if err != nil {
		return nil, "", err
	}
	defer file.Close()

	var r io.Reader = file
	switch path.Ext(name) {
	case ".xz":
		xr, err := xz.NewReader(file, 0)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", where, err)
		}
		r = xr
	case ".gz":
		gr, err := gzip.NewReader(file)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", where, err)
		}
		defer gr.Close()
		r = gr
	}
	limit := opts.MaxIndexSize
	if hasPlain {
		limit = min(limit, plain.Size)
	}
	limited := &limitReader{r: r, n: limit, name: where}
	h := sha256.New()
	sink := io.Writer(h)
	var keep *store.Writer
	if hasPlain {
		// Keep the decompressed file too: the next load then skips
		// decompression. It is published only if it matches Release.
		if keep, err = cache.Create(plain.SHA256, plain.Size); err != nil {
			return nil, "", err
		}
		defer keep.Abort()
		sink = io.MultiWriter(h, keep)
	}
	pkgs, err := ParsePackages(io.TeeReader(limited, sink), where, mirrors[0])
	if err == nil {
		// Drain what the parser did not need so the digest covers everything.
		if _, err = io.Copy(sink, limited); err != nil {
			err = fmt.Errorf("%s: %w", where, err)
		}
	}
	if hasPlain {
		got := hex.EncodeToString(h.Sum(nil))
		if err != nil && errors.Is(err, store.ErrMismatch) || err == nil && (got != plain.SHA256 || limited.read != plain.Size) {
			return nil, "", fmt.Errorf("%s: decompressed content does not match Release (%d bytes with sha256 %s expected)",
				where, plain.Size, plain.SHA256)
		}
	}
	if err != nil {
		return nil, "", err
	}
	if keep != nil {
		if err := keep.Commit(); err != nil {
			return nil, "", fmt.Errorf("%s: %w", where, err)
		}
	}
	return pkgs, name, nil
}

// download fetches one index file into the cache, by hash first when the
// archive supports it (a by-hash path never changes while a mirror updates).
func download(ctx context.Context, f Fetcher, cache *store.Store, mirrors []string, dist, name string, fh FileHash, byHash bool) error {
	paths := []string{dist + "/" + name}
	if byHash {
		paths = []string{dist + "/" + path.Dir(name) + "/by-hash/SHA256/" + fh.SHA256, paths[0]}
	}
	var lastErr error
	for _, p := range paths {
		w, err := cache.Create(fh.SHA256, fh.Size)
		if err != nil {
			return err
		}
		res, err := f.Fetch(ctx, fetch.Request{Mirrors: mirrors, Path: p, MaxSize: fh.Size}, w)
		if err == nil {
			if err = w.Commit(); err != nil {
				return fmt.Errorf("%s: %w", res.URL, err)
			}
			return nil
		}
		w.Abort()
		lastErr = err
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if errors.Is(lastErr, fetch.ErrTooLarge) {
		return fmt.Errorf("%s/%s: larger than the %d bytes Release lists: %w", mirrors[0], dist+"/"+name, fh.Size, lastErr)
	}
	return lastErr
}

// limitReader fails, instead of stopping silently, past n bytes.
type limitReader struct {
	r    io.Reader
	n    int64
	read int64
	name string
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.read += int64(n)
	if l.read > l.n {
		return n, fmt.Errorf("%s: decompressed size exceeds the %d-byte limit", l.name, l.n)
	}
	return n, err
}
