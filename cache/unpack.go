package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/vzkit/vzkit/internal/bufpool"
	"github.com/vzkit/vzkit/internal/extract"
)

// DefaultMaxSize bounds the decompressed tar stream when UnpackOptions.MaxSize
// is zero: far above any template (a few GiB at most), far below a
// decompression bomb that fills a disk.
const DefaultMaxSize = 32 << 30

// DefaultMaxEntries bounds the number of tar entries when
// UnpackOptions.MaxEntries is zero; a full desktop root has about 300,000.
const DefaultMaxEntries = 4 << 20

// maxParallelFrame is the largest frame decoded whole into memory; files
// with larger frames are decoded as a stream instead.
const maxParallelFrame = 64 << 20

// maxWindow bounds the zstd window (decoder memory) for streamed input.
const maxWindow = 128 << 20

// UnpackOptions tune Unpack.
type UnpackOptions struct {
	// MaxSize is the most tar bytes decompressed (default DefaultMaxSize).
	MaxSize int64
	// MaxEntries is the most tar entries extracted (default DefaultMaxEntries).
	MaxEntries int
	// Workers write regular files in parallel and decode frames
	// (default GOMAXPROCS).
	Workers int
	// RequireManifest makes a cache without a manifest beside it an error.
	// A manifest that is there is always checked.
	RequireManifest bool
}

// Format is the container of a cache file, found by its magic bytes.
type Format string

// Formats Unpack reads.
const (
	FormatZstd Format = "zstd"
	FormatGzip Format = "gzip"
	FormatXz   Format = "xz"
	FormatTar  Format = "tar"
)

// DetectFormat names the format of a file from its first bytes (at least
// 262 for a plain tar).
func DetectFormat(head []byte) (Format, error) {
	switch {
	case len(head) >= 4 && (bytes.Equal(head[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) ||
		head[0]&0xf0 == 0x50 && bytes.Equal(head[1:4], []byte{0x2a, 0x4d, 0x18})): // frame or skippable frame
		return FormatZstd, nil
	case len(head) >= 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8:
		return FormatGzip, nil
	case len(head) >= 6 && bytes.Equal(head[:6], []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return FormatXz, nil
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return FormatTar, nil
	}
	return "", errors.New("not a zstd, gzip, xz or tar file")
}

// Unpack extracts the cache at cachePath into dst, which is created when
// missing. When the manifest NAME.json is beside the cache, the cache's size
// and SHA-256 are checked against it before anything is extracted. On error
// dst holds a partial tree that the caller removes.
func Unpack(ctx context.Context, cachePath, dst string, opts UnpackOptions) error {
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	f, err := os.Open(cachePath)
	if err != nil {
		return fmt.Errorf("cache: unpack: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cache: unpack: %w", err)
	}
	size := fi.Size()
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("cache: unpack %s: not a regular file", cachePath)
	}

	if _, err := verify(ctx, f, size, cachePath, opts.RequireManifest); err != nil {
		return err
	}

	head := make([]byte, 512)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("cache: unpack %s: %w", cachePath, err)
	}
	format, err := DetectFormat(head[:n])
	if err != nil {
		return fmt.Errorf("cache: unpack %s: %w", cachePath, err)
	}
	r, err := decompress(ctx, format, f, size, opts)
	if err != nil {
		return fmt.Errorf("cache: unpack %s: %w", cachePath, err)
	}
	defer r.Close()
	if err := restore(ctx, r, dst, opts); err != nil {
		return fmt.Errorf("cache: unpack %s into %s: %w", cachePath, dst, err)
	}
	return nil
}

// restore extracts the tar stream r into dst under the cache restore
// policy. MaxSize bounds the stream and, since sparse files expand, the
// file content written as well.
func restore(ctx context.Context, r io.Reader, dst string, opts UnpackOptions) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	root, err := extract.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()
	_, err = root.Extract(ctx, r, extract.CacheRestore, extract.Options{
		MaxEntries:     opts.MaxEntries,
		MaxFileBytes:   opts.MaxSize,
		MaxTotalBytes:  opts.MaxSize,
		MaxStreamBytes: opts.MaxSize,
		Workers:        opts.Workers,
		IgnoreOwner:    os.Geteuid() != 0,
	})
	return err
}

// Verify checks a cache against the manifest beside it (which must exist)
// and returns the manifest.
func Verify(ctx context.Context, cachePath string) (*Manifest, error) {
	f, err := os.Open(cachePath)
	if err != nil {
		return nil, fmt.Errorf("cache: verify: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cache: verify: %w", err)
	}
	return verify(ctx, f, fi.Size(), cachePath, true)
}

