package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/vzkit/vzkit/cache"
)

// unpackCache unpacks a template cache into dst with package cache's
// unpacker: format from magic bytes (zstd, gzip, xz), size and SHA-256
// checked against the manifest beside the cache before a byte is parsed,
// frames decoded and files written in parallel, every path confined below
// dst, a bound on decompressed size. A cache without its manifest is
// refused unless ALLOW_UNVERIFIED_CACHE=yes in vz.conf lets plain tarballs
// (OpenVZ's own caches, say) through, with a warning.
func (s *Store) unpackCache(ctx context.Context, path, dst string) error {
	allow := false
	switch v := s.G.Get(keyAllowUnverified); v {
	case "", "no":
	case "yes":
		allow = true
	default:
		return fmt.Errorf("%w: %s=%q in %s: want yes or no", ErrBadParam, keyAllowUnverified, v, s.G.File)
	}
	mpath := cache.ManifestPath(path)
	if _, err := os.Lstat(mpath); errors.Is(err, fs.ErrNotExist) {
		if !allow {
			return fmt.Errorf("OS template cache %s has no manifest %s beside it, so nothing vouches for its content "+
				"(vzpkg build writes one; set %s=yes in %s to accept plain tarballs)", path, mpath, keyAllowUnverified, s.G.File)
		}
		s.log().Warn("OS template cache without a manifest: its content is not verified", "cache", path, "missing", mpath)
	}
	return cache.Unpack(ctx, path, dst, cache.UnpackOptions{RequireManifest: !allow})
}

// keyAllowUnverified in vz.conf lets create use caches without a manifest.
const keyAllowUnverified = "ALLOW_UNVERIFIED_CACHE"
