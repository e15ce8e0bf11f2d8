package rpm

import (
	"crypto"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/vzkit/vzkit/internal/pgp"
)

// Keys is the template's keyring as package verification needs it: the
// public keys (primary keys and subkeys) with a given key ID.
// *pgp.Keyring and openpgp.EntityList have this method.
type Keys = pgp.KeySource

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

// pgpSig is a signature of the package with its parsed packet, v3
// (which go-crypto no longer reads, and which most EL and Fedora packages
// up to EL8 and F33 carry) or v4/v6; internal/pgp parses and checks both.
type pgpSig struct {
	Signature
	sp  *pgp.SignaturePacket
	key openpgp.Key
}

// parseSig reads one signature packet (the whole blob must be it) and
// looks its key up. The result's Status is SigUnsupported or
// SigUnknownKey when it cannot be checked, SigGood before the check
// otherwise (check decides).
func parseSig(tag int, blob []byte, keys Keys) pgpSig {
	s := pgpSig{Signature: Signature{Tag: tag, Status: SigUnsupported}}
	sp, err := pgp.ParseSignaturePacket(blob)
	if err != nil {
		s.Err = err
		return s
	}
	s.sp, s.Version, s.Hash, s.Created = sp, sp.Version, sp.Hash, sp.Created
	if sp.SigType != packet.SigTypeBinary {
		s.Err = fmt.Errorf("signature type %#x, want a binary document signature", sp.SigType)
		return s
	}
	if sp.KeyID != 0 {
		s.KeyID = fmt.Sprintf("%016X", sp.KeyID)
	}
	if !s.Hash.Available() {
		s.Err = fmt.Errorf("hash algorithm %v not available", s.Hash)
		return s
	}
	if keys == nil {
		s.Status, s.Err = SigUnknownKey, errors.New("no keyring")
		return s
	}
	k, err := sp.Signer(keys, time.Now())
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		s.Status, s.Err = SigUnknownKey, err
		return s
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		s.Status, s.Err = SigRevoked, errors.New("the key is revoked")
	case err != nil:
		s.Err = err
		return s
	default:
		s.Status, s.Err = SigGood, nil
	}
	s.key = k
	s.Fingerprint = fmt.Sprintf("%X", k.Entity.PrimaryKey.Fingerprint)
	return s
}

// hasher returns the hash to feed the signed data into.
func (s *pgpSig) hasher() (hash.Hash, error) { return s.sp.NewHash() }

// check finishes the verification of a signature whose key is known, h
// having been fed the signed data, and sets Status and Err.
func (s *pgpSig) check(h hash.Hash) {
	if s.Status != SigGood {
		return
	}
	if err := s.sp.Verify(h, s.key.PublicKey); err != nil {
		s.Status, s.Err = SigBad, err
	}
}
