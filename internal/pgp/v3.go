package pgp

import (
	"bytes"
	"crypto"
	"crypto/dsa" //nolint:staticcheck // DSA keys sign the v3 signatures of old repositories
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Version 3 signature packets (RFC 4880 5.2.2) are what old repositories
// carry: the DSA-signed repomd.xml.asc of openSUSE 10 and 11, CentOS 5.
// go-crypto no longer reads them, so the packet's fixed fields are parsed
// here and the digest is checked with the key go-crypto parsed, through
// crypto/rsa and crypto/dsa. Only binary-document signatures (type 0x00)
// over SHA-1 or SHA-2 are accepted.

// v3Body returns the body of a signature packet when it is version 3.
func v3Body(raw []byte) ([]byte, bool) {
	if len(raw) < 2 {
		return nil, false
	}
	tag := raw[0]
	var body []byte
	switch {
	case tag&0xc0 == 0x80: // old format: tag in bits 5-2, length type in 1-0
		if (tag>>2)&0x0f != 2 {
			return nil, false
		}
		switch tag & 3 {
		case 0:
			body = raw[2:]
		case 1:
			if len(raw) < 3 {
				return nil, false
			}
			body = raw[3:]
		case 2:
			if len(raw) < 5 {
				return nil, false
			}
			body = raw[5:]
		default:
			return nil, false
		}
	case tag == 0xc2: // new format, tag 2
		switch l := raw[1]; {
		case l < 192:
			body = raw[2:]
		case l < 224:
			if len(raw) < 3 {
				return nil, false
			}
			body = raw[3:]
		case l == 255:
			if len(raw) < 6 {
				return nil, false
			}
			body = raw[6:]
		default:
			return nil, false
		}
	default:
		return nil, false
	}
	return body, len(body) > 0 && body[0] == 3
}

var v3Hashes = map[byte]crypto.Hash{2: crypto.SHA1, 8: crypto.SHA256, 9: crypto.SHA384, 10: crypto.SHA512, 11: crypto.SHA224}

// readMPI reads one multiprecision integer.
func readMPI(b []byte) (*big.Int, []byte, error) {
	if len(b) < 2 {
		return nil, nil, errors.New("truncated MPI")
	}
	n := (int(binary.BigEndian.Uint16(b)) + 7) / 8
	if len(b) < 2+n {
		return nil, nil, errors.New("truncated MPI")
	}
	return new(big.Int).SetBytes(b[2 : 2+n]), b[2+n:], nil
}

// verifyV3 checks one v3 signature packet body over signed. Its result is
// classified like go-crypto's.
func verifyV3(entities openpgp.EntityList, signed, body []byte, now time.Time) (Signature, *openpgp.Entity, error) {
	s := Signature{}
	// version, hashed length (5), type, creation time, key ID, algorithms, hash prefix
	if len(body) < 19 || body[1] != 5 {
		return s, nil, pgperrors.UnsupportedError("malformed v3 signature packet")
	}
	sigType, hashed := body[2], body[2:7]
	s.Created = time.Unix(int64(binary.BigEndian.Uint32(body[3:7])), 0)
	keyID := binary.BigEndian.Uint64(body[7:15])
	s.KeyID = fmt.Sprintf("%016X", keyID)
	algo, hashID, prefix, mpis := packet.PublicKeyAlgorithm(body[15]), body[16], body[17:19], body[19:]
	if sigType != 0x00 {
		return s, nil, pgperrors.UnsupportedError(fmt.Sprintf("v3 signature type %#x", sigType))
	}
	h, ok := v3Hashes[hashID]
	if !ok || !h.Available() {
		return s, nil, pgperrors.UnsupportedError(fmt.Sprintf("v3 signature hash %d", hashID))
	}
	// Keys of that era often carry no key-flags subpacket: those may sign;
	// a key whose flags say it may not is passed over.
	var keys []openpgp.Key
	for _, k := range entities.KeysById(keyID) {
		if k.SelfSignature != nil && (!k.SelfSignature.FlagsValid || k.SelfSignature.FlagSign) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return s, nil, pgperrors.ErrUnknownIssuer
	}
	d := h.New()
	d.Write(signed)
	d.Write(hashed)
	digest := d.Sum(nil)
	var lastErr error
	for _, k := range keys {
		if k.Entity.Revoked(now) || k.Revoked(now) {
			return s, k.Entity, pgperrors.ErrKeyRevoked
		}
		if ps := primarySig(k.Entity); k.PublicKey.KeyExpired(k.SelfSignature, now) || ps != nil && k.Entity.PrimaryKey.KeyExpired(ps, now) {
			lastErr = pgperrors.ErrKeyExpired
			continue
		}
		if k.PublicKey.PubKeyAlgo != algo {
			lastErr = pgperrors.SignatureError("public key and signature use different algorithms")
			continue
		}
		if !bytes.Equal(prefix, digest[:2]) {
			return s, k.Entity, pgperrors.SignatureError("hash tag doesn't match")
		}
		switch pub := k.PublicKey.PublicKey.(type) {
		case *rsa.PublicKey:
			m, _, err := readMPI(mpis)
			if err != nil {
				return s, k.Entity, pgperrors.SignatureError(err.Error())
			}
			sig := m.FillBytes(make([]byte, (pub.N.BitLen()+7)/8))
			if len(m.Bytes()) > len(sig) {
				return s, k.Entity, pgperrors.SignatureError("RSA signature longer than the key")
			}
			if err := rsa.VerifyPKCS1v15(pub, h, digest, sig); err != nil {
				return s, k.Entity, pgperrors.SignatureError("RSA verification failure")
			}
			return s, k.Entity, nil
		case *dsa.PublicKey:
			r, rest, err := readMPI(mpis)
			if err != nil {
				return s, k.Entity, pgperrors.SignatureError(err.Error())
			}
			sv, _, err := readMPI(rest)
			if err != nil {
				return s, k.Entity, pgperrors.SignatureError(err.Error())
			}
			if n := (pub.Q.BitLen() + 7) / 8; len(digest) > n {
				digest = digest[:n]
			}
			if !dsa.Verify(pub, digest, r, sv) {
				return s, k.Entity, pgperrors.SignatureError("DSA verification failure")
			}
			return s, k.Entity, nil
		default:
			lastErr = pgperrors.UnsupportedError(fmt.Sprintf("v3 signature by a %T key", pub))
		}
	}
	return s, keys[0].Entity, lastErr
}

func primarySig(e *openpgp.Entity) *packet.Signature {
	sig, _ := e.PrimarySelfSignature()
	return sig
}
