package rpm

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz/lzma"

	"github.com/vzkit/vzkit/internal/xzstream"
)

// maxDict bounds the dictionary or window a decompressor may allocate:
// 4 times what the strongest settings rpm uses need (xz and lzma -9: 64
// MiB).
const maxDict = 256 << 20

// decompress returns the payload decompressor the header names. A header
// without a compressor tag (rpm before 4.4) means gzip, and rpm built
// with w.ufdio writes "gzip" while storing the cpio archive as it is, so
// the first bytes decide between gzip and none, as rpm does.
func decompress(name string, r *bufio.Reader) (io.ReadCloser, error) {
	if name == "gzip" || name == "" {
		if b, _ := r.Peek(6); bytes.HasPrefix(b, []byte("0707")) {
			name = "uncompressed"
		}
	}
	switch name {
	case "uncompressed":
		return io.NopCloser(r), nil
	case "gzip":
		return gzip.NewReader(r)
	case "bzip2":
		return io.NopCloser(bzip2.NewReader(r)), nil
	case "xz":
		return xzstream.NewReader(context.Background(), r)
	case "lzma":
		// The lzma-alone header declares the dictionary the decoder
		// allocates: 64 MiB at xz -9, anything up to 4 GiB in a hostile one.
		if h, err := r.Peek(5); err == nil && binary.LittleEndian.Uint32(h[1:5]) > maxDict {
			return nil, fmt.Errorf("lzma dictionary of %d bytes (limit %d)", binary.LittleEndian.Uint32(h[1:5]), maxDict)
		}
		d, err := lzma.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(d), nil
	case "zstd":
		// rpm's zstd level 19 uses a window of 8 MiB; the limit keeps a
		// hostile frame from demanding gigabytes.
		d, _ := zstdDecoders.Get().(*zstd.Decoder)
		if d == nil {
			var err error
			if d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxDict)); err != nil {
				return nil, err
			}
		}
		if err := d.Reset(r); err != nil {
			d.Close()
			return nil, err
		}
		return pooledZstd{d}, nil
	default:
		return nil, fmt.Errorf("unsupported payload compressor %q", name)
	}
}

// zstdDecoders keeps payload decoders from one package to the next. A
// decoder allocates (and the runtime clears) its window on first use —
// 8 MiB for rpm's level 19, more than a small package's whole payload —
// and a build extracts every package of a distribution in turn.
var zstdDecoders sync.Pool

// pooledZstd hands its decoder back to zstdDecoders when closed.
type pooledZstd struct{ *zstd.Decoder }

func (p pooledZstd) Close() error {
	// Reset(nil) drops the reference to the payload's reader; the
	// decoder starts afresh on the next Reset.
	p.Decoder.Reset(nil)
	zstdDecoders.Put(p.Decoder)
	return nil
}

// cpio "newc" archives are what rpm writes (070701), rpm 4.12+ writes the
// "stripped" form (07070X: only an index into the header's file list)
// for packages with files of 4 GiB and more, and rpm 6 always. go-rpmutils
// has a reader, but it panics on a zero name size and allocates whatever
// a header declares for names and skips, so a hostile payload could make
// it crash or exhaust memory; this one checks and streams.
const (
	newcMagic     = "070701"
	crcMagic      = "070702" // newc with checksums, which rpm never writes
	strippedMagic = "07070X"
	newcHeader    = 110
	maxNameSize   = 4096 + 1 // PATH_MAX with the NUL
	trailerName   = "TRAILER!!!"
)

// cpioEntry is one archive member as the payload describes it.
type cpioEntry struct {
	stripped bool
	index    int // stripped: position in the header's file list
	name     string
	mode     uint32
	size     int64
}

type cpioReader struct {
	r       *bufio.Reader
	content int64 // unread content of the current entry
	pad     int   // padding after it
	// sizes gives the content size of stripped entries by index (from
	// the header, which the stripped form leaves it to).
	sizes func(index int) (int64, error)
	hdr   [newcHeader]byte
}

// skipCurrent discards the rest of the current entry's content and its
// padding, without allocating.
func (c *cpioReader) skipCurrent() error {
	if n := c.content + int64(c.pad); n > 0 {
		if _, err := io.CopyN(io.Discard, c.r, n); err != nil {
			return fmt.Errorf("cpio: truncated entry: %w", noEOF(err))
		}
	}
	c.content, c.pad = 0, 0
	return nil
}

// Read reads the current entry's content.
func (c *cpioReader) Read(p []byte) (int, error) {
	if c.content <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.content {
		p = p[:c.content]
	}
	n, err := c.r.Read(p)
	c.content -= int64(n)
	if err == io.EOF && c.content > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// next returns the next entry, io.EOF at the trailer.
func (c *cpioReader) next() (cpioEntry, error) {
	if err := c.skipCurrent(); err != nil {
		return cpioEntry{}, err
	}
	h := c.hdr[:]
	if _, err := io.ReadFull(c.r, h[:6]); err != nil {
		return cpioEntry{}, fmt.Errorf("cpio: entry header: %w", noEOF(err))
	}
	switch string(h[:6]) {
	case strippedMagic:
		// The 14 header bytes are padded to 4, as rpm 4.12+ and 6 write
		// them (go-rpmutils' own stripped.cpio sample has no padding
		// there; real packages do).
		if _, err := io.ReadFull(c.r, h[6:16]); err != nil {
			return cpioEntry{}, fmt.Errorf("cpio: stripped entry header: %w", noEOF(err))
		}
		idx, err := hex8(h[6:14])
		if err != nil {
			return cpioEntry{}, err
		}
		size, err := c.sizes(int(idx))
		if err != nil {
			return cpioEntry{}, err
		}
		c.content, c.pad = size, pad4(size)
		return cpioEntry{stripped: true, index: int(idx), size: size}, nil
	case newcMagic:
	case crcMagic:
		return cpioEntry{}, errors.New("cpio: 070702 (crc) archives are not rpm payloads")
	default:
		return cpioEntry{}, fmt.Errorf("cpio: bad entry magic %q", h[:6])
	}
	if _, err := io.ReadFull(c.r, h[6:]); err != nil {
		return cpioEntry{}, fmt.Errorf("cpio: entry header: %w", noEOF(err))
	}
	var f [13]uint32
	for i := range f {
		v, err := hex8(h[6+8*i : 14+8*i])
		if err != nil {
			return cpioEntry{}, err
		}
		f[i] = v
	}
	// ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
	namesize := int(f[11])
	if namesize < 2 || namesize > maxNameSize {
		return cpioEntry{}, fmt.Errorf("cpio: name size %d", namesize)
	}
	name := make([]byte, namesize+pad4(int64(newcHeader+namesize)))
	if _, err := io.ReadFull(c.r, name); err != nil {
		return cpioEntry{}, fmt.Errorf("cpio: entry name: %w", noEOF(err))
	}
	if name[namesize-1] != 0 || bytes.IndexByte(name[:namesize-1], 0) >= 0 {
		return cpioEntry{}, errors.New("cpio: entry name not NUL-terminated")
	}
	e := cpioEntry{name: string(name[:namesize-1]), mode: f[1], size: int64(f[6])}
	if e.name == trailerName {
		return cpioEntry{}, io.EOF
	}
	c.content, c.pad = e.size, pad4(e.size)
	return e, nil
}

func pad4(n int64) int { return int((4 - n%4) % 4) }

func hex8(b []byte) (uint32, error) {
	v, err := strconv.ParseUint(string(b), 16, 32)
	if err != nil {
		return 0, fmt.Errorf("cpio: bad header field %q", b)
	}
	return uint32(v), nil
}
