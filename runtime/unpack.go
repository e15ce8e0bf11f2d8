package runtime

import (
	"context"

	"github.com/vzkit/vzkit/cache"
)

// unpackCache unpacks a template cache into dst with package cache's
// unpacker: format from magic bytes (zstd, gzip, xz), the manifest checked
// when one is beside the cache, frames decoded and files written in
// parallel, every path confined below dst, a bound on decompressed size.
func unpackCache(ctx context.Context, path, dst string) error {
	return cache.Unpack(ctx, path, dst, cache.UnpackOptions{})
}