// verify checks the cache against its manifest, when there is one.
func verify(ctx context.Context, f *os.File, size int64, cachePath string, required bool) (*Manifest, error) {
	mpath := ManifestPath(cachePath)
	m, err := ReadManifest(mpath)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if m.Archive.Size != size {
		return nil, fmt.Errorf("cache: %s is %d bytes, manifest %s says %d", cachePath, size, mpath, m.Archive.Size)
	}
	h := sha256.New()
	if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: io.NewSectionReader(f, 0, size)}); err != nil {
		return nil, fmt.Errorf("cache: checksum %s: %w", cachePath, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != m.Archive.SHA256 {
		return nil, fmt.Errorf("cache: %s has SHA-256 %s, manifest %s says %s: the file is damaged or was changed",
			cachePath, sum, mpath, m.Archive.SHA256)
	}
	return m, nil
}

// decompress returns the tar stream inside the file.
func decompress(ctx context.Context, format Format, f *os.File, size int64, opts UnpackOptions) (io.ReadCloser, error) {
	sr := io.NewSectionReader(f, 0, size)
	switch format {
	case FormatZstd:
		frames, err := readSeekTable(f, size)
		if err == nil && parallelOK(frames, opts.MaxSize) {
			return decodeFrames(ctx, f, frames, opts.Workers)
		}
		if err != nil && !errors.Is(err, errNoSeekTable) {
			return nil, err
		}
		d, err := zstd.NewReader(sr, zstd.WithDecoderMaxWindow(maxWindow),
			zstd.WithDecoderConcurrency(opts.Workers))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return d.IOReadCloser(), nil
	case FormatGzip:
		z, err := gzip.NewReader(sr)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return z, nil
	case FormatXz:
		z, err := xz.NewReader(sr)
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		return io.NopCloser(z), nil
	default:
		return io.NopCloser(sr), nil
	}
}

// parallelOK says whether the frames can be decoded whole in memory and
// declare no more than the size limit.
func parallelOK(frames []Frame, maxSize int64) bool {
	if len(frames) == 0 {
		return false
	}
	var total int64
	for _, fr := range frames {
		if fr.TarLen > maxParallelFrame || fr.Size > maxParallelFrame {
			return false
		}
		total += fr.TarLen
	}
	return total <= maxSize
}

type frameResult struct {
	data []byte
	err  error
}

// decodeFrames decodes independent frames on several goroutines and returns
// their content in order. At most 2×workers frames are in memory.
func decodeFrames(ctx context.Context, f io.ReaderAt, frames []Frame, workers int) (io.ReadCloser, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(workers),
		zstd.WithDecodeAllCapLimit(true), zstd.WithDecoderMaxWindow(maxWindow))
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	pr, pw := io.Pipe()
	stop := make(chan struct{})
	order := make(chan chan frameResult, 2*workers)
	go func() { // producer: one goroutine per frame in flight
		defer close(order)
		for i, fr := range frames {
			res := make(chan frameResult, 1)
			select {
			case order <- res:
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
			go func() {
				src := bufpool.Get(fr.Size)[:fr.Size]
				defer bufpool.Put(src)
				if _, err := f.ReadAt(src, fr.Offset); err != nil {
					res <- frameResult{err: fmt.Errorf("read zstd frame %d: %w", i, err)}
					return
				}
				out, err := dec.DecodeAll(src, bufpool.Get(fr.TarLen))
				if err == nil && int64(len(out)) != fr.TarLen {
					err = fmt.Errorf("is %d bytes, seek table says %d", len(out), fr.TarLen)
				}
				if err != nil {
					err = fmt.Errorf("zstd frame %d at offset %d: %w", i, fr.Offset, err)
				}
				res <- frameResult{data: out, err: err}
			}()
		}
	}()
	go func() { // consumer: writes frames in order
		defer dec.Close()
		var failed error
		n := 0
		for res := range order {
			r := <-res
			n++
			if failed != nil {
				continue
			}
			if r.err == nil {
				// Write returns once the reader has copied everything.
				_, r.err = pw.Write(r.data)
			}
			bufpool.Put(r.data)
			if r.err != nil {
				failed = r.err
				close(stop)
			}
		}
		if failed == nil && n < len(frames) {
			failed = ctx.Err()
		}
		pw.CloseWithError(failed)
	}()
	return pr, nil
}

// ctxReader stops a long read when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
