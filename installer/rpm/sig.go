package rpm

import (
	"bytes"
	"crypto"
	"crypto/dsa"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Keys is the template's keyring as package verification needs it: the
// public keys (primary keys and subkeys) with a given key ID.
// openpgp.EntityList has this method.
type Keys interface {
	KeysById(id uint64) []openpgp.Key
}

// SigStatus is the verdict on one signature in a package.
type SigStatus int

const (
	SigGood        SigStatus = iota // verified by a key of the keyring
	SigUnknownKey                   // issuer not in the keyring (ignored)
	SigUnsupported                  // algorithm or packet version not supported (ignored)
	SigBad                          // known key, verification failed (rejects)
	SigRevoked                      // known key, revoked (rejects)
)

func (s SigStatus) String() string {
	return [...]string{"good", "no such key in the template's keyring", "unsupported", "BAD", "revoked key"}[s]
}

// Signature is one OpenPGP signature found in a package.
type Signature struct {
	// Tag is where it was found: 267 DSAHEADER, 268 RSAHEADER, 278
	// OPENPGP (header only) or 1002 PGP, 1005 GPG (header and payload).
	Tag         int
	KeyID       string // issuer key ID, 16 hex digits ("" when absent)
	Fingerprint string // primary key fingerprint when the key is known
	Hash        crypto.Hash
	Version     int // OpenPGP signature packet version: 3, 4 or 6
	Created     time.Time
	Status      SigStatus
	Err         error // why it is not good
}

// HeaderOnly reports whether the signature covers the main header only;
// otherwise it covers the header and the compressed payload.
func (s Signature) HeaderOnly() bool { return s.Tag != tagSigPGP && s.Tag != tagSigGPG }

func (s Signature) what() string {
	if s.HeaderOnly() {
		return "header signature"
	}
	return "header+payload signature"
}

// describe is the signature in an error message: "header signature by
// key 4344591E1964C5FC: no such key in the template's keyring".
func (s Signature) describe() string {
	id := s.KeyID
	if id == "" {
		id = "(no issuer)"
	}
	msg := fmt.Sprintf("%s by key %s: %s", s.what(), id, s.Status)
	if s.Err != nil && s.Status != SigUnknownKey {
		msg += fmt.Sprintf(" (%v)", s.Err)
	}
	return msg
}

// strong reports whether a good signature's hash is at least SHA-256.
func (s Signature) strong() bool { return strongHash(s.Hash) }

func strongHash(h crypto.Hash) bool {
	switch h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA3_256, crypto.SHA3_512:
		return true
	}
	return false
}

// pgpSig is a parsed signature packet, v3 (which go-crypto no longer
// reads, and which most EL and Fedora packages up to EL8 and F33 carry) or
// v4/v6 (go-crypto).
type pgpSig struct {
	Signature
	v3  *sigV3
	v4  *packet.Signature
	key openpgp.Key
}

// sigV3 is an RFC 4880 section 5.2.2 version 3 signature packet.
type sigV3 struct {
	sigType byte
	created uint32
	keyID   uint64
	pkAlgo  packet.PublicKeyAlgorithm
	hash    crypto.Hash
	left16  [2]byte
	mpis    []*big.Int
}

var hashByID = map[byte]crypto.Hash{
	1: crypto.MD5, 2: crypto.SHA1, 3: crypto.RIPEMD160, 8: crypto.SHA256,
	9: crypto.SHA384, 10: crypto.SHA512, 11: crypto.SHA224, 12: crypto.SHA3_256, 14: crypto.SHA3_512,
}

