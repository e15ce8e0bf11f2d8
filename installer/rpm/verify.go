package rpm

import (
	"bufio"
	"context"
	"crypto"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/vzkit/vzkit/internal/pgp"
)

// Options say what a package must prove before its payload is trusted.
type Options struct {
	// Keyring holds the template's keys. Signatures by other keys are
	// ignored; one by a key in it that does not verify rejects the
	// package.
	Keyring Keys
	// RequireSignature is gpgcheck=1: the package needs a good signature
	// by a key of Keyring. Only a repository marked insecure turns it
	// off; a bad signature by a known key is refused even then.
	RequireSignature bool
	// SHA256 is the package's checksum from verified repository metadata
	// (primary.xml), hex; "" when there is none. A package that matches
	// it is trusted for its bytes, so weak digests inside it do not
	// matter, but its signature is still checked (dnf's gpgcheck=1).
	SHA256 string
	// AllowWeakDigests accepts a package whose header and payload are
	// protected by MD5 or SHA-1 only (rpm before 4.14 wrote no SHA-256
	// payload digest; CentOS 5's signatures are DSA/SHA-1). Only a
	// template that says insecure sets it.
	AllowWeakDigests bool
	// MaxPayloadBytes bounds the decompressed payload; 0 means 32 GiB.
	MaxPayloadBytes int64
}

const defaultMaxPayload = 32 << 30

// Verdict is what verification found out about a package.
type Verdict struct {
	// Signatures lists every signature found, with its status.
	Signatures []Signature
	// Signers are the fingerprints of the keys with a good signature.
	Signers []string
	// HeaderDigests and PayloadDigests name the digests that matched:
	// "sha256", "sha3-256", "sha512 (uncompressed)", "md5 (header+payload)".
	HeaderDigests  []string
	PayloadDigests []string
	// FileSHA256 reports that the whole file matched Options.SHA256.
	FileSHA256 bool
	// Weak reports a package protected by MD5 or SHA-1 only, accepted
	// because Options.AllowWeakDigests.
	Weak bool
}

// ErrVerify is wrapped by every verification failure.
var ErrVerify = errors.New("verification failed")

// verifier checks one package while its payload streams past: the
// header-level verdict is known before the payload is read, the rest
// when it has been read to the end.
type verifier struct {
	p    *Package
	opts Options
	v    Verdict

	headerSigs []pgpSig // header-only, already checked
	legacy     []pgpSig // header+payload, fed while streaming
	legacyH    []hash.Hash
	rawSums    []digest // over the compressed payload
	altSums    []digest // over the uncompressed payload
	md5        hash.Hash
	md5Want    []byte
	file       hash.Hash // whole file, for Options.SHA256
	strongHdr  bool
}

type digest struct {
	algo crypto.Hash
	name string
	want string
	h    hash.Hash
}

func (p *Package) fail(format string, args ...any) error {
	return fmt.Errorf("rpm: %s: %w: %s", p.base(), ErrVerify, fmt.Sprintf(format, args...))
}

// newVerifier checks everything the headers alone decide: the header
// signatures, and whether the package can pass at all (a required
// signature that no key of the keyring can give is refused here, before
// the payload is read). On a refusal it still returns the verifier, whose
// Verdict lists the signatures seen.
func (p *Package) newVerifier(opts Options) (*verifier, error) {
	vf := &verifier{p: p, opts: opts}
	vf.v.HeaderDigests = append([]string(nil), p.HeaderDigests...)
	for _, d := range p.HeaderDigests {
		if d != "sha1" {
			vf.strongHdr = true
		}
	}
	// Header-only signatures: RSAHEADER, DSAHEADER and the OPENPGP array.
	var blobs []struct {
		tag int
		b   []byte
	}
	for _, tag := range []int{tagRSAHeader, tagDSAHeader} {
		if b, err := p.Header.GetBytes(tag); err == nil {
			blobs = append(blobs, struct {
				tag int
				b   []byte
			}{tag, b})
		}
	}
	if p.Header.HasTag(tagOpenPGP) {
		arr, err := p.Header.GetStrings(tagOpenPGP)
		if err != nil {
			return nil, p.fail("OPENPGP signature tag: %v", err)
		}
		for i, s := range arr {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, p.fail("OPENPGP signature %d: not base64: %v", i+1, err)
			}
			blobs = append(blobs, struct {
				tag int
				b   []byte
			}{tagOpenPGP, b})
		}
	}
	for _, bl := range blobs {
		s := parseSig(bl.tag, bl.b, opts.Keyring)
		if s.Status == SigGood {
			h, err := s.hasher()
			if err != nil {
				s.Status, s.Err = SigUnsupported, err
			} else {
				h.Write(p.hdr.raw)
				s.check(h)
			}
		}
		vf.headerSigs = append(vf.headerSigs, s)
		vf.v.Signatures = append(vf.v.Signatures, s.Signature)
	}
	// Header+payload signatures: checked while the payload streams.
	for _, tag := range []int{tagSigPGP, tagSigGPG} {
		b, err := p.Header.GetBytes(sigTag(tag))
		if err != nil {
			continue
		}
		s := parseSig(tag, b, opts.Keyring)
		if s.Status == SigGood {
			h, err := s.hasher()
			if err != nil {
				s.Status, s.Err = SigUnsupported, err
			} else {
				h.Write(p.hdr.raw)
				vf.legacy = append(vf.legacy, s)
				vf.legacyH = append(vf.legacyH, h)
				continue
			}
		}
		vf.v.Signatures = append(vf.v.Signatures, s.Signature)
	}
	if err := vf.rejectBad(); err != nil {
		return vf, err
	}
	if opts.RequireSignature && len(vf.goodHeaderSigs()) == 0 && len(vf.legacy) == 0 {
		return vf, vf.unsignedError()
	}
	// Payload digests from the main header, which the signatures cover.
	if err := vf.payloadDigests(); err != nil {
		return nil, err
	}
	if b, err := p.Header.GetBytes(sigTag(tagSigMD5)); err == nil && len(b) == md5.Size {
		vf.md5, vf.md5Want = md5.New(), b
		vf.md5.Write(p.hdr.raw)
	}
	if opts.SHA256 != "" {
		vf.file = sha256.New()
		vf.file.Write(p.lead)
		vf.file.Write(p.sig.raw)
		vf.file.Write(make([]byte, (8-p.sig.data%8)%8))
		vf.file.Write(p.hdr.raw)
	}
	return vf, nil
}

