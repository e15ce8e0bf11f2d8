package rpm

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	rpmutils "github.com/sassoftware/go-rpmutils"
)

// Tags vzkit reads that go-rpmutils has no name for, or whose name there
// is ambiguous. Signature-header tags are given by their number inside
// the signature header.
const (
	tagSigPGP           = 1002 // RSA signature over header + payload
	tagSigMD5           = 1004 // MD5 over header + payload
	tagSigGPG           = 1005 // DSA signature over header + payload
	tagDSAHeader        = 267
	tagRSAHeader        = 268
	tagSHA1Header       = 269
	tagSHA256Header     = 273
	tagOpenPGP          = 278 // header-only signatures, base64 strings (rpm 6)
	tagSHA3Header       = 279
	tagFileRdevs        = 1033
	tagFileLinkTos      = 1036
	tagFileGroupName    = 1040
	tagFileDevices      = 1095
	tagFileInodes       = 1096
	tagOldFilenames     = 1027
	tagPayloadDigest    = 5092 // compressed payload, algorithm in 5093 (PAYLOADSHA256 in rpm 6)
	tagPayloadAlgo      = 5093
	tagPayloadAlt       = 5097 // uncompressed payload (PAYLOADSHA256ALT)
	tagPayloadSHA512    = 5121
	tagPayloadSHA512Alt = 5122
	tagPayloadSHA3      = 5123
	tagPayloadSHA3Alt   = 5124
)

// Package is an opened .rpm: its lead and both headers in memory, the
// payload left on disk until Extract or Verify streams it.
type Package struct {
	Path    string
	Name    string
	Epoch   *uint32 // nil when the header has no EPOCH tag
	Version string
	Release string
	Arch    string
	Source  bool // a source package (lead type 1)
	// Compressor is the payload compression as the header names it
	// (gzip, bzip2, xz, lzma, zstd; "" for none).
	Compressor string
	// Header gives access to every tag (go-rpmutils' accessors).
	Header *rpmutils.RpmHeader
	// HeaderDigests lists the header digests present and matching, as
	// "sha1", "sha256", "sha3-256".
	HeaderDigests []string

	lead       []byte
	sig, hdr   *blob
	payloadOff int64 // where the compressed payload starts in the file
	files      []File
}

// EVR is [epoch:]version-release.
func (p *Package) EVR() string {
	if p.Epoch != nil {
		return fmt.Sprintf("%d:%s-%s", *p.Epoch, p.Version, p.Release)
	}
	return p.Version + "-" + p.Release
}

// NEVRA is name-[epoch:]version-release.arch, as rpm -q prints it.
func (p *Package) NEVRA() string { return p.Name + "-" + p.EVR() + "." + p.Arch }

// base is the file name errors start with.
func (p *Package) base() string { return filepath.Base(p.Path) }

// Files lists the files the header describes, in header (and payload)
// order, ghosts included.
func (p *Package) Files() []File { return p.files }

// Open reads the lead and both headers of the .rpm at file and checks the
// header digests the signature header carries (SHA-1, SHA-256,
// SHA3-256): a header that does not match them is refused here, before
// anything reads its tags. Signatures are checked by Verify and Extract.
func Open(file string) (*Package, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("rpm: %w", err)
	}
	defer f.Close()
	p, err := read(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("rpm: %s: %w", filepath.Base(file), err)
	}
	p.Path = file
	return p, nil
}

