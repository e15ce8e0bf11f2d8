package rpm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Limits on the two headers, which are read into memory. rpm's own are 32
// signature tags and 64 MiB, and 65,535 tags and 256 MiB for the main
// header (lib/header.c); no real main header comes near 64 MiB (a kernel's
// is a few MiB), so vzkit stops there.
const (
	leadSize        = 96
	introSize       = 16
	maxSigTags      = 64
	maxSigData      = 64 << 20
	maxHeaderTags   = 0xffff
	maxHeaderData   = 64 << 20
	headerMagic     = 0x8eade801
	leadMagic       = 0xedabeedb
	rpmMinType      = 0 // RPM_NULL_TYPE; rpm rejects nothing below 0
	rpmMaxType      = 9 // RPM_I18NSTRING_TYPE
	typeChar        = 1
	typeInt8        = 2
	typeInt16       = 3
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
	typeI18NString  = 9
)

// ErrMalformed is wrapped by errors for a lead or header that is not what
// rpm writes: wrong magic, sizes over the limits, an index entry pointing
// outside the data.
var ErrMalformed = errors.New("malformed rpm")

// blob is one header structure as it lies in the file: intro, index and
// data. raw is exactly the bytes the header digests and signatures cover.
type blob struct {
	raw  []byte
	tags int
	data int
}

// readBlob reads one header structure from r and checks every index entry
// against the data area, so that go-rpmutils, which trusts offsets and
// counts, never indexes outside it. sig selects the signature header's
// limits and its padding to 8 bytes (the padding is read, not kept).
func readBlob(r io.Reader, sig bool) (*blob, error) {
	intro := make([]byte, introSize)
	if _, err := io.ReadFull(r, intro); err != nil {
		return nil, fmt.Errorf("%w: header intro: %v", ErrMalformed, noEOF(err))
	}
	if binary.BigEndian.Uint32(intro[0:4]) != headerMagic {
		return nil, fmt.Errorf("%w: bad header magic %x", ErrMalformed, intro[0:4])
	}
	il, dl := binary.BigEndian.Uint32(intro[8:12]), binary.BigEndian.Uint32(intro[12:16])
	maxTags, maxData := uint32(maxHeaderTags), uint32(maxHeaderData)
	if sig {
		maxTags, maxData = maxSigTags, maxSigData
	}
	if il == 0 || il > maxTags {
		return nil, fmt.Errorf("%w: %d index entries (limit %d)", ErrMalformed, il, maxTags)
	}
	if dl > maxData {
		return nil, fmt.Errorf("%w: %d bytes of header data (limit %d)", ErrMalformed, dl, maxData)
	}
	size := introSize + int(il)*16 + int(dl)
	// Read into a growing buffer: a header that claims 64 MiB in a short
	// file costs what the file has, not what it claims.
	buf := bytes.NewBuffer(make([]byte, 0, min(size, 1<<20)))
	buf.Write(intro)
	if n, err := io.CopyN(buf, r, int64(size-introSize)); err != nil {
		return nil, fmt.Errorf("%w: header of %d bytes: %d bytes read: %v", ErrMalformed, size, n+introSize, noEOF(err))
	}
	raw := buf.Bytes()
	if sig {
		if pad := (8 - int(dl)%8) % 8; pad > 0 {
			if _, err := io.ReadFull(r, make([]byte, pad)); err != nil {
				return nil, fmt.Errorf("%w: signature header padding: %v", ErrMalformed, noEOF(err))
			}
		}
	}
	b := &blob{raw: raw, tags: int(il), data: int(dl)}
	if err := b.check(); err != nil {
		return nil, err
	}
	return b, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

var typeSize = [...]int64{0, 1, 1, 2, 4, 8, 0, 1, 0, 0}

// check validates every index entry as rpm's hdrblobVerifyInfo does:
// known type, count at least 1, aligned offset, and the whole value
// (strings up to their NUL) inside the data area.
func (b *blob) check() error {
	index := b.raw[introSize : introSize+16*b.tags]
	data := b.raw[introSize+16*b.tags:]
	// Values must not overlap and come in index order, as rpm requires
	// (lib/header.c): otherwise 65,535 entries could each make the string
	// scan below walk the same 64 MiB. Region tags (61-63), whose trailer
	// rpm puts at the end of the region, are checked for bounds only.
	var end int64
	for i := range b.tags {
		e := index[16*i : 16*i+16]
		tag := binary.BigEndian.Uint32(e[0:4])
		typ := binary.BigEndian.Uint32(e[4:8])
		off := int64(int32(binary.BigEndian.Uint32(e[8:12])))
		count := int64(binary.BigEndian.Uint32(e[12:16]))
		bad := func(what string) error {
			return fmt.Errorf("%w: index entry %d (tag %d): %s", ErrMalformed, i, tag, what)
		}
		switch {
		case typ > rpmMaxType:
			return bad(fmt.Sprintf("unknown type %d", typ))
		case off < 0 || off > int64(len(data)):
			return bad(fmt.Sprintf("offset %d outside %d bytes of data", off, len(data)))
		case count < 1 || count > int64(len(data))+1:
			return bad(fmt.Sprintf("count %d", count))
		}
		region := tag >= 61 && tag <= 63
		if !region && off < end {
			return bad(fmt.Sprintf("value at offset %d overlaps the one before (ending at %d)", off, end))
		}
		var stop int64
		switch typ {
		case typeString, typeStringArray, typeI18NString:
			if typ == typeString && count != 1 {
				return bad("string with a count other than 1")
			}
			stop = off
			for range count {
				n := bytes.IndexByte(data[stop:], 0)
				if n < 0 {
					return bad("string runs past the data")
				}
				stop += int64(n) + 1
			}
		default:
			if align := typeSize[typ]; align > 1 && off%align != 0 {
				return bad(fmt.Sprintf("offset %d not aligned for type %d", off, typ))
			}
			if stop = off + typeSize[typ]*count; stop > int64(len(data)) {
				return bad("value runs past the data")
			}
		}
		if !region {
			end = stop
		}
	}
	return nil
}
