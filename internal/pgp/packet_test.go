package pgp

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"errors"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// newKeyring returns a fresh RSA entity and the public keyring holding it.
func newKeyring(t *testing.T) (*openpgp.Entity, *Keyring) {
	t.Helper()
	e, err := openpgp.NewEntity("stream test", "", "s@vzkit.test", &packet.Config{RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	return e, publicKeyring(t, e)
}

func publicKeyring(t *testing.T, e *openpgp.Entity) *Keyring {
	t.Helper()
	var pub bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	kr, err := ParseKeyring(pub.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// streamVerify checks sp over data written to its hash in two pieces, as
// installer/rpm writes a header and then a payload.
func streamVerify(t *testing.T, sp *SignaturePacket, key openpgp.Key, data []byte) error {
	t.Helper()
	h, err := sp.NewHash()
	if err != nil {
		t.Fatal(err)
	}
	h.Write(data[:len(data)/2])
	h.Write(data[len(data)/2:])
	return sp.Verify(h, key.PublicKey)
}

// The streaming API reads v3 and v4 packets alike and verifies them over
// data fed piecewise; other data is a signature error.
func TestSignaturePacketStreaming(t *testing.T) {
	e, kr := newKeyring(t)
	data := []byte("header bytes, then a payload of many megabytes\n")
	created := time.Unix(1700000000, 0)
	var v4 bytes.Buffer
	if err := openpgp.DetachSign(&v4, e, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		blob    []byte
		version int
		hash    crypto.Hash
	}{
		{"v3", v3RSASig(t, e.PrivateKey.PrivateKey.(*rsa.PrivateKey), e.PrimaryKey.KeyId, data, created), 3, crypto.SHA256},
		{"v4", v4.Bytes(), 4, crypto.SHA256},
	} {
		sp, err := ParseSignaturePacket(tc.blob)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if sp.Version != tc.version || sp.KeyID != e.PrimaryKey.KeyId || sp.Hash != tc.hash || sp.SigType != packet.SigTypeBinary || sp.Created.IsZero() {
			t.Errorf("%s: parsed %+v", tc.name, sp)
		}
		if tc.version == 3 && !sp.Created.Equal(created) {
			t.Errorf("v3 created %v, want %v", sp.Created, created)
		}
		key, err := sp.Signer(kr, time.Now())
		if err != nil || !bytes.Equal(key.Entity.PrimaryKey.Fingerprint, e.PrimaryKey.Fingerprint) {
			t.Fatalf("%s: Signer: %v", tc.name, err)
		}
		if err := streamVerify(t, sp, key, data); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		var sigErr pgperrors.SignatureError
		if err := streamVerify(t, sp, key, append([]byte("X"), data[1:]...)); !errors.As(err, &sigErr) {
			t.Errorf("%s over other data: %v, want a SignatureError", tc.name, err)
		}
		// The packet must fill the blob: a trailing byte is refused.
		if _, err := ParseSignaturePacket(append(append([]byte(nil), tc.blob...), 0)); err == nil {
			t.Errorf("%s with a trailing byte parsed", tc.name)
		}
		// Another keyring does not know the key.
		_, other := newKeyring(t)
		if _, err := sp.Signer(other, time.Now()); !errors.Is(err, pgperrors.ErrUnknownIssuer) {
			t.Errorf("%s, other keyring: %v", tc.name, err)
		}
	}
}

// Signer passes over a key whose flags forbid signing (an encryption
// subkey, even when the signature is mathematically good) and reports a
// revoked key with the key, so that the caller can name it.
func TestSignerFlagsAndRevocation(t *testing.T) {
	e, kr := newKeyring(t)
	data := []byte("<repomd/>\n")
	sub := e.Subkeys[0]
	if sub.Sig.FlagSign {
		t.Fatal("go-crypto's first subkey may sign; the test wants an encryption-only one")
	}
	sig := v3RSASig(t, sub.PrivateKey.PrivateKey.(*rsa.PrivateKey), sub.PublicKey.KeyId, data, time.Now())
	sp, err := ParseSignaturePacket(sig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Signer(kr, time.Now()); !errors.Is(err, pgperrors.ErrUnknownIssuer) {
		t.Errorf("encryption subkey: %v, want ErrUnknownIssuer", err)
	}
	if _, err := kr.VerifyDetached(data, sig, VerifyOptions{}); !errors.Is(err, ErrNoGoodSignature) {
		t.Errorf("VerifyDetached by an encryption subkey: %v", err)
	}

	good := v3RSASig(t, e.PrivateKey.PrivateKey.(*rsa.PrivateKey), e.PrimaryKey.KeyId, data, time.Now())
	if err := e.RevokeKey(packet.KeyCompromised, "test", nil); err != nil {
		t.Fatal(err)
	}
	revoked := publicKeyring(t, e)
	sp, err = ParseSignaturePacket(good)
	if err != nil {
		t.Fatal(err)
	}
	key, err := sp.Signer(revoked, time.Now())
	if !errors.Is(err, pgperrors.ErrKeyRevoked) || key.Entity == nil {
		t.Errorf("revoked key: %v, %+v", err, key)
	}
	if _, err := revoked.VerifyDetached(data, good, VerifyOptions{}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyDetached by a revoked key: %v", err)
	}
}
