package pgp

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Old openSUSE repositories sign repomd.xml with v3 DSA/SHA1 signature
// packets, which go-crypto no longer reads (see packet.go).
func TestV3DSASignatures(t *testing.T) {
	for _, tc := range []struct {
		dir, fpr string
		when     time.Time
		expires  bool // the key expired in 2010
	}{
		{"libzypp/zypp/tests/data/11.0-update/repodata/", "79C179B2E1C820C1890F9994A84EDAE89C800ACA", time.Date(2008, 11, 1, 0, 0, 0, 0, time.UTC), true},
		{"libzypp/zypp/tests/repo/yum/data/10.2-updates-subset/repodata/", "E2AC331624CB976D6A7C2D5F9BECC2B5DDB03756", time.Date(2008, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"libzypp/zypp/tests/data/obs_virtualbox_11_1/repodata/", "14160D00EEE5DCB479D48A07F852E3C157721A66", time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC), true},
	} {
		dir := fixtures + tc.dir
		data, err := os.ReadFile(dir + "repomd.xml")
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := os.ReadFile(dir + "repomd.xml.asc")
		kr, err := LoadKeyring(dir + "repomd.xml.key")
		if err != nil {
			t.Fatal(err)
		}
		v, err := kr.VerifyDetached(data, sig, VerifyOptions{Now: tc.when})
		if err != nil {
			t.Fatalf("%s: %v", tc.dir, err)
		}
		if s := v.Signers(); len(s) != 1 || s[0] != tc.fpr || v.Signatures[0].KeyID != tc.fpr[24:] || v.Signatures[0].Created.IsZero() {
			t.Errorf("%s: %+v", tc.dir, v.Signatures)
		}
		// One byte changed: a bad signature by a known key.
		bad := append([]byte(nil), data...)
		bad[len(bad)/2] ^= 0x20
		if _, err := kr.VerifyDetached(bad, sig, VerifyOptions{Now: tc.when}); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s tampered: %v", tc.dir, err)
		}
		// Today the key has expired: the signature does not count.
		if !tc.expires {
			continue
		}
		if _, err := kr.VerifyDetached(data, sig, VerifyOptions{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}); !errors.Is(err, ErrNoGoodSignature) {
			t.Errorf("%s with an expired key: %v", tc.dir, err)
		}
	}
	// Another keyring: unknown key, not accepted.
	data, _ := os.ReadFile(fixtures + "libzypp/zypp/tests/data/11.0-update/repodata/repomd.xml")
	sig, _ := os.ReadFile(fixtures + "libzypp/zypp/tests/data/11.0-update/repodata/repomd.xml.asc")
	other, err := LoadKeyring(fixtures + "giraut-rpm/KEY.gpg")
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.VerifyDetached(data, sig, VerifyOptions{Now: time.Date(2008, 11, 1, 0, 0, 0, 0, time.UTC)})
	if !errors.Is(err, ErrNoGoodSignature) {
		t.Errorf("unknown key: %v", err)
	}
}

// A truncated or garbled v3 packet is an unsupported signature, not a panic.
func TestV3Malformed(t *testing.T) {
	kr, err := LoadKeyring(fixtures + "libzypp/zypp/tests/data/11.0-update/repodata/repomd.xml.key")
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(fixtures + "libzypp/zypp/tests/data/11.0-update/repodata/repomd.xml.asc")
	v, err := kr.VerifyDetached([]byte("x"), sig, VerifyOptions{Now: time.Date(2008, 11, 1, 0, 0, 0, 0, time.UTC)})
	if err == nil {
		t.Fatalf("verified other data: %+v", v)
	}
	for _, raw := range [][]byte{{0x88, 0x03, 0x03, 0x05, 0x00}, {0x88, 0x05, 0x03, 0x05, 0x00, 0, 0}, {0xc2, 0x02, 0x03, 0x05}} {
		if _, err := kr.VerifyDetached([]byte("x"), raw, VerifyOptions{}); err == nil {
			t.Errorf("%x accepted", raw)
		}
	}
}

// v3RSASig builds a version 3 signature packet (old packet format, as
// rpm and old gpg wrote them) over data with an RSA key, SHA-256.
func v3RSASig(t *testing.T, priv *rsa.PrivateKey, keyID uint64, data []byte, created time.Time) []byte {
	t.Helper()
	hashed := []byte{0x00, 0, 0, 0, 0} // type binary document, creation time
	binary.BigEndian.PutUint32(hashed[1:], uint32(created.Unix()))
	h := sha256.New()
	h.Write(data)
	h.Write(hashed)
	digest := h.Sum(nil)
	sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte{3, 5}
	body = append(body, hashed...)
	body = binary.BigEndian.AppendUint64(body, keyID)
	body = append(body, 1, 8, digest[0], digest[1]) // RSA, SHA-256, hash prefix
	m := new(big.Int).SetBytes(sig)
	body = binary.BigEndian.AppendUint16(body, uint16(m.BitLen()))
	body = append(body, m.Bytes()...)
	// Old format, tag 2, two-byte length.
	out := []byte{0x89}
	out = binary.BigEndian.AppendUint16(out, uint16(len(body)))
	return append(out, body...)
}

func TestV3RSASignature(t *testing.T) {
	e, kr := newKeyring(t)
	priv := e.PrivateKey.PrivateKey.(*rsa.PrivateKey)
	data := []byte("<repomd/>\n")
	now := time.Now()
	sig := v3RSASig(t, priv, e.PrimaryKey.KeyId, data, now.Add(-time.Hour))
	v, err := kr.VerifyDetached(data, sig, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Signers(); len(s) != 1 || s[0] != kr.Fingerprints()[0] {
		t.Errorf("signers %v", s)
	}
	if _, err := kr.VerifyDetached([]byte("<repomd/>\r\n"), sig, VerifyOptions{}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other data: %v", err)
	}
	// The signature bits altered (the hash prefix still matches).
	bad := append([]byte(nil), sig...)
	bad[len(bad)-1] ^= 1
	if _, err := kr.VerifyDetached(data, bad, VerifyOptions{}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("altered signature: %v", err)
	}
	// Beside a v4 signature of another key: the v3 one is enough.
	other, _ := openpgp.NewEntity("other", "", "o@vzkit.test", &packet.Config{RSABits: 2048})
	var v4 bytes.Buffer
	if err := openpgp.DetachSign(&v4, other, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	if v, err := kr.VerifyDetached(data, append(v4.Bytes(), sig...), VerifyOptions{}); err != nil || len(v.Signatures) != 2 {
		t.Errorf("v4 of an unknown key + good v3: %v", err)
	}
}
