package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/vzkit/vzkit/repo/fetch"
	"github.com/vzkit/vzkit/repo/store"
)

// Fetcher is the part of *fetch.Client that Download needs.
type Fetcher interface {
	Fetch(ctx context.Context, req fetch.Request, w io.Writer) (fetch.Result, error)
}

// Progress receives per-file events; calls come from several goroutines.
type Progress interface {
	Start(p *Package)                        // download of p begins (p.Size bytes)
	Advance(p *Package, written int64)       // written bytes so far
	Done(p *Package, cached bool, err error) // finished, skipped (cached) or failed
}

// DownloadOptions tune Download.
type DownloadOptions struct {
	Parallel int      // concurrent downloads [8]
	Mirrors  []string // fallback base URLs tried after each package's BaseURLs
	Progress Progress // may be nil
	// Verify re-hashes packages already in the store instead of trusting
	// name and size; a corrupt one is removed and downloaded again.
	Verify bool
}

// Stats summarises a Download.
type Stats struct {
	Packages   int   // distinct files requested
	Cached     int   // already in the store
	Downloaded int   // fetched now
	Bytes      int64 // bytes fetched now
}

// Download puts every package into st, as the package documentation
// describes. It returns the stats so far together with any error.
func Download(ctx context.Context, f Fetcher, st *store.Store, pkgs []Package, opts DownloadOptions) (Stats, error) {
	if opts.Parallel <= 0 {
		opts.Parallel = 8
	}
	var todo []*Package
	seen := map[string]bool{}
	for i := range pkgs {
		p := &pkgs[i]
		if err := checkPackage(p); err != nil {
			return Stats{}, err
		}
		if !seen[p.Checksum.Hex] {
			seen[p.Checksum.Hex] = true
			todo = append(todo, p)
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var (
		mu    sync.Mutex
		stats = Stats{Packages: len(todo)}
		errs  []error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, opts.Parallel)
	)
	for _, p := range todo {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			cached, n, err := downloadOne(ctx, f, st, p, opts)
			if opts.Progress != nil {
				opts.Progress.Done(p, cached, err)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				// Once the first failure cancelled the rest, their errors
				// only repeat it.
				if ctx.Err() == nil {
					errs = append(errs, err)
				}
				cancel(err)
			case cached:
				stats.Cached++
			default:
				stats.Downloaded++
				stats.Bytes += n
			}
		}()
	}
	wg.Wait()
	if len(errs) == 0 && ctx.Err() != nil {
		errs = append(errs, context.Cause(ctx))
	}
	return stats, errors.Join(errs...)
}

// checkPackage refuses packages that cannot be verified or whose Location
// would leave the repository.
func checkPackage(p *Package) error {
	id := p.ID()
	switch {
	case p.Checksum.Algo != SHA256:
		// The store is addressed by SHA-256; another digest could not
		// name the file there.
		return fmt.Errorf("package %s: metadata gives a %s checksum; the package store needs a SHA-256", id, p.Checksum.Algo)
	case len(p.Checksum.Hex) != 64:
		return fmt.Errorf("package %s: index gives no valid SHA256", id)
	case len(p.BaseURLs) == 0 || p.BaseURLs[0] == "":
		return fmt.Errorf("package %s: no repository URL", id)
	case p.Location == "" || strings.HasPrefix(p.Location, "/") || path.Clean(p.Location) != p.Location ||
		strings.HasPrefix(p.Location, "../") || p.Location == "..":
		return fmt.Errorf("package %s: unsafe Filename %q", id, p.Location)
	}
	return nil
}

func downloadOne(ctx context.Context, f Fetcher, st *store.Store, p *Package, opts DownloadOptions) (cached bool, n int64, err error) {
	sum := p.Checksum.Hex // SHA-256: checkPackage made sure
	if st.Has(sum, p.Size) {
		if !opts.Verify {
			return true, 0, nil
		}
		if err := st.Verify(sum, p.Size); err == nil {
			return true, 0, nil
		} else if !errors.Is(err, store.ErrMismatch) {
			return false, 0, fmt.Errorf("package %s %s: %w", p.Name, p.Version, err)
		}
	}
	if opts.Progress != nil {
		opts.Progress.Start(p)
	}
	w, err := st.Create(sum, p.Size)
	if err != nil {
		return false, 0, fmt.Errorf("package %s %s: %w", p.Name, p.Version, err)
	}
	defer w.Abort()
	req := fetch.Request{
		Mirrors: append(slices.Clone(p.BaseURLs), opts.Mirrors...),
		Path:    p.Location,
		MaxSize: p.Size, // the store refuses more anyway; this stops the transfer early
	}
	if opts.Progress != nil {
		req.Progress = func(written, _ int64) { opts.Progress.Advance(p, written) }
	}
	res, err := f.Fetch(ctx, req, w)
	url := res.URL
	if url == "" {
		url, _ = fetch.Join(p.BaseURLs[0], p.Location)
	}
	if err != nil {
		return false, 0, fmt.Errorf("package %s %s (%s): %w", p.Name, p.Version, url, err)
	}
	if err := w.Commit(); err != nil {
		return false, 0, fmt.Errorf("package %s %s (%s): %w", p.Name, p.Version, url, err)
	}
	return false, res.Size, nil
}