// parseSig reads one signature packet (the whole blob must be it) and
// looks its key up. The result's Status is SigUnsupported or
// SigUnknownKey when it cannot be checked, SigGood before the check
// otherwise (check decides).
func parseSig(tag int, blob []byte, keys Keys) pgpSig {
	s := pgpSig{Signature: Signature{Tag: tag, Status: SigUnsupported}}
	body, err := packetBody(blob)
	if err != nil {
		s.Err = err
		return s
	}
	var keyID uint64
	if len(body) > 0 && body[0] == 3 {
		v3, err := parseV3(body)
		if err != nil {
			s.Err = err
			return s
		}
		s.v3, s.Version, s.Hash, keyID = v3, 3, v3.hash, v3.keyID
		s.Created = time.Unix(int64(v3.created), 0).UTC()
	} else {
		p, err := packet.Read(bytes.NewReader(blob))
		if err != nil {
			s.Err = err
			return s
		}
		sp, ok := p.(*packet.Signature)
		if !ok {
			s.Err = fmt.Errorf("not a signature packet (%T)", p)
			return s
		}
		s.v4, s.Version, s.Hash, s.Created = sp, sp.Version, sp.Hash, sp.CreationTime
		if sp.IssuerKeyId != nil {
			keyID = *sp.IssuerKeyId
		} else if n := len(sp.IssuerFingerprint); n >= 8 {
			// v6 signatures name the issuer by fingerprint only; a v6
			// key ID is its first 8 bytes.
			keyID = binary.BigEndian.Uint64(sp.IssuerFingerprint[:8])
		}
		if sp.SigType != packet.SigTypeBinary {
			s.Err = fmt.Errorf("signature type %#x, want a binary document signature", sp.SigType)
			return s
		}
	}
	if keyID != 0 {
		s.KeyID = fmt.Sprintf("%016X", keyID)
	}
	if !s.Hash.Available() {
		s.Err = fmt.Errorf("hash algorithm %v not available", s.Hash)
		return s
	}
	if keys == nil {
		s.Status, s.Err = SigUnknownKey, errors.New("no keyring")
		return s
	}
	for _, k := range keys.KeysById(keyID) {
		if s.v4 != nil && !s.v4.CheckKeyIdOrFingerprint(k.PublicKey) {
			continue
		}
		// A key whose self-signature gives usage flags must be allowed to
		// sign; old keys without flags are taken as signing keys.
		if k.SelfSignature != nil && k.SelfSignature.FlagsValid && !k.SelfSignature.FlagSign {
			continue
		}
		s.key = k
		s.Fingerprint = fmt.Sprintf("%X", k.Entity.PrimaryKey.Fingerprint)
		if k.Revoked(time.Now()) || k.Entity.Revoked(time.Now()) {
			s.Status, s.Err = SigRevoked, errors.New("the key is revoked")
			return s
		}
		s.Status, s.Err = SigGood, nil
		return s
	}
	s.Status, s.Err = SigUnknownKey, pgperrors.ErrUnknownIssuer
	return s
}

// hasher returns the hash to feed the signed data into.
func (s *pgpSig) hasher() (hash.Hash, error) {
	if s.v4 != nil {
		return s.v4.PrepareVerify()
	}
	return s.Hash.New(), nil
}

// check finishes the verification of a signature whose key is known, h
// having been fed the signed data, and sets Status and Err.
func (s *pgpSig) check(h hash.Hash) {
	if s.Status != SigGood {
		return
	}
	var err error
	if s.v4 != nil {
		err = s.key.PublicKey.VerifySignature(h, s.v4)
	} else {
		err = s.v3.verify(h, s.key.PublicKey)
	}
	if err != nil {
		s.Status, s.Err = SigBad, err
	}
}

// packetBody returns the body of the one OpenPGP packet in blob, which
// must be a signature packet (tag 2) filling blob exactly.
func packetBody(blob []byte) ([]byte, error) {
	if len(blob) < 2 || blob[0]&0x80 == 0 {
		return nil, errors.New("not an OpenPGP packet")
	}
	var tag byte
	var n, hdr int
	if blob[0]&0x40 != 0 { // new format
		tag = blob[0] & 0x3f
		switch l := blob[1]; {
		case l < 192:
			n, hdr = int(l), 2
		case l < 224:
			if len(blob) < 3 {
				return nil, errors.New("truncated packet header")
			}
			n, hdr = (int(l)-192)<<8+int(blob[2])+192, 3
		case l == 255:
			if len(blob) < 6 {
				return nil, errors.New("truncated packet header")
			}
			n, hdr = int(binary.BigEndian.Uint32(blob[2:6])), 6
		default:
			return nil, errors.New("partial body length in a signature packet")
		}
	} else {
		tag = (blob[0] >> 2) & 0xf
		switch blob[0] & 3 {
		case 0:
			n, hdr = int(blob[1]), 2
		case 1:
			if len(blob) < 3 {
				return nil, errors.New("truncated packet header")
			}
			n, hdr = int(binary.BigEndian.Uint16(blob[1:3])), 3
		case 2:
			if len(blob) < 5 {
				return nil, errors.New("truncated packet header")
			}
			n, hdr = int(binary.BigEndian.Uint32(blob[1:5])), 5
		default:
			n, hdr = len(blob)-1, 1
		}
	}
	if tag != 2 {
		return nil, fmt.Errorf("OpenPGP packet tag %d, want a signature (2)", tag)
	}
	if n < 0 || hdr+n != len(blob) {
		return nil, fmt.Errorf("signature packet of %d bytes in a %d-byte blob", n, len(blob)-hdr)
	}
	return blob[hdr:], nil
}

