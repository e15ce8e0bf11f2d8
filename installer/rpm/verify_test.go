package rpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/vzkit/vzkit/internal/testfixtures"
)

// keyring reads armored or binary public key files from the fixtures.
func keyring(t *testing.T, files ...string) openpgp.EntityList {
	t.Helper()
	var el openpgp.EntityList
	for _, f := range files {
		data, err := os.ReadFile(testfixtures.Path(f))
		if err != nil {
			t.Fatal(err)
		}
		k, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
		if err != nil {
			if k, err = openpgp.ReadKeyRing(bytes.NewReader(data)); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		el = append(el, k...)
	}
	return el
}

const (
	rpmorgKey  = "rpm-org/tests/data/keys/rpm.org-rsa-2048-test.pub"
	aliceKey   = "rpm-org/tests/data/keys/alice.asc"
	zyppKey    = "libzypp/zypp/tests/zypp/data/RpmPkgSigCheck/signed.key"
	epel9Key   = "distribution-gpg-keys/keys/epel/RPM-GPG-KEY-EPEL-9"
	fedora31   = "distribution-gpg-keys/keys/fedora/RPM-GPG-KEY-fedora-31-primary"
	suse2022   = "distribution-gpg-keys/keys/opensuse/RPM-GPG-KEY-openSUSE-2022"
	centos5Key = "cavaliergopher-rpm/testdata/RPM-GPG-KEY-CentOS-5"
	centos6Key = "cavaliergopher-rpm/testdata/RPM-GPG-KEY-CentOS-6"
	centos7Key = "cavaliergopher-rpm/testdata/RPM-GPG-KEY-CentOS-7"

	hello    = "rpm-org/tests/data/RPMS/hello-2.0-1.x86_64"
	zypp     = "libzypp/zypp/tests/zypp/data/RpmPkgSigCheck/"
	rpmorgFP = "771B18D3D7BAA28734333C424344591E1964C5FC"

	rs4       = "rpm-rs/tests/assets/RPMS/v4/signed/"
	rs6       = "rpm-rs/tests/assets/RPMS/v6/signed/"
	k4        = "rpm-rs/tests/assets/signing_keys/v4/rpm-testkey-v4-"
	k6        = "rpm-rs/tests/assets/signing_keys/v6/rpm-testkey-v6-"
	v6payload = "sha256, sha512, sha3-256" // Verify needs no uncompressed digest when these are there
)

// fpr is the primary fingerprint of the one key in a fixture file.
func fpr(t *testing.T, file string) string {
	t.Helper()
	k := keyring(t, file)
	if len(k) != 1 {
		t.Fatalf("%s: %d keys", file, len(k))
	}
	return fmt.Sprintf("%X", k[0].PrimaryKey.Fingerprint)
}

func fileSHA256(t *testing.T, f string) string {
	t.Helper()
	data, err := os.ReadFile(testfixtures.Path(f))
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// TestVerifyFixtures checks every real package of the fixtures that
// SOURCES.md gives a key for, and the broken ones, for the exact verdict:
// the error (as a user reads it) or the signers and digests.
func TestVerifyFixtures(t *testing.T) {
	type want struct {
		err     string   // substring of the error; "" = verifies
		open    bool     // the error comes from Open
		signers []string // fingerprints of the good signatures
		sigs    string   // "tag:version:status ..." of all signatures
		payload string   // matched payload digests
		weak    bool
	}
	for _, tc := range []struct {
		file string
		keys []string
		opts Options
		want want
	}{
		{hello + "-signed.rpm", []string{rpmorgKey}, Options{RequireSignature: true}, want{
			signers: []string{rpmorgFP}, sigs: "268:4:good 1002:4:good", payload: "sha256, md5 (header+payload)"}},
		{hello + "-signed.rpm", []string{aliceKey}, Options{RequireSignature: true}, want{
			err:  "hello-2.0-1.x86_64-signed.rpm: verification failed: header signature by key 4344591E1964C5FC: no such key in the template's keyring; header+payload signature by key 4344591E1964C5FC: no such key in the template's keyring",
			sigs: "268:4:no such key in the template's keyring 1002:4:no such key in the template's keyring"}},
		{hello + "-v3-signed.rpm", []string{rpmorgKey}, Options{RequireSignature: true}, want{
			signers: []string{rpmorgFP}, sigs: "268:3:good 1002:3:good", payload: "sha256, md5 (header+payload)"}},
		{hello + "-signed-with-subkey.rpm", []string{aliceKey}, Options{RequireSignature: true}, want{
			signers: []string{"B6542F92F30650C36B6F41BCB3A771BFEB04E625"}, sigs: "268:4:good", payload: "sha256, md5 (header+payload)"}},
		{hello + "-signed-with-subkey.rpm", []string{rpmorgKey}, Options{RequireSignature: true}, want{
			err: "header signature by key 1F71177215217EE0: no such key in the template's keyring"}},
		// The OPENPGP array's v6 ML-DSA signature (unknown key and
		// algorithm) is ignored; the RSA ones verify.
		{hello + "-signed-mldsa87.rpm", []string{rpmorgKey}, Options{RequireSignature: true}, want{
			signers: []string{rpmorgFP}, sigs: "268:4:good 278:6:no such key in the template's keyring 278:4:good 1002:4:good", payload: "sha256, md5 (header+payload)"}},
		{hello + "-corrupted.rpm", []string{rpmorgKey}, Options{RequireSignature: true}, want{
			err: "hello-2.0-1.x86_64-corrupted.rpm: verification failed: payload sha256 digest mismatch: the payload was altered"}},
		{hello + ".rpm", []string{rpmorgKey}, Options{RequireSignature: true}, want{
			err: "hello-2.0-1.x86_64.rpm: verification failed: not signed, and the repository is not marked insecure"}},
		{hello + ".rpm", nil, Options{}, want{sigs: "", payload: "sha256, md5 (header+payload)"}},
		{zypp + "signed.rpm", []string{zyppKey}, Options{RequireSignature: true}, want{
			signers: []string{"DD492E4EEB3E470B44F34D73E279209BBB65A216"}, sigs: "268:4:good 1002:4:good", payload: "sha256, md5 (header+payload)"}},
		{zypp + "signed_broken.rpm", []string{zyppKey}, Options{RequireSignature: true}, want{
			err: "signed_broken.rpm: verification failed: payload sha256 digest mismatch"}},
		{zypp + "signed_broken_header.rpm", []string{zyppKey}, Options{RequireSignature: true}, want{
			open: true, err: "rpm: signed_broken_header.rpm: header sha1 digest mismatch: the header was altered"}},
		{zypp + "no.rpm", []string{zyppKey}, Options{RequireSignature: true}, want{
			open: true, err: "rpm: no.rpm: malformed rpm: empty file"}},
		// EL9: a header-only signature, zstd payload.
		{"epel-remi-release/epel-release-latest-9.noarch.rpm", []string{epel9Key}, Options{RequireSignature: true}, want{
			signers: []string{"FF8AD1344597106ECE813B918A3872BF3228467C"}, sigs: "268:4:good", payload: "sha256, md5 (header+payload)"}},
		{"rpm-rs/test_assets/rpm-sign-4.15.1-1.fc31.x86_64.rpm", []string{fedora31}, Options{RequireSignature: true}, want{
			signers: []string{"7D22D5867F2A4236474BF7B850CB390B3C3359C4"}, sigs: "268:3:good 1002:3:good", payload: "sha256, md5 (header+payload)"}},
		{"rpm-rs/test_assets/freesrp-udev-0.3.0-1.25.x86_64.rpm", []string{suse2022}, Options{RequireSignature: true}, want{
			signers: []string{"AD485664E901B867051AB15F35A2F86E29B700A4"}, sigs: "268:3:good 1002:3:good", payload: "sha256, md5 (header+payload)"}},
		// EL6/EL7: no payload digest; the RSA/SHA-256 header+payload
		// signature covers the payload.
		{"cavaliergopher-rpm/testdata/centos-release-6-0.el6.centos.5.x86_64.rpm", []string{centos6Key}, Options{RequireSignature: true}, want{
			signers: []string{"C1DAC52D1664E8A4386DBA430946FCA2C105B9DE"}, sigs: "268:3:good 1002:3:good", payload: "md5 (header+payload)"}},
		{"cavaliergopher-rpm/testdata/centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm", []string{centos7Key}, Options{RequireSignature: true}, want{
			signers: []string{"6341AB2753D78A78A7C27BB124C6A8A7F4A80EB5"}, sigs: "268:3:good 1002:3:good", payload: "md5 (header+payload)"}},
		// EL5: DSA/SHA-1 only.
		{"cavaliergopher-rpm/testdata/centos-release-5-0.0.el5.centos.2.x86_64.rpm", []string{centos5Key}, Options{RequireSignature: true}, want{
			err: "header signature by key A8A447DCE8562897: good, but made with SHA-1, which the template does not accept without insecure"}},
		{"cavaliergopher-rpm/testdata/centos-release-5-0.0.el5.centos.2.x86_64.rpm", []string{centos5Key}, Options{RequireSignature: true, AllowWeakDigests: true}, want{
			signers: []string{"473D66D5212271FD51CC17B1A8A447DCE8562897"}, sigs: "267:3:good 1005:3:good", payload: "md5 (header+payload)", weak: true}},
		// rpm-rs's v4 and v6 test packages: ECDSA (in DSAHEADER, which rpm
		// uses for every non-RSA key), Ed25519, RSA-4096, v6 packets in the
		// OPENPGP array only, ML-DSA-65+Ed25519.
		{rs4 + "rpm-basic-with-ecdsa-2.3.4-5.el9.noarch.rpm", []string{k4 + "ecdsa-nistp256.asc"}, Options{RequireSignature: true}, want{
			signers: []string{fpr(t, k4+"ecdsa-nistp256.asc")}, sigs: "267:4:good", payload: "sha256, md5 (header+payload)"}},
		{rs4 + "rpm-basic-with-ed25519-2.3.4-5.el9.noarch.rpm", []string{k4 + "ed25519.asc"}, Options{RequireSignature: true}, want{
			signers: []string{fpr(t, k4+"ed25519.asc")}, sigs: "267:4:good", payload: "sha256, md5 (header+payload)"}},
		{rs4 + "rpm-basic-with-rsa4096-2.3.4-5.el9.noarch.rpm", []string{k4 + "rsa4096.asc"}, Options{RequireSignature: true}, want{
			signers: []string{fpr(t, k4+"rsa4096.asc")}, sigs: "268:4:good", payload: "sha256, md5 (header+payload)"}},
		{rs4 + "rpm-basic-with-ima-2.3.4-5.el9.noarch.rpm", []string{k4 + "ed25519.asc"}, Options{RequireSignature: true}, want{
			signers: []string{fpr(t, k4+"ed25519.asc")}, payload: "sha256, md5 (header+payload)",
			sigs: "267:4:good 278:4:good 278:4:no such key in the template's keyring 278:4:no such key in the template's keyring"}},
		{rs6 + "rpm-basic-with-rsa4k-2.3.4-5.el9.noarch.rpm", []string{k6 + "rsa4k.asc"}, Options{RequireSignature: true}, want{
			signers: []string{fpr(t, k6+"rsa4k.asc")}, sigs: "278:6:good", payload: v6payload}},
		{rs6 + "rpm-basic-with-ed25519-2.3.4-5.el9.noarch.rpm", []string{k6 + "ed25519.asc"}, Options{RequireSignature: true}, want{
			signers: []string{fpr(t, k6+"ed25519.asc")}, sigs: "278:6:good", payload: v6payload}},
		{rs6 + "rpm-basic-multiple-signatures-2.3.4-5.el9.noarch.rpm", []string{k6 + "rsa4k.asc"}, Options{RequireSignature: true}, want{
			signers: []string{fpr(t, k6+"rsa4k.asc")}, sigs: "278:6:no such key in the template's keyring 278:6:good", payload: v6payload}},
		{rs6 + "rpm-basic-with-mldsa65-ed25519-2.3.4-5.el9.noarch.rpm", []string{k6 + "mldsa65-ed25519.asc"}, Options{RequireSignature: true}, want{
			signers: []string{fpr(t, k6+"mldsa65-ed25519.asc")}, sigs: "278:6:good", payload: v6payload}},
		// A signing subkey added later: only the updated key has it.
		{hello + "-signed-with-new-subkey.rpm", []string{"rpm-org/tests/data/keys/rpm.org-rsa-2048-add-subkey.asc"}, Options{RequireSignature: true}, want{
			signers: []string{rpmorgFP}, sigs: "267:4:good", payload: "sha256, md5 (header+payload)"}},
		{hello + "-signed-with-new-subkey.rpm", []string{rpmorgKey}, Options{RequireSignature: true}, want{
			err: "header signature by key 6323C42711450B6C: no such key in the template's keyring"}},
		// CentOS 2.1: only a header+payload signature (DSA/SHA-1, 1005),
		// checked while the payload streams.
		{"cavaliergopher-rpm/testdata/centos-release-as-2.1AS-4.noarch.rpm", []string{"cavaliergopher-rpm/testdata/RPM-GPG-KEY-CentOS-2"}, Options{RequireSignature: true, AllowWeakDigests: true}, want{
			signers: []string{"881271F0B66849E2FA8687602802E89216FF0E46"}, sigs: "1005:3:good", payload: "md5 (header+payload)", weak: true}},
		{"cavaliergopher-rpm/testdata/centos-release-as-2.1AS-4.noarch.rpm", []string{centos5Key}, Options{RequireSignature: true, AllowWeakDigests: true}, want{
			err: "header+payload signature by key 2802E89216FF0E46: no such key in the template's keyring"}},
		// Unsigned, SHA-1 header digest and MD5 only: refused, unless the
		// repository's verified checksum vouches for the bytes.
		{"createrepo_c/tests/testdata/packages/Rimmer-1.0.2-2.x86_64.rpm", nil, Options{}, want{
			err: "Rimmer-1.0.2-2.x86_64.rpm: verification failed: its header is protected by MD5 or SHA-1 only (digests: header sha1, payload md5 (header+payload)); only a template marked insecure accepts that"}},
	} {
		name := filepath.Base(tc.file)
		t.Run(name, func(t *testing.T) {
			p, err := Open(testfixtures.Path(tc.file))
			if tc.want.open {
				if err == nil || err.Error() != tc.want.err && !strings.HasPrefix(err.Error(), tc.want.err) {
					t.Fatalf("Open: %v, want %q", err, tc.want.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			opts := tc.opts
			if tc.keys != nil {
				opts.Keyring = keyring(t, tc.keys...)
			}
			v, err := p.Verify(context.Background(), opts)
			var sigs []string
			for _, s := range v.Signatures {
				sigs = append(sigs, fmt.Sprintf("%d:%d:%s", s.Tag, s.Version, s.Status))
			}
			if tc.want.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want.err) || !errors.Is(err, ErrVerify) {
					t.Fatalf("Verify: %v, want %q", err, tc.want.err)
				}
				if got := strings.Join(sigs, " "); tc.want.sigs != "" && got != tc.want.sigs {
					t.Errorf("signatures seen %q, want %q", got, tc.want.sigs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(v.Signers, ","); got != strings.Join(tc.want.signers, ",") {
				t.Errorf("signers %s, want %s", got, strings.Join(tc.want.signers, ","))
			}
			if got := strings.Join(sigs, " "); got != tc.want.sigs {
				t.Errorf("signatures %q, want %q", got, tc.want.sigs)
			}
			if got := strings.Join(v.PayloadDigests, ", "); got != tc.want.payload {
				t.Errorf("payload digests %q, want %q", got, tc.want.payload)
			}
			if v.Weak != tc.want.weak {
				t.Errorf("Weak = %v", v.Weak)
			}
		})
	}
}

// The repository's checksum: a match is recorded (and makes weak digests
// acceptable), a mismatch refuses the package naming both values.
func TestVerifyRepositoryChecksum(t *testing.T) {
	const weak = "createrepo_c/tests/testdata/packages/Rimmer-1.0.2-2.x86_64.rpm"
	p, err := Open(testfixtures.Path(weak))
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Verify(context.Background(), Options{SHA256: fileSHA256(t, weak)})
	if err != nil || !v.FileSHA256 || v.Weak {
		t.Errorf("matching checksum: %+v, %v", v, err)
	}
	other := fileSHA256(t, hello+".rpm")
	_, err = p.Verify(context.Background(), Options{SHA256: other})
	if err == nil || !strings.Contains(err.Error(), "Rimmer-1.0.2-2.x86_64.rpm: verification failed: sha256 ") ||
		!strings.Contains(err.Error(), "does not match the repository metadata's "+other) {
		t.Errorf("other checksum: %v", err)
	}
	// A matching checksum does not replace the signature (gpgcheck=1).
	q, err := Open(testfixtures.Path(hello + ".rpm"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = q.Verify(context.Background(), Options{SHA256: other, RequireSignature: true, Keyring: keyring(t, rpmorgKey)})
	if err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("unsigned package with a matching checksum: %v", err)
	}
}

// A signature by a known key that does not verify rejects the package,
// naming the key, even though another good signature is there.
func TestVerifyBadSignature(t *testing.T) {
	src := testfixtures.Path(hello + "-signed.rpm")
	p, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// Flip the last byte of the RSAHEADER signature (the RSA value).
	blob, err := p.Header.GetBytes(tagRSAHeader)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, blob)
	if i < 0 || i > int(p.payloadOff) {
		t.Fatal("RSAHEADER blob not found in the signature header")
	}
	data[i+len(blob)-1] ^= 0xff
	bad := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	q, err := Open(bad)
	if err != nil {
		t.Fatal(err)
	}
	_, err = q.Verify(context.Background(), Options{Keyring: keyring(t, rpmorgKey), RequireSignature: true})
	if err == nil || !strings.Contains(err.Error(), "hello-2.0-1.x86_64-signed.rpm: verification failed: header signature by key 4344591E1964C5FC: BAD") {
		t.Errorf("Verify: %v", err)
	}
	// Not requiring a signature does not let a bad one through.
	if _, err := q.Verify(context.Background(), Options{Keyring: keyring(t, rpmorgKey)}); err == nil {
		t.Error("a bad signature passed without RequireSignature")
	}
}
