package rpmmd

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/xi2/xz"
)

// Compression is a data file's compression, as its first bytes say.
type Compression int

const (
	Plain Compression = iota
	Gzip
	XZ
	Zstd
	Bzip2
	Zchunk // recognised to refuse it clearly: the .xml.* entries are used instead
)

func (c Compression) String() string {
	return [...]string{"plain", "gzip", "xz", "zstd", "bzip2", "zchunk"}[c]
}

// Magic numbers, longest first where one could be a prefix of another.
var magics = []struct {
	magic []byte
	c     Compression
}{
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, XZ},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, Zstd},
	{[]byte{0x00, 'Z', 'C', 'K', '1'}, Zchunk},
	{[]byte("BZh"), Bzip2},
	{[]byte{0x1f, 0x8b}, Gzip},
}

// DetectCompression names the compression of data that begins with head.
// The file name is not consulted: repositories in the wild carry names
// that lie (createrepo_c's own test data has .foo files of every kind).
func DetectCompression(head []byte) Compression {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.c
		}
	}
	return Plain
}

// ErrTooLarge is wrapped by errors for data that decompresses to more than
// the limit.
var ErrTooLarge = errors.New("decompressed size exceeds the limit")

// maxXZDict bounds the LZMA2 dictionary an xz stream may ask for (xz -9
// uses 64 MiB): github.com/xi2/xz refuses a larger one, where
// github.com/ulikunitz/xz would allocate whatever the header says.
const maxXZDict = 64 << 20

// maxZstdWindow bounds a zstd frame's window (zstd --long uses 128 MiB).
const maxZstdWindow = 128 << 20

// Decompress returns a reader of r's content, decompressed according to
// its magic number, that fails with ErrTooLarge past limit bytes (limit
// <= 0: no limit). name is used in errors. Close releases the decoder.
func Decompress(r io.Reader, limit int64, name string) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF {
		return nil, Plain, fmt.Errorf("%s: %w", name, err)
	}
	c := DetectCompression(head)
	var out io.Reader
	closer := func() {}
	switch c {
	case Plain:
		out = br
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("%s: gzip: %w", name, err)
		}
		out, closer = zr, func() { zr.Close() }
	case XZ:
		xr, err := xz.NewReader(br, maxXZDict)
		if err != nil {
			return nil, c, fmt.Errorf("%s: xz: %w", name, err)
		}
		out = xr
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow),
			zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, c, fmt.Errorf("%s: zstd: %w", name, err)
		}
		out, closer = zr, zr.Close
	case Bzip2:
		out = bzip2.NewReader(br)
	case Zchunk:
		return nil, c, fmt.Errorf("%s: zchunk (.zck) data is not supported; use the repository's .xml.gz/.xz/.zst entry", name)
	}
	return &limitedReader{r: out, limit: limit, name: name, c: c, close: closer}, c, nil
}

// limitedReader fails, instead of stopping silently, past limit bytes, and
// names the file and the compression in decoder errors.
type limitedReader struct {
	r     io.Reader
	limit int64
	n     int64
	name  string
	c     Compression
	close func()
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.limit > 0 && l.n > l.limit {
		return n, fmt.Errorf("%s: %w (%d bytes)", l.name, ErrTooLarge, l.limit)
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %s: %w", l.name, l.c, err)
	}
	return n, err
}

func (l *limitedReader) Close() error {
	l.close()
	return nil
}