func (vf *verifier) goodHeaderSigs() []pgpSig {
	var out []pgpSig
	for _, s := range vf.headerSigs {
		if s.Status == SigGood && (s.strong() || vf.opts.AllowWeakDigests) {
			out = append(out, s)
		}
	}
	return out
}

// rejectBad refuses a package with a bad signature by a known key or a
// signature by a revoked key, whatever else it carries (as apt and
// internal/pgp do: it was altered after signing).
func (vf *verifier) rejectBad() error {
	var bad []string
	for _, s := range vf.v.Signatures {
		if s.Status == SigBad || s.Status == SigRevoked {
			bad = append(bad, s.describe())
		}
	}
	if len(bad) > 0 {
		return vf.p.fail("%s", strings.Join(bad, "; "))
	}
	return nil
}

func (vf *verifier) unsignedError() error {
	var seen []string
	for _, s := range vf.v.Signatures {
		switch {
		case s.Status == SigGood && !s.strong():
			seen = append(seen, fmt.Sprintf("%s by key %s: good, but made with %v, which the template does not accept without insecure", s.what(), s.KeyID, s.Hash))
		default:
			seen = append(seen, s.describe())
		}
	}
	if len(seen) == 0 {
		return vf.p.fail("not signed, and the repository is not marked insecure")
	}
	return vf.p.fail("%s", strings.Join(seen, "; "))
}

// payloadDigests sets up the payload digests the main header carries.
func (vf *verifier) payloadDigests() error {
	h := vf.p.Header
	algo := uint32(rpmutils.HASH_SHA256)
	if h.HasTag(tagPayloadAlgo) {
		a, err := h.GetUint32s(tagPayloadAlgo)
		if err != nil || len(a) != 1 {
			return vf.p.fail("payload digest algorithm tag malformed")
		}
		algo = a[0]
	}
	ph, ok := pgp.HashByID(byte(algo))
	if !ok || algo > 255 || !ph.Available() {
		return vf.p.fail("payload digest algorithm %d not supported", algo)
	}
	for _, d := range []struct {
		tag  int
		hash crypto.Hash
		alt  bool
	}{
		{tagPayloadDigest, ph, false}, {tagPayloadAlt, ph, true},
		{tagPayloadSHA512, crypto.SHA512, false}, {tagPayloadSHA512Alt, crypto.SHA512, true},
		{tagPayloadSHA3, crypto.SHA3_256, false}, {tagPayloadSHA3Alt, crypto.SHA3_256, true},
	} {
		if !h.HasTag(d.tag) {
			continue
		}
		v, err := h.GetStrings(d.tag)
		if err != nil || len(v) < 1 {
			return vf.p.fail("payload digest tag %d malformed", d.tag)
		}
		dg := digest{algo: d.hash, name: hashName(d.hash), want: strings.ToLower(v[0]), h: newHash(d.hash)}
		if d.alt {
			dg.name += " (uncompressed)"
			vf.altSums = append(vf.altSums, dg)
		} else {
			vf.rawSums = append(vf.rawSums, dg)
		}
	}
	return nil
}

func newHash(h crypto.Hash) hash.Hash {
	switch h {
	case crypto.SHA256:
		return sha256.New()
	case crypto.SHA512:
		return sha512.New()
	case crypto.SHA3_256:
		return sha3.New256()
	}
	return h.New()
}

func hashName(h crypto.Hash) string {
	return strings.ToLower(strings.ReplaceAll(h.String(), "SHA-", "sha"))
}

