package pgp

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Limits on untrusted input: keyrings and signatures are small; a bigger
// input is an attack or a mistake.
const (
	maxKeyringSize = 16 << 20
	maxSignatures  = 64
)

var (
	// ErrNoGoodSignature: no signature by a key of the keyring verified.
	ErrNoGoodSignature = errors.New("no good signature by a trusted key")
	// ErrBadSignature: a known key's signature failed or the key is revoked.
	ErrBadSignature = errors.New("bad signature by a trusted key")
	// ErrNotPinned: a pinned fingerprint is not in the keyring.
	ErrNotPinned = errors.New("pinned key not found in keyring")
)

// Keyring is a set of public keys trusted to sign repository metadata.
type Keyring struct {
	entities openpgp.EntityList
}

// ParseKeyring reads armored (one or several concatenated blocks) or binary
// public keys.
func ParseKeyring(data []byte) (*Keyring, error) {
	if len(data) > maxKeyringSize {
		return nil, fmt.Errorf("keyring is %d bytes, limit %d", len(data), maxKeyringSize)
	}
	var el openpgp.EntityList
	if i := bytes.Index(data, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")); i >= 0 {
		for _, block := range splitArmor(data[i:]) {
			b, err := armor.Decode(bytes.NewReader(block))
			if err != nil {
				return nil, fmt.Errorf("armored key block: %w", err)
			}
			if b.Type != openpgp.PublicKeyType {
				return nil, fmt.Errorf("armored block is %q, want %q", b.Type, openpgp.PublicKeyType)
			}
			keys, err := openpgp.ReadKeyRing(b.Body)
			if err != nil {
				return nil, fmt.Errorf("armored key block: %w", err)
			}
			el = append(el, keys...)
		}
	} else {
		keys, err := openpgp.ReadKeyRing(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("binary keyring: %w", err)
		}
		el = keys
	}
	if len(el) == 0 {
		return nil, errors.New("no usable public key found")
	}
	for _, e := range el {
		if e.PrivateKey != nil {
			return nil, fmt.Errorf("key %s is a secret key; give the public key only", fingerprint(e))
		}
	}
	return &Keyring{entities: el}, nil
}

// splitArmor cuts concatenated armored blocks apart, since armor.Decode
// reads only the first one.
func splitArmor(data []byte) [][]byte {
	const begin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	var out [][]byte
	for {
		next := bytes.Index(data[1:], []byte(begin))
		if next < 0 {
			return append(out, data)
		}
		out = append(out, data[:next+1])
		data = data[next+1:]
	}
}

// LoadKeyring reads a keyring file that whoever runs vzkit named (it
// follows symlinks); errors name the path. A key file a template names is
// outside data: read it with internal/namedfile and give it to
// ParseKeyring.
func LoadKeyring(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyringSize+1))
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	k, err := ParseKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	return k, nil
}

// Merge returns a keyring holding the keys of both.
func (k *Keyring) Merge(other *Keyring) *Keyring {
	el := append(append(openpgp.EntityList{}, k.entities...), other.entities...)
	return &Keyring{entities: el}
}

// KeysById returns the public keys (primary keys and subkeys) with the
// given key ID: what installer/rpm needs to check package signatures.
// A nil Keyring has no keys.
func (k *Keyring) KeysById(id uint64) []openpgp.Key {
	if k == nil {
		return nil
	}
	return k.entities.KeysById(id)
}

