package pgp

import (
	"bytes"
	"crypto"
	"crypto/dsa" //nolint:staticcheck // DSA keys sign the v3 signatures of old repositories and packages
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

// One signature packet, checked while the signed data streams past: RPM
// packages carry their signatures apart from the data they cover (the
// header, or the header and a payload of gigabytes), so installer/rpm
// cannot hand whole messages to Verify*. Version 3 packets (RFC 4880
// 5.2.2), which go-crypto no longer reads and which old repositories
// (repomd.xml.asc of openSUSE 10 and 11, CentOS 5) and most EL and Fedora
// packages up to EL8 and F33 carry, are parsed here and checked with the
// key go-crypto parsed, through crypto/rsa and crypto/dsa; v4 and v6
// packets are go-crypto's.

// KeySource finds the public keys (primary keys and subkeys) with a key
// ID. *Keyring and openpgp.EntityList have this method.
type KeySource interface {
	KeysById(id uint64) []openpgp.Key
}

// SignaturePacket is one parsed OpenPGP signature packet.
type SignaturePacket struct {
	Version int    // 3, 4 or 6
	KeyID   uint64 // issuer key ID, 0 when the packet names none
	Hash    crypto.Hash
	Created time.Time
	SigType packet.SignatureType

	v3 *sigV3
	v4 *packet.Signature
}

// sigV3 holds the fields of a version 3 packet that its check needs.
type sigV3 struct {
	sigType byte
	created uint32
	pkAlgo  packet.PublicKeyAlgorithm
	left16  [2]byte
	mpis    []*big.Int
}

// hashByID maps OpenPGP hash algorithm IDs (RFC 9580 9.5), which rpm
// also uses for its digests, to Go's.
var hashByID = map[byte]crypto.Hash{
	1: crypto.MD5, 2: crypto.SHA1, 3: crypto.RIPEMD160, 8: crypto.SHA256,
	9: crypto.SHA384, 10: crypto.SHA512, 11: crypto.SHA224, 12: crypto.SHA3_256, 14: crypto.SHA3_512,
}

// HashByID returns the hash an OpenPGP hash algorithm ID names.
func HashByID(id byte) (crypto.Hash, bool) {
	h, ok := hashByID[id]
	return h, ok
}

// ParseSignaturePacket reads one signature packet; blob must be exactly
// that packet. A v6 packet that names its issuer by fingerprint only gets
// the fingerprint's first 8 bytes as KeyID, which is a v6 key's ID.
func ParseSignaturePacket(blob []byte) (*SignaturePacket, error) {
	body, err := packetBody(blob)
	if err != nil {
		return nil, err
	}
	if len(body) > 0 && body[0] == 3 {
		return parseV3(body)
	}
	p, err := packet.Read(bytes.NewReader(blob))
	if err != nil {
		return nil, err
	}
	sig, ok := p.(*packet.Signature)
	if !ok {
		return nil, fmt.Errorf("not a signature packet (%T)", p)
	}
	sp := &SignaturePacket{Version: sig.Version, Hash: sig.Hash, Created: sig.CreationTime, SigType: sig.SigType, v4: sig}
	if sig.IssuerKeyId != nil {
		sp.KeyID = *sig.IssuerKeyId
	} else if len(sig.IssuerFingerprint) >= 8 {
		sp.KeyID = binary.BigEndian.Uint64(sig.IssuerFingerprint[:8])
	}
	return sp, nil
}

// Signer finds the key that made sp among keys: the first one with its
// key ID (and its fingerprint, when sp names one) that may sign. A key
// whose self-signature gives usage flags must be allowed to sign; old
// keys without flags are taken as signing keys. It returns
// pgperrors.ErrUnknownIssuer when there is none, and the key with
// pgperrors.ErrKeyRevoked when it or its primary key is revoked at now.
// Expiry is not looked at: that is the caller's policy (rpm keeps a
// package signed while its key was valid verifiable).
func (sp *SignaturePacket) Signer(keys KeySource, now time.Time) (openpgp.Key, error) {
	for _, k := range keys.KeysById(sp.KeyID) {
		if sp.v4 != nil && !sp.v4.CheckKeyIdOrFingerprint(k.PublicKey) {
			continue
		}
		if k.SelfSignature != nil && k.SelfSignature.FlagsValid && !k.SelfSignature.FlagSign {
			continue
		}
		if k.Revoked(now) || k.Entity.Revoked(now) {
			return k, pgperrors.ErrKeyRevoked
		}
		return k, nil
	}
	return openpgp.Key{}, pgperrors.ErrUnknownIssuer
}

// NewHash returns the hash to write the signed data to, then to give to
// Verify.
func (sp *SignaturePacket) NewHash() (hash.Hash, error) {
	if sp.v4 != nil {
		return sp.v4.PrepareVerify()
	}
	if !sp.Hash.Available() {
		return nil, pgperrors.UnsupportedError(fmt.Sprintf("hash algorithm %v not available", sp.Hash))
	}
	return sp.Hash.New(), nil
}

// Verify checks sp with key, h (from NewHash) having been fed the signed
// data. A signature that does not verify is a pgperrors.SignatureError.
func (sp *SignaturePacket) Verify(h hash.Hash, key *packet.PublicKey) error {
	if sp.v4 != nil {
		return key.VerifySignature(h, sp.v4)
	}
	return sp.verifyV3(h, key)
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

// parseV3 reads a v3 packet body: version, hashed length (5), type,
// creation time, key ID, algorithms, hash prefix, then the MPIs of an RSA
// or DSA signature and nothing else.
func parseV3(b []byte) (*SignaturePacket, error) {
	if len(b) < 19 || b[1] != 5 {
		return nil, errors.New("malformed v3 signature packet")
	}
	v3 := &sigV3{sigType: b[2], created: binary.BigEndian.Uint32(b[3:7]), pkAlgo: packet.PublicKeyAlgorithm(b[15])}
	sp := &SignaturePacket{
		Version: 3,
		SigType: packet.SignatureType(b[2]),
		Created: time.Unix(int64(v3.created), 0).UTC(),
		KeyID:   binary.BigEndian.Uint64(b[7:15]),
		v3:      v3,
	}
	h, ok := hashByID[b[16]]
	if !ok {
		return nil, fmt.Errorf("v3 signature: unknown hash algorithm %d", b[16])
	}
	sp.Hash = h
	copy(v3.left16[:], b[17:19])
	rest := b[19:]
	want := 0
	switch v3.pkAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		want = 1
	case packet.PubKeyAlgoDSA:
		want = 2
	default:
		return nil, fmt.Errorf("v3 signature: public key algorithm %d not supported", v3.pkAlgo)
	}
	for range want {
		if len(rest) < 2 {
			return nil, errors.New("v3 signature: truncated MPI")
		}
		n := (int(binary.BigEndian.Uint16(rest)) + 7) / 8
		if len(rest) < 2+n {
			return nil, errors.New("v3 signature: truncated MPI")
		}
		v3.mpis = append(v3.mpis, new(big.Int).SetBytes(rest[2:2+n]))
		rest = rest[2+n:]
	}
	if len(rest) != 0 {
		return nil, errors.New("v3 signature: trailing data")
	}
	return sp, nil
}

// verifyV3 checks a v3 signature: the hash covers the data, then the
// signature type and creation time (RFC 4880 section 5.2.4).
func (sp *SignaturePacket) verifyV3(h hash.Hash, pk *packet.PublicKey) error {
	s := sp.v3
	if pk.PubKeyAlgo != s.pkAlgo && !(isRSA(pk.PubKeyAlgo) && isRSA(s.pkAlgo)) {
		return pgperrors.SignatureError("public key and signature use different algorithms")
	}
	var trailer [5]byte
	trailer[0] = s.sigType
	binary.BigEndian.PutUint32(trailer[1:], s.created)
	h.Write(trailer[:])
	digest := h.Sum(nil)
	if digest[0] != s.left16[0] || digest[1] != s.left16[1] {
		return pgperrors.SignatureError("hash tag doesn't match")
	}
	switch pub := pk.PublicKey.(type) {
	case *rsa.PublicKey:
		if s.mpis[0].BitLen() > pub.N.BitLen() {
			return pgperrors.SignatureError("RSA signature longer than the key")
		}
		sig := s.mpis[0].FillBytes(make([]byte, (pub.N.BitLen()+7)/8))
		if err := rsa.VerifyPKCS1v15(pub, sp.Hash, digest, sig); err != nil {
			return pgperrors.SignatureError("RSA verification failure")
		}
	case *dsa.PublicKey:
		if n := (pub.Q.BitLen() + 7) / 8; len(digest) > n {
			digest = digest[:n]
		}
		if !dsa.Verify(pub, digest, s.mpis[0], s.mpis[1]) {
			return pgperrors.SignatureError("DSA verification failure")
		}
	default:
		return pgperrors.UnsupportedError(fmt.Sprintf("v3 signature by a %T key", pk.PublicKey))
	}
	return nil
}

func isRSA(a packet.PublicKeyAlgorithm) bool {
	return a == packet.PubKeyAlgoRSA || a == packet.PubKeyAlgoRSASignOnly
}