func parseV3(b []byte) (*sigV3, error) {
	if len(b) < 19 || b[1] != 5 {
		return nil, errors.New("malformed v3 signature packet")
	}
	s := &sigV3{
		sigType: b[2],
		created: binary.BigEndian.Uint32(b[3:7]),
		keyID:   binary.BigEndian.Uint64(b[7:15]),
		pkAlgo:  packet.PublicKeyAlgorithm(b[15]),
	}
	h, ok := hashByID[b[16]]
	if !ok {
		return nil, fmt.Errorf("v3 signature: unknown hash algorithm %d", b[16])
	}
	s.hash = h
	copy(s.left16[:], b[17:19])
	if s.sigType != 0 {
		return nil, fmt.Errorf("v3 signature type %#x, want a binary document signature", s.sigType)
	}
	rest := b[19:]
	want := 0
	switch s.pkAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		want = 1
	case packet.PubKeyAlgoDSA:
		want = 2
	default:
		return nil, fmt.Errorf("v3 signature: public key algorithm %d not supported", s.pkAlgo)
	}
	for range want {
		if len(rest) < 2 {
			return nil, errors.New("v3 signature: truncated MPI")
		}
		bits := int(binary.BigEndian.Uint16(rest))
		n := (bits + 7) / 8
		if len(rest) < 2+n {
			return nil, errors.New("v3 signature: truncated MPI")
		}
		s.mpis = append(s.mpis, new(big.Int).SetBytes(rest[2:2+n]))
		rest = rest[2+n:]
	}
	if len(rest) != 0 {
		return nil, errors.New("v3 signature: trailing data")
	}
	return s, nil
}

// verify checks a v3 signature: the hash covers the data, then the
// signature type and creation time (RFC 4880 section 5.2.4).
func (s *sigV3) verify(h hash.Hash, pk *packet.PublicKey) error {
	if pk.PubKeyAlgo != s.pkAlgo &&
		!(isRSA(pk.PubKeyAlgo) && isRSA(s.pkAlgo)) {
		return errors.New("public key and signature use different algorithms")
	}
	var trailer [5]byte
	trailer[0] = s.sigType
	binary.BigEndian.PutUint32(trailer[1:], s.created)
	h.Write(trailer[:])
	digest := h.Sum(nil)
	if digest[0] != s.left16[0] || digest[1] != s.left16[1] {
		return errors.New("hash tag doesn't match")
	}
	switch pub := pk.PublicKey.(type) {
	case *rsa.PublicKey:
		if s.mpis[0].BitLen() > pub.N.BitLen() {
			return errors.New("RSA signature longer than the key")
		}
		sig := s.mpis[0].FillBytes(make([]byte, (pub.N.BitLen()+7)/8))
		if err := rsa.VerifyPKCS1v15(pub, s.hash, digest, sig); err != nil {
			return errors.New("RSA verification failure")
		}
	case *dsa.PublicKey:
		if n := (pub.Q.BitLen() + 7) / 8; len(digest) > n {
			digest = digest[:n]
		}
		if !dsa.Verify(pub, digest, s.mpis[0], s.mpis[1]) {
			return errors.New("DSA verification failure")
		}
	default:
		return fmt.Errorf("key type %T for a v3 signature", pk.PublicKey)
	}
	return nil
}

func isRSA(a packet.PublicKeyAlgorithm) bool {
	return a == packet.PubKeyAlgoRSA || a == packet.PubKeyAlgoRSASignOnly
}