func read(r io.Reader) (*Package, error) {
	p := &Package{lead: make([]byte, leadSize)}
	if _, err := io.ReadFull(r, p.lead); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: empty file", ErrMalformed)
		}
		return nil, fmt.Errorf("%w: lead: %v", ErrMalformed, noEOF(err))
	}
	if binary.BigEndian.Uint32(p.lead[0:4]) != leadMagic {
		return nil, fmt.Errorf("%w: not an rpm package (bad lead magic)", ErrMalformed)
	}
	if major := p.lead[4]; major != 3 && major != 4 {
		return nil, fmt.Errorf("%w: lead version %d", ErrMalformed, major)
	}
	p.Source = binary.BigEndian.Uint16(p.lead[6:8]) == 1
	if st := binary.BigEndian.Uint16(p.lead[78:80]); st != 5 {
		return nil, fmt.Errorf("%w: signature type %d in the lead, want 5 (header-style)", ErrMalformed, st)
	}
	var err error
	if p.sig, err = readBlob(r, true); err != nil {
		return nil, fmt.Errorf("signature header: %w", err)
	}
	if p.hdr, err = readBlob(r, false); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	p.payloadOff = int64(leadSize + len(p.sig.raw) + (8-p.sig.data%8)%8 + len(p.hdr.raw))
	// go-rpmutils parses the checked blobs. It compares the SHA-256 (or
	// SHA-1) digest too; ours, with clearer errors, comes first.
	var whole bytes.Buffer
	whole.Write(p.lead)
	whole.Write(p.sig.raw)
	whole.Write(make([]byte, (8-p.sig.data%8)%8))
	whole.Write(p.hdr.raw)
	if err := p.checkHeaderDigests(); err != nil {
		return nil, err
	}
	if p.Header, err = rpmutils.ReadHeader(bytes.NewReader(whole.Bytes())); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := p.readNEVRA(); err != nil {
		return nil, err
	}
	if p.Header.HasTag(rpmutils.PAYLOADFORMAT) {
		if f, _ := p.Header.GetString(rpmutils.PAYLOADFORMAT); f != "cpio" {
			return nil, fmt.Errorf("payload format %q, want cpio", f)
		}
	}
	if p.Header.HasTag(rpmutils.PAYLOADCOMPRESSOR) {
		if p.Compressor, err = p.Header.GetString(rpmutils.PAYLOADCOMPRESSOR); err != nil {
			return nil, fmt.Errorf("%w: payload compressor: %v", ErrMalformed, err)
		}
	} else {
		p.Compressor = "gzip" // rpm before 4.4 wrote no tag; the payload is sniffed later
	}
	if p.files, err = readFiles(p.Header); err != nil {
		return nil, fmt.Errorf("%w: file list: %v", ErrMalformed, err)
	}
	return p, nil
}

// sigString returns a string tag of the signature header ("" if absent).
func (p *Package) sigString(tag int) string {
	s, err := p.Header.GetString(sigTag(tag))
	if err != nil {
		return ""
	}
	return s
}

// sigTag maps a signature-header tag number to go-rpmutils' numbering,
// which puts the 1000-range signature tags above 16384.
func sigTag(tag int) int {
	if tag >= 1000 {
		return tag + 16384
	}
	return tag
}

// checkHeaderDigests compares the main header with every digest of it
// in the signature header. It reads the signature header's index itself
// because go-rpmutils parses both headers in one call.
func (p *Package) checkHeaderDigests() error {
	want := map[int]string{}
	for _, tag := range []int{tagSHA1Header, tagSHA256Header, tagSHA3Header} {
		if v, ok := p.sig.stringTag(tag); ok {
			want[tag] = v
		}
	}
	for _, d := range []struct {
		tag  int
		name string
		sum  func([]byte) []byte
	}{
		{tagSHA1Header, "sha1", func(b []byte) []byte { s := sha1.Sum(b); return s[:] }},
		{tagSHA256Header, "sha256", func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }},
		{tagSHA3Header, "sha3-256", func(b []byte) []byte { s := sha3.Sum256(b); return s[:] }},
	} {
		v, ok := want[d.tag]
		if !ok {
			continue
		}
		if got := hex.EncodeToString(d.sum(p.hdr.raw)); got != v {
			return fmt.Errorf("header %s digest mismatch: the header was altered (have %s, want %s)", d.name, got, v)
		}
		p.HeaderDigests = append(p.HeaderDigests, d.name)
	}
	return nil
}

func (p *Package) readNEVRA() error {
	h := p.Header
	for _, f := range []struct {
		tag int
		dst *string
	}{{rpmutils.NAME, &p.Name}, {rpmutils.VERSION, &p.Version}, {rpmutils.RELEASE, &p.Release}, {rpmutils.ARCH, &p.Arch}} {
		v, err := h.GetString(f.tag)
		if err != nil || v == "" {
			return fmt.Errorf("%w: header tag %d (name, version, release or arch) missing", ErrMalformed, f.tag)
		}
		*f.dst = v
	}
	if h.HasTag(rpmutils.EPOCH) {
		e, err := h.GetUint32s(rpmutils.EPOCH)
		if err != nil || len(e) != 1 {
			return fmt.Errorf("%w: epoch tag", ErrMalformed)
		}
		p.Epoch = &e[0]
	}
	return nil
}

// stringTag returns a STRING tag of a checked blob without go-rpmutils.
func (b *blob) stringTag(tag int) (string, bool) {
	index := b.raw[introSize : introSize+16*b.tags]
	data := b.raw[introSize+16*b.tags:]
	for i := range b.tags {
		e := index[16*i : 16*i+16]
		if int(binary.BigEndian.Uint32(e[0:4])) != tag || binary.BigEndian.Uint32(e[4:8]) != typeString {
			continue
		}
		off := int(binary.BigEndian.Uint32(e[8:12]))
		n := bytes.IndexByte(data[off:], 0) // check() made sure there is one
		return string(data[off : off+n]), true
	}
	return "", false
}
