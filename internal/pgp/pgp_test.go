package pgp

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/testenv"

	"github.com/vzkit/vzkit/internal/testfixtures"
)

var fixtures = testfixtures.Dir() + "/"

// Fingerprints of Debian's archive keys, as gpg prints them.
const (
	bookwormAutomatic = "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8"
	trixieAutomatic   = "04B54C3CDCA79751B16BC6B5225629DF75B188BD"
	bookwormStable    = "4D64FEC119C2029067D6E791F8D2585B8783D481" // Ed25519
	bullseyeAutomatic = "1F89983E0081FDE018F3CC9673A4F27B8DD47936"
)

var fixed = VerifyOptions{Now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixtures + path)
	if err != nil {
		testenv.Missing(t, "fixture missing: %v", err)
	}
	return b
}

func debianKeyring(t testing.TB) *Keyring {
	t.Helper()
	k, err := LoadKeyring(fixtures + "debian-archive/keyrings/debian-archive-keyring.gpg")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDebianInReleaseThreeSignatures(t *testing.T) {
	v, err := debianKeyring(t).VerifyClearsigned(read(t, "debian-archive/debian/dists/bookworm/InRelease"), fixed)
	if err != nil {
		t.Fatal(err)
	}
	got := v.Signers()
	want := []string{bookwormAutomatic, trixieAutomatic, bookwormStable}
	if !slices.Equal(got, want) {
		t.Fatalf("good signers %v, want %v", got, want)
	}
	if !bytes.HasPrefix(v.Signed, []byte("Origin: Debian\n")) || bytes.Contains(v.Signed, []byte("PGP")) {
		t.Fatalf("signed text starts %q", v.Signed[:40])
	}
}

func TestSecurityInRelease(t *testing.T) {
	v, err := debianKeyring(t).VerifyClearsigned(read(t, "debian-archive/debian-security/dists/bookworm-security/InRelease"), fixed)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Signers()) != 2 || !bytes.Contains(v.Signed, []byte("Codename: bookworm-security")) {
		t.Fatalf("signers %v", v.Signers())
	}
}

func TestPinnedSingleKeyIgnoresUnknown(t *testing.T) {
	k, err := LoadKeyring(fixtures + "debian-archive/keyrings/debian-archive-bookworm-stable.asc")
	if err != nil {
		t.Fatal(err)
	}
	if k, err = k.Pin(strings.ToLower(bookwormStable)); err != nil {
		t.Fatal(err)
	}
	v, err := k.VerifyClearsigned(read(t, "debian-archive/debian/dists/bookworm/InRelease"), fixed)
	if err != nil {
		t.Fatal(err)
	}
	var unknown int
	for _, s := range v.Signatures {
		if s.Status == UnknownKey {
			unknown++
		}
	}
	if !slices.Equal(v.Signers(), []string{bookwormStable}) || unknown != 2 {
		t.Fatalf("signatures %+v", v.Signatures)
	}
}

func TestPinDropsAndNamesMissing(t *testing.T) {
	k := debianKeyring(t)
	pinned, err := k.Pin(bookwormAutomatic)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pinned.Fingerprints(), []string{bookwormAutomatic}) {
		t.Fatalf("pinned keyring holds %v", pinned.Fingerprints())
	}
	// Only the bookworm key is left: the security archive is signed by
	// other keys, so it must fail now.
	_, err = pinned.VerifyClearsigned(read(t, "debian-archive/debian-security/dists/bookworm-security/InRelease"), fixed)
	if !errors.Is(err, ErrNoGoodSignature) {
		t.Fatalf("err = %v, want ErrNoGoodSignature", err)
	}
	missing := "0123456789ABCDEF0123456789ABCDEF01234567"
	_, err = k.Pin(bookwormAutomatic, missing)
	if !errors.Is(err, ErrNotPinned) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("err = %v, want ErrNotPinned naming %s", err, missing)
	}
	if _, err := k.Pin("not-hex"); err == nil {
		t.Fatal("malformed fingerprint accepted")
	}
}

func TestDetachedTwoSignaturesPartialKeyring(t *testing.T) {
	rel := read(t, "backseat-signed/tests/data/vim/Release")
	sig := read(t, "backseat-signed/tests/data/vim/Release.gpg")
	partial, err := LoadKeyring(fixtures + "backseat-signed/tests/data/debian-archive-bookworm-automatic.asc")
	if err != nil {
		t.Fatal(err)
	}
	v, err := partial.VerifyDetached(rel, sig, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.Signers(), []string{bookwormAutomatic}) || len(v.Signatures) != 2 ||
		v.Signatures[0].Status != UnknownKey || v.Signatures[0].KeyID != "0E98404D386FA1D9" {
		t.Fatalf("signatures %+v", v.Signatures)
	}
	v, err = debianKeyring(t).VerifyDetached(rel, sig, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.Signers(), []string{bullseyeAutomatic, bookwormAutomatic}) {
		t.Fatalf("signers %v", v.Signers())
	}
	// One changed byte: both known keys now say bad.
	bad := bytes.Replace(rel, []byte("Suite: unstable"), []byte("Suite: unstablE"), 1)
	if _, err := debianKeyring(t).VerifyDetached(bad, sig, VerifyOptions{}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered Release: err = %v, want ErrBadSignature", err)
	}
}