// raw is what the compressed payload is written to.
func (vf *verifier) raw() io.Writer {
	var ws []io.Writer
	for _, d := range vf.rawSums {
		ws = append(ws, d.h)
	}
	for _, h := range vf.legacyH {
		ws = append(ws, h)
	}
	if vf.md5 != nil {
		ws = append(ws, vf.md5)
	}
	if vf.file != nil {
		ws = append(ws, vf.file)
	}
	return io.MultiWriter(ws...)
}

// alt is what the uncompressed payload is written to, nil when nothing
// needs it.
func (vf *verifier) alt() io.Writer {
	if len(vf.altSums) == 0 {
		return nil
	}
	var ws []io.Writer
	for _, d := range vf.altSums {
		ws = append(ws, d.h)
	}
	return io.MultiWriter(ws...)
}

// finish decides once the whole file has been read (and, if alt() was
// not nil, the whole payload decompressed).
func (vf *verifier) finish() (Verdict, error) {
	p := vf.p
	strongPayload := false
	for _, d := range append(append([]digest(nil), vf.rawSums...), vf.altSums...) {
		if got := hex.EncodeToString(d.h.Sum(nil)); got != d.want {
			return vf.v, p.fail("payload %s digest mismatch: the payload was altered", d.name)
		}
		vf.v.PayloadDigests = append(vf.v.PayloadDigests, d.name)
		strongPayload = strongPayload || strongHash(d.algo)
	}
	if vf.md5 != nil {
		if got := vf.md5.Sum(nil); string(got) != string(vf.md5Want) {
			return vf.v, p.fail("header+payload md5 digest mismatch: the package was altered")
		}
		vf.v.PayloadDigests = append(vf.v.PayloadDigests, "md5 (header+payload)")
	}
	for i := range vf.legacy {
		s := &vf.legacy[i]
		s.check(vf.legacyH[i])
		vf.v.Signatures = append(vf.v.Signatures, s.Signature)
	}
	if err := vf.rejectBad(); err != nil {
		return vf.v, err
	}
	if vf.file != nil {
		if got := hex.EncodeToString(vf.file.Sum(nil)); got != strings.ToLower(vf.opts.SHA256) {
			return vf.v, p.fail("sha256 %s does not match the repository metadata's %s", got, vf.opts.SHA256)
		}
		vf.v.FileSHA256 = true
	}
	signed := false
	strongSig := false
	for _, s := range vf.v.Signatures {
		if s.Status != SigGood {
			continue
		}
		if !s.strong() && !vf.opts.AllowWeakDigests {
			continue
		}
		signed = true
		vf.v.Signers = appendUnique(vf.v.Signers, s.Fingerprint)
		if s.strong() {
			strongSig = true
			if !s.HeaderOnly() {
				strongPayload = true
			}
		}
	}
	if vf.opts.RequireSignature && !signed {
		return vf.v, vf.unsignedError()
	}
	// Integrity: header and payload each need SHA-256 or better
	// somewhere, unless the whole file matched verified metadata.
	strongHdr := vf.strongHdr || strongSig
	if !vf.v.FileSHA256 && !(strongHdr && strongPayload) {
		if !vf.opts.AllowWeakDigests {
			what := "payload"
			if !strongHdr {
				what = "header"
			}
			return vf.v, p.fail("its %s is protected by MD5 or SHA-1 only (digests: header %v, payload %v); only a template marked insecure accepts that",
				what, orNone(vf.v.HeaderDigests), orNone(vf.v.PayloadDigests))
		}
		vf.v.Weak = true
	}
	return vf.v, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// Verify checks the package against opts without extracting it: the
// header signatures and digests, then the payload digests, the
// header+payload signatures and the file checksum over the rest of the
// file (decompressing it only when an uncompressed-payload digest is the
// one the header has).
func (p *Package) Verify(ctx context.Context, opts Options) (Verdict, error) {
	vf, err := p.newVerifier(opts)
	if err != nil {
		if vf != nil {
			return vf.v, err
		}
		return Verdict{}, err
	}
	f, err := os.Open(p.Path)
	if err != nil {
		return vf.v, fmt.Errorf("rpm: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(p.payloadOff, io.SeekStart); err != nil {
		return vf.v, fmt.Errorf("rpm: %s: %w", p.base(), err)
	}
	raw := io.TeeReader(ctxReader{ctx, f}, vf.raw())
	if alt := vf.alt(); alt != nil && len(vf.rawSums) == 0 {
		d, err := decompress(p.Compressor, bufio.NewReaderSize(raw, 64<<10))
		if err != nil {
			return vf.v, fmt.Errorf("rpm: %s: payload: %w", p.base(), err)
		}
		_, err = io.Copy(alt, io.LimitReader(d, vf.maxPayload()+1))
		d.Close()
		if err != nil {
			return vf.v, fmt.Errorf("rpm: %s: payload: %w", p.base(), err)
		}
	} else {
		vf.altSums = nil // not computed: the compressed digest decides
	}
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return vf.v, fmt.Errorf("rpm: %s: %w", p.base(), err)
	}
	return vf.finish()
}

func (vf *verifier) maxPayload() int64 {
	if vf.opts.MaxPayloadBytes > 0 {
		return vf.opts.MaxPayloadBytes
	}
	return defaultMaxPayload
}

// ctxReader stops a long read when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
