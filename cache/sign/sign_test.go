package sign

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/internal/pgp"
)

func TestSignedCacheVerifies(t *testing.T) {
	ctx := context.Background()
	k := newKey(t, "alice")
	c := newCache(t, t.TempDir(), "tiny")
	asc, err := SignFile(ctx, c, k.secret)
	if err != nil {
		t.Fatal(err)
	}
	if asc != c+".asc" {
		t.Errorf("signature written to %s, want %s.asc", asc, c)
	}
	data, _ := os.ReadFile(asc)
	if !bytes.HasPrefix(data, []byte("-----BEGIN PGP SIGNATURE-----")) {
		t.Errorf("signature is not armored:\n%s", data)
	}
	r, err := Verify(ctx, c, k.keyring)
	if err != nil {
		t.Fatal(err)
	}
	fpr := fingerprint(k.entity)
	if len(r.Signers) != 1 || r.Signers[0] != fpr {
		t.Errorf("signers %v, want [%s]", r.Signers, fpr)
	}
	m, _ := cache.ReadManifest(cache.ManifestPath(c))
	if r.SHA256 != m.Archive.SHA256 || r.Size != m.Archive.Size || r.Packages != 1 || r.Signature != asc {
		t.Errorf("result %+v does not describe the cache (manifest %+v)", r, m.Archive)
	}
	if len(r.Checks) != 4 {
		t.Errorf("want 4 checks (manifest, size, sha256, signature), got %q", r.Checks)
	}
	// Pinned to the signer's fingerprint it still verifies; pinned to
	// another key the keyring cannot even be built.
	pinned, err := k.keyring.Pin(fpr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, c, pinned); err != nil {
		t.Errorf("pinned keyring: %v", err)
	}
	if _, err := k.keyring.Pin(fingerprint(newKey(t, "bob").entity)); !errors.Is(err, pgp.ErrNotPinned) {
		t.Errorf("pinning a foreign fingerprint: %v", err)
	}
	// Without a keyring the signature is reported, not checked.
	r, err = Verify(ctx, c, nil)
	if err != nil || r.Signers != nil || !strings.Contains(strings.Join(r.Checks, "\n"), "not checked") {
		t.Errorf("no keyring: %v %+v", err, r)
	}
}

func TestFlippedByteFailsNamingTheFile(t *testing.T) {
	ctx := context.Background()
	k := newKey(t, "alice")
	c := newCache(t, t.TempDir(), "tiny")
	if _, err := SignFile(ctx, c, k.secret); err != nil {
		t.Fatal(err)
	}
	flipByte(t, c)
	_, err := Verify(ctx, c, k.keyring)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), c) || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("verify of a changed cache: %v", err)
	}
	// The signature alone catches it too, as a bad signature by a known key.
	_, err = VerifySignature(ctx, c, k.keyring)
	if !errors.Is(err, ErrSignature) || !errors.Is(err, pgp.ErrBadSignature) || !strings.Contains(err.Error(), c) {
		t.Errorf("signature over a changed cache: %v", err)
	}
	// And a damaged cache is never signed.
	os.Remove(c + ".asc")
	if _, err := SignFile(ctx, c, k.secret); !errors.Is(err, ErrMismatch) {
		t.Errorf("signing a damaged cache: %v", err)
	}
	if _, err := os.Stat(c + ".asc"); !errors.Is(err, os.ErrNotExist) {
		t.Error("a signature was written for a damaged cache")
	}
}