func TestTamperedClearsigned(t *testing.T) {
	in := read(t, "debian-archive/debian/dists/bookworm-updates/InRelease")
	k := debianKeyring(t)
	cases := map[string][]byte{
		"changed text":    bytes.Replace(in, []byte("Suite: oldstable-updates"), []byte("Suite: oldstable-updatez"), 1),
		"text before":     append([]byte("Package: evil\n\n"), in...),
		"text after":      append(append([]byte{}, in...), []byte("\nPackage: evil\n")...),
		"no signature":    in[:bytes.Index(in, []byte("-----BEGIN PGP SIGNATURE-----"))],
		"not clearsigned": []byte("Origin: Debian\n"),
	}
	if bytes.Equal(cases["changed text"], in) {
		t.Fatal("fixture does not contain the text to change")
	}
	for name, data := range cases {
		if v, err := k.VerifyClearsigned(data, fixed); err == nil {
			t.Errorf("%s: accepted, signed text %.60q", name, v.Signed)
		}
	}
	if _, err := k.VerifyClearsigned(cases["changed text"], fixed); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed text: err = %v, want ErrBadSignature", err)
	}
}

func TestGpgrvFormats(t *testing.T) {
	k, err := LoadKeyring(fixtures + "gpgrv/tests/faux_pub.asc")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"txt", "dat"} {
		input := read(t, "gpgrv/tests/formats/input."+name)
		for _, kind := range []string{"detach-armour", "detach-binary"} {
			v, err := k.VerifyDetached(input, read(t, "gpgrv/tests/formats/output."+name+"."+kind), VerifyOptions{})
			if err != nil || len(v.Signers()) != 1 {
				t.Errorf("%s %s: %v", name, kind, err)
			}
		}
		v, err := k.VerifyClearsigned(read(t, "gpgrv/tests/formats/output."+name+".inline-armour"), VerifyOptions{})
		if name == "dat" {
			// gpgv says Good for the clearsigned copy of the file with NUL
			// bytes, go-crypto computes another digest (the detached
			// signatures over the same bytes verify). Repository indexes
			// never hold NUL; what matters is that it is not accepted
			// with different text.
			if err == nil && !bytes.Equal(bytes.TrimRight(v.Signed, "\n"), bytes.TrimRight(input, "\n")) {
				t.Errorf("dat clearsigned: accepted with other text")
			}
			continue
		}
		if err != nil {
			t.Errorf("%s clearsigned: %v", name, err)
			continue
		}
		if !bytes.Equal(bytes.TrimRight(v.Signed, "\n"), bytes.TrimRight(input, "\n")) {
			t.Errorf("%s clearsigned: signed text differs from input", name)
		}
		// A different input must not verify against the same signature.
		other := append([]byte("x"), input...)
		if _, err := k.VerifyDetached(other, read(t, "gpgrv/tests/formats/output."+name+".detach-binary"), VerifyOptions{}); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: altered input: err = %v", name, err)
		}
	}
	kr, err := LoadKeyring(fixtures + "gpgrv/tests/deb/2023.09.24/keyring.gpg")
	if err != nil {
		t.Fatal(err)
	}
	v, err := kr.VerifyClearsigned(read(t, "gpgrv/tests/deb/example-InRelease"), VerifyOptions{Now: time.Date(2025, 8, 10, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(v.Signers()) != 2 {
		t.Fatalf("example-InRelease: %v", err)
	}
}

func TestMaliciousKeysRejected(t *testing.T) {
	for _, f := range []string{"CVE-2021-3521-badbind.asc", "CVE-2021-3521-nosubsig.asc", "CVE-2021-3521-nosubsig-last.asc", "type-confusion.asc"} {
		if k, err := LoadKeyring(fixtures + "rpm-org/tests/data/keys/" + f); err == nil {
			t.Errorf("%s: loaded %v", f, k.Fingerprints())
		} else if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %q does not name the file", f, err)
		}
	}
	for _, f := range []string{"alice.asc", "rpm.org-rsa-2048-test.pgp", "rpm.org-ed25519-test.pub", "rpm.org-v6-ed25519-test.asc"} {
		if _, err := LoadKeyring(fixtures + "rpm-org/tests/data/keys/" + f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Two armored blocks in one file make one keyring of two keys.
	a := read(t, "debian-archive/keyrings/debian-archive-bookworm-stable.asc")
	b := read(t, "debian-archive/keyrings/debian-archive-trixie-automatic.asc")
	k, err := ParseKeyring(append(append(a, '\n'), b...))
	if err != nil || len(k.Fingerprints()) != 2 {
		t.Fatalf("concatenated armor: %v", err)
	}
}

// gpgKey makes a throwaway signing key in a temporary GNUPGHOME.
func gpgKey(t *testing.T, expire string) (home, fpr string) {
	t.Helper()
	testenv.NeedTool(t, "gpg", "gnupg")
	home = t.TempDir()
	gpg(t, home, "--quick-gen-key", "vzkit test <test@example.invalid>", "ed25519", "sign", expire)
	out := gpg(t, home, "--with-colons", "--list-keys")
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "fpr:") {
			return home, strings.Split(line, ":")[9]
		}
	}
	t.Fatalf("no fingerprint in %s", out)
	return
}

func gpg(t *testing.T, home string, args ...string) string {
	t.Helper()
	cmd := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--yes", "--passphrase", "", "--pinentry-mode", "loopback"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpg %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

func TestExpiredAndRevokedKeys(t *testing.T) {
	home, fpr := gpgKey(t, "1d")
	data := filepath.Join(home, "Release")
	os.WriteFile(data, []byte("Suite: test\n"), 0o644)
	gpg(t, home, "--detach-sign", "-o", data+".gpg", data)
	signed, _ := os.ReadFile(data)
	sig, _ := os.ReadFile(data + ".gpg")
	k, err := ParseKeyring([]byte(gpg(t, home, "--armor", "--export", fpr)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.VerifyDetached(signed, sig, VerifyOptions{}); err != nil {
		t.Fatalf("fresh key: %v", err)
	}
	_, err = k.VerifyDetached(signed, sig, VerifyOptions{Now: time.Now().Add(72 * time.Hour)})
	if !errors.Is(err, ErrNoGoodSignature) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired key: err = %v", err)
	}
	// gpg leaves a revocation certificate next to every new key; importing
	// it revokes the key.
	rev, err := os.ReadFile(filepath.Join(home, "openpgp-revocs.d", fpr+".rev"))
	if err != nil {
		t.Fatal(err)
	}
	rev = bytes.Replace(rev, []byte(":-----BEGIN"), []byte("-----BEGIN"), 1)
	os.WriteFile(filepath.Join(home, "rev.asc"), rev, 0o644)
	gpg(t, home, "--import", filepath.Join(home, "rev.asc"))
	k, err = ParseKeyring([]byte(gpg(t, home, "--armor", "--export", fpr)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.VerifyDetached(signed, sig, VerifyOptions{}); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked key: err = %v, want ErrBadSignature (revoked)", err)
	}
}

func TestSecretKeyRefused(t *testing.T) {
	home, fpr := gpgKey(t, "0")
	if _, err := ParseKeyring([]byte(gpg(t, home, "--armor", "--export-secret-keys", fpr))); err == nil {
		t.Fatal("secret key accepted as a keyring")
	}
}

func FuzzVerifyClearsigned(f *testing.F) {
	for _, p := range []string{
		"debian-archive/debian/dists/bookworm-updates/InRelease",
		"gpgrv/tests/formats/output.dat.inline-armour",
		"gpgrv/tests/formats/output.txt.inline-armour",
		"gpgrv/tests/formats/output.txt.detach-armour",
	} {
		if b, err := os.ReadFile(fixtures + p); err == nil {
			f.Add(b)
		}
	}
	k, err := LoadKeyring(fixtures + "gpgrv/tests/faux_pub.asc")
	if err != nil {
		f.Skip(err)
	}
	k = k.Merge(debianKeyring(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := k.VerifyClearsigned(data, fixed)
		if err == nil && len(v.Signers()) == 0 {
			t.Fatal("accepted without a good signature")
		}
		k.VerifyDetached(data, data, fixed)
		ParseKeyring(data)
	})
}

// Armored gives one block per key that reads back as that key alone and
// still verifies what the key signed; KeysById finds a key by the issuer
// ID of a signature, and a nil keyring has none.
func TestArmoredAndKeysById(t *testing.T) {
	k, err := debianKeyring(t).Pin(bookwormStable, bookwormAutomatic)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := k.Armored()
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 {
		t.Fatalf("%d blocks for 2 keys", len(blocks))
	}
	var again *Keyring
	for i, b := range blocks {
		if !bytes.HasPrefix(b, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
			t.Errorf("block %d is not armored: %.40q", i, b)
		}
		one, err := ParseKeyring(b)
		if err != nil || len(one.Fingerprints()) != 1 {
			t.Fatalf("block %d: %v, %v", i, err, one)
		}
		if again == nil {
			again = one
		} else {
			again = again.Merge(one)
		}
	}
	if !slices.Equal(again.Fingerprints(), k.Fingerprints()) {
		t.Errorf("read back %v, want %v", again.Fingerprints(), k.Fingerprints())
	}
	v, err := again.VerifyClearsigned(read(t, "debian-archive/debian/dists/bookworm/InRelease"), fixed)
	if err != nil || !slices.Contains(v.Signers(), bookwormStable) {
		t.Errorf("the read-back keys do not verify bookworm's InRelease: %v", err)
	}
	var id uint64
	if _, err := fmt.Sscanf(bookwormStable[len(bookwormStable)-16:], "%x", &id); err != nil {
		t.Fatal(err)
	}
	if keys := k.KeysById(id); len(keys) != 1 {
		t.Errorf("KeysById(%X): %d keys", id, len(keys))
	}
	if keys := (*Keyring)(nil).KeysById(id); keys != nil {
		t.Errorf("nil keyring: %v", keys)
	}
}