// Armored returns each key, sorted by fingerprint, as an armored public
// key block of its own, for a package manager's key import (rpmkeys
// --import reads one key per file).
func (k *Keyring) Armored() ([][]byte, error) {
	es := append(openpgp.EntityList{}, k.entities...)
	sort.Slice(es, func(i, j int) bool { return fingerprint(es[i]) < fingerprint(es[j]) })
	out := make([][]byte, 0, len(es))
	for _, e := range es {
		var b bytes.Buffer
		w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
		if err != nil {
			return nil, err
		}
		if err := e.Serialize(w); err != nil {
			return nil, fmt.Errorf("key %s: %w", fingerprint(e), err)
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		out = append(out, b.Bytes())
	}
	return out, nil
}

// Fingerprints lists the primary key fingerprints (upper-case hex), sorted.
func (k *Keyring) Fingerprints() []string {
	out := make([]string, 0, len(k.entities))
	for _, e := range k.entities {
		out = append(out, fingerprint(e))
	}
	sort.Strings(out)
	return out
}

// Pin keeps only the keys whose primary fingerprint is listed (spaces,
// "0x" and case are ignored). A listed fingerprint that is not in the
// keyring is an error naming it; dropped keys are logged.
func (k *Keyring) Pin(fingerprints ...string) (*Keyring, error) {
	want := map[string]bool{}
	for _, f := range fingerprints {
		n := NormalizeFingerprint(f)
		if _, err := hex.DecodeString(n); err != nil || (len(n) != 40 && len(n) != 64) {
			return nil, fmt.Errorf("pinned fingerprint %q: not 40 or 64 hex digits", f)
		}
		want[n] = false
	}
	var kept openpgp.EntityList
	for _, e := range k.entities {
		fp := fingerprint(e)
		if _, ok := want[fp]; ok {
			want[fp] = true
			kept = append(kept, e)
		} else {
			slog.Debug("dropping key that is not pinned", "fingerprint", fp)
		}
	}
	var missing []string
	for fp, found := range want {
		if !found {
			missing = append(missing, fp)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("%w: %s", ErrNotPinned, strings.Join(missing, ", "))
	}
	return &Keyring{entities: kept}, nil
}

// NormalizeFingerprint upper-cases a fingerprint and strips spaces and 0x.
func NormalizeFingerprint(s string) string {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	return strings.TrimPrefix(s, "0X")
}

func fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
}

// Status is the verdict on one signature.
type Status int

const (
	Good        Status = iota // verified by a key of the keyring
	UnknownKey                // issuer not in the keyring (ignored)
	Unsupported               // algorithm or packet version not supported (ignored)
	Expired                   // key or signature expired at the check time (ignored)
	Bad                       // known key, verification failed (rejects)
	Revoked                   // known key, revoked (rejects)
)

func (s Status) String() string {
	return [...]string{"good", "unknown key", "unsupported", "expired", "bad", "revoked"}[s]
}

// Signature describes one signature found on the data.
type Signature struct {
	KeyID       string // issuer key ID (16 hex digits), "" when absent
	Fingerprint string // primary key fingerprint when the key is known
	Created     time.Time
	Status      Status
	Err         error // why it is not Good
}

// Verified is the outcome of a successful verification. With an error
// (ErrBadSignature, ErrNoGoodSignature) Verify still returns it, listing
// every signature seen, for reports such as vzpkg inspect: its Signed is
// then trusted by no one.
type Verified struct {
	// Signed is exactly the data the good signatures cover: for a
	// clearsigned message the dash-unescaped text, never text around it.
	Signed     []byte
	Signatures []Signature
}

// Signers returns the fingerprints of the keys with a good signature.
func (v *Verified) Signers() []string {
	var out []string
	for _, s := range v.Signatures {
		if s.Status == Good {
			out = append(out, s.Fingerprint)
		}
	}
	return out
}

// VerifyOptions tune a verification.
type VerifyOptions struct {
	// Now is the time at which key and signature expiry is judged;
	// zero means the current time.
	Now time.Time
}

// VerifyClearsigned checks an InRelease-style clearsigned message and
// returns the signed text only.
func (k *Keyring) VerifyClearsigned(data []byte, opts VerifyOptions) (*Verified, error) {
	block, err := decodeClearsigned(data)
	if err != nil {
		return nil, err
	}
	sigs, err := io.ReadAll(io.LimitReader(block.ArmoredSignature.Body, maxKeyringSize))
	if err != nil {
		return nil, fmt.Errorf("clearsigned message: signature block: %w", err)
	}
	return k.verify(block.Bytes, block.Plaintext, sigs, opts)
}

// VerifyDetached checks a detached signature (armored or binary, e.g.
// Release.gpg) over signed.
func (k *Keyring) VerifyDetached(signed, signature []byte, opts VerifyOptions) (*Verified, error) {
	if t := bytes.TrimLeft(signature, " \t\r\n"); bytes.HasPrefix(t, []byte("-----BEGIN PGP SIGNATURE-----")) {
		b, err := armor.Decode(bytes.NewReader(t))
		if err != nil {
			return nil, fmt.Errorf("armored signature: %w", err)
		}
		if b.Type != openpgp.SignatureType {
			return nil, fmt.Errorf("armored block is %q, want %q", b.Type, openpgp.SignatureType)
		}
		if signature, err = io.ReadAll(io.LimitReader(b.Body, maxKeyringSize)); err != nil {
			return nil, fmt.Errorf("armored signature: %w", err)
		}
	}
	return k.verify(signed, signed, signature, opts)
}

// verify checks each signature packet of sigs over hashed and applies the
// policy of the package documentation.
func (k *Keyring) verify(hashed, plaintext, sigs []byte, opts VerifyOptions) (*Verified, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	cfg := &packet.Config{Time: func() time.Time { return now }}
	packets, err := splitSignatures(sigs)
	if err != nil {
		return nil, err
	}
	v := &Verified{Signed: plaintext}
	var reject []string
	for _, raw := range packets {
		s := Signature{Status: Unsupported}
		if p, err := packet.Read(bytes.NewReader(raw)); err == nil {
			if sp, ok := p.(*packet.Signature); ok {
				s.Created = sp.CreationTime
				if sp.IssuerKeyId != nil {
					s.KeyID = fmt.Sprintf("%016X", *sp.IssuerKeyId)
				}
			}
		}
		var signer *openpgp.Entity
		if isV3(raw) {
			signer, err = k.verifyV3(&s, hashed, raw, now)
		} else {
			_, signer, err = openpgp.VerifyDetachedSignature(k.entities, bytes.NewReader(hashed), bytes.NewReader(raw), cfg)
		}
		if signer != nil {
			s.Fingerprint = fingerprint(signer)
		}
		s.Status, s.Err = classify(err)
		if s.Status == Bad || s.Status == Revoked {
			reject = append(reject, fmt.Sprintf("key %s: %v", firstNonEmpty(s.Fingerprint, s.KeyID), s.Err))
		}
		v.Signatures = append(v.Signatures, s)
	}
	if len(reject) > 0 {
		return v, fmt.Errorf("%w: %s", ErrBadSignature, strings.Join(reject, "; "))
	}
	if len(v.Signers()) == 0 {
		var seen []string
		for _, s := range v.Signatures {
			seen = append(seen, fmt.Sprintf("%s (%s)", firstNonEmpty(s.Fingerprint, s.KeyID, "no issuer"), s.Status))
		}
		return v, fmt.Errorf("%w: signatures: %s", ErrNoGoodSignature, strings.Join(seen, ", "))
	}
	return v, nil
}

// isV3 reports whether raw is a version 3 signature packet, which
// go-crypto no longer reads.
func isV3(raw []byte) bool {
	body, err := packetBody(raw)
	return err == nil && len(body) > 0 && body[0] == 3
}

// v3Hashes are the hashes a v3 signature may use here: those of the old
// repositories that carry them, never MD5.
var v3Hashes = map[crypto.Hash]bool{crypto.SHA1: true, crypto.SHA224: true, crypto.SHA256: true, crypto.SHA384: true, crypto.SHA512: true}

// verifyV3 checks a version 3 signature packet over signed with the
// streaming API of packet.go, recording its key ID and creation time in
// s. Its errors are go-crypto's, for classify; expired keys are passed
// over as go-crypto does for v4 signatures.
func (k *Keyring) verifyV3(s *Signature, signed, raw []byte, now time.Time) (*openpgp.Entity, error) {
	sp, err := ParseSignaturePacket(raw)
	if err != nil {
		return nil, pgperrors.UnsupportedError(err.Error())
	}
	s.KeyID, s.Created = fmt.Sprintf("%016X", sp.KeyID), sp.Created
	if sp.SigType != packet.SigTypeBinary {
		return nil, pgperrors.UnsupportedError(fmt.Sprintf("v3 signature type %#x", sp.SigType))
	}
	if !v3Hashes[sp.Hash] || !sp.Hash.Available() {
		return nil, pgperrors.UnsupportedError(fmt.Sprintf("v3 signature hash %v", sp.Hash))
	}
	key, err := sp.Signer(k, now)
	if err != nil {
		return key.Entity, err
	}
	if key.SelfSignature != nil && key.PublicKey.KeyExpired(key.SelfSignature, now) {
		return key.Entity, pgperrors.ErrKeyExpired
	}
	if ps, _ := key.Entity.PrimarySelfSignature(); ps != nil && key.Entity.PrimaryKey.KeyExpired(ps, now) {
		return key.Entity, pgperrors.ErrKeyExpired
	}
	h, err := sp.NewHash()
	if err != nil {
		return nil, err
	}
	h.Write(signed)
	return key.Entity, sp.Verify(h, key.PublicKey)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func classify(err error) (Status, error) {
	var unsupported pgperrors.UnsupportedError
	var structural pgperrors.StructuralError
	switch {
	case err == nil:
		return Good, nil
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return UnknownKey, err
	case errors.Is(err, pgperrors.ErrKeyExpired), errors.Is(err, pgperrors.ErrSignatureExpired):
		return Expired, err
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return Revoked, err
	case errors.As(err, &unsupported), errors.As(err, &structural):
		// go-crypto reports packets it cannot interpret (unknown
		// algorithm, no issuer) this way before touching any key.
		return Unsupported, err
	default:
		return Bad, err
	}
}

// splitSignatures cuts a binary signature stream into one slice per
// packet, so that each signature is verified on its own.
func splitSignatures(data []byte) ([][]byte, error) {
	var out [][]byte
	r := bytes.NewReader(data)
	for r.Len() > 0 {
		if len(out) == maxSignatures {
			return nil, fmt.Errorf("more than %d signature packets", maxSignatures)
		}
		start := len(data) - r.Len()
		p, err := packet.Read(r)
		end := len(data) - r.Len()
		var unsupported pgperrors.UnsupportedError
		if err != nil && !errors.As(err, &unsupported) {
			return nil, fmt.Errorf("signature packet %d: %w", len(out)+1, err)
		}
		if _, ok := p.(*packet.Signature); !ok && err == nil {
			return nil, fmt.Errorf("signature packet %d: not a signature (%T)", len(out)+1, p)
		}
		out = append(out, data[start:end])
	}
	if len(out) == 0 {
		return nil, errors.New("no signature packet")
	}
	return out, nil
}

// ClearsignedText returns the text of a clearsigned message WITHOUT checking
// its signature, for repositories explicitly marked insecure. The same
// framing rules as VerifyClearsigned apply.
func ClearsignedText(data []byte) ([]byte, error) {
	block, err := decodeClearsigned(data)
	if err != nil {
		return nil, err
	}
	return block.Plaintext, nil
}

func decodeClearsigned(data []byte) (*clearsign.Block, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		return nil, errors.New("not a clearsigned message: data before BEGIN PGP SIGNED MESSAGE")
	}
	block, rest := clearsign.Decode(trimmed)
	if block == nil {
		return nil, errors.New("malformed clearsigned message")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("malformed clearsigned message: data after the signature")
	}
	return block, nil
}