func TestOtherKeyAndUnsignedRefused(t *testing.T) {
	ctx := context.Background()
	alice, mallory := newKey(t, "alice"), newKey(t, "mallory")
	c := newCache(t, t.TempDir(), "tiny")
	_, err := Verify(ctx, c, alice.keyring)
	if !errors.Is(err, ErrUnsigned) || !strings.Contains(err.Error(), c+".asc") {
		t.Errorf("unsigned cache with a keyring: %v", err)
	}
	if _, err := SignFile(ctx, c, mallory.secret); err != nil {
		t.Fatal(err)
	}
	_, err = Verify(ctx, c, alice.keyring)
	if !errors.Is(err, ErrSignature) || !errors.Is(err, pgp.ErrNoGoodSignature) {
		t.Errorf("signature by another key: %v", err)
	}
	// A keyring holding both accepts it, naming mallory as the signer.
	r, err := Verify(ctx, c, alice.keyring.Merge(mallory.keyring))
	if err != nil || len(r.Signers) != 1 || r.Signers[0] != fingerprint(mallory.entity) {
		t.Errorf("merged keyring: %v %v", err, r)
	}
	// A garbage signature file is an error too, not a pass.
	os.WriteFile(c+".asc", []byte("not a signature\n"), 0o644)
	if _, err := Verify(ctx, c, alice.keyring.Merge(mallory.keyring)); !errors.Is(err, ErrSignature) {
		t.Errorf("garbage signature: %v", err)
	}
}

func TestManifestProblems(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, t.TempDir(), "tiny")
	mpath := cache.ManifestPath(c)
	data, _ := os.ReadFile(mpath)
	os.WriteFile(mpath, data[:len(data)/2], 0o644)
	if _, err := Verify(ctx, c, nil); !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), mpath) {
		t.Errorf("truncated manifest: %v", err)
	}
	os.Remove(mpath)
	if _, err := Verify(ctx, c, nil); !errors.Is(err, ErrManifest) {
		t.Errorf("missing manifest: %v", err)
	}
	k := newKey(t, "alice")
	if _, err := SignFile(ctx, c, k.secret); err == nil || !strings.Contains(err.Error(), mpath) {
		t.Errorf("signing without a manifest: %v", err)
	}
	// A cache that grew (appended data) fails on size before hashing.
	c2 := newCache(t, t.TempDir(), "tiny")
	f, _ := os.OpenFile(c2, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("x"))
	f.Close()
	if _, err := Verify(ctx, c2, nil); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "bytes") {
		t.Errorf("grown cache: %v", err)
	}
}

func TestBadSigningKeys(t *testing.T) {
	k := newKey(t, "alice")
	dir := t.TempDir()
	// Passphrase-protected keys are refused with a clear reason.
	if err := k.entity.EncryptPrivateKeys([]byte("secret"), nil); err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(dir, "enc.asc")
	writeArmored(t, enc, openpgp.PrivateKeyType, func(w *bytes.Buffer) error { return k.entity.SerializePrivateWithoutSigning(w, nil) })
	if _, err := LoadSigner(enc); !errors.Is(err, ErrEncryptedKey) || !strings.Contains(err.Error(), enc) {
		t.Errorf("encrypted key: %v", err)
	}
	if _, err := LoadSigner(k.public); err == nil || !strings.Contains(err.Error(), "secret key") {
		t.Errorf("public key as signing key: %v", err)
	}
	if _, err := LoadSigner(filepath.Join(dir, "missing.asc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing key file: %v", err)
	}
	// Two secret keys in one file: ambiguous.
	a, b := newKey(t, "a"), newKey(t, "b")
	two := filepath.Join(dir, "two.asc")
	writeArmored(t, two, openpgp.PrivateKeyType, func(w *bytes.Buffer) error {
		if err := a.entity.SerializePrivate(w, nil); err != nil {
			return err
		}
		return b.entity.SerializePrivate(w, nil)
	})
	if _, err := LoadSigner(two); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Errorf("two secret keys: %v", err)
	}
}

func TestCancelledSign(t *testing.T) {
	k := newKey(t, "alice")
	c := newCache(t, t.TempDir(), "tiny")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := SignFile(ctx, c, k.secret); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled sign: %v", err)
	}
	if _, err := os.Stat(c + ".asc"); !errors.Is(err, os.ErrNotExist) {
		t.Error("cancelled sign left a signature")
	}
}
