package sign

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/testenv"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/internal/pgp"
)

// testKey is a throwaway key pair written as files, as a user has them.
type testKey struct {
	entity  *openpgp.Entity
	secret  string // armored secret key file
	public  string // armored public key file
	keyring *pgp.Keyring
}

// newKey makes an Ed25519 (legacy EdDSA, v4) key, which GnuPG 2.2 reads.
func newKey(t testing.TB, name string) testKey {
	t.Helper()
	e, err := openpgp.NewEntity(name, "test", name+"@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	k := testKey{entity: e, secret: filepath.Join(dir, name+".sec.asc"), public: filepath.Join(dir, name+".pub.asc")}
	writeArmored(t, k.secret, openpgp.PrivateKeyType, func(w *bytes.Buffer) error { return e.SerializePrivate(w, nil) })
	writeArmored(t, k.public, openpgp.PublicKeyType, func(w *bytes.Buffer) error { return e.Serialize(w) })
	if k.keyring, err = pgp.LoadKeyring(k.public); err != nil {
		t.Fatal(err)
	}
	return k
}

func writeArmored(t testing.TB, path, blockType string, ser func(*bytes.Buffer) error) {
	t.Helper()
	var raw, out bytes.Buffer
	if err := ser(&raw); err != nil {
		t.Fatal(err)
	}
	w, err := armor.Encode(&out, blockType, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw.Bytes())
	w.Close()
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newCache saves a tiny tree as dir/NAME.tar.zst with its manifest.
func newCache(t testing.TB, dir, name string) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=test\nNAME="+name+"\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("localhost\n"), 0o644)
	m := &cache.Manifest{Name: name, Distro: "test", Release: "1", Arch: "amd64",
		Packages: []cache.Package{{Name: "base-files", Version: "1", Arch: "amd64", SHA256: "00"}}}
	p, _, err := cache.Save(context.Background(), dir, root, m, cache.PackOptions{SourceDateEpoch: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// flipByte changes one byte in the middle of a file.
func flipByte(t testing.TB, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// gnupg returns a function running gpg in a throwaway home.
func gnupg(t testing.TB) func(args ...string) ([]byte, error) {
	t.Helper()
	testenv.NeedTool(t, "gpg", "gnupg")
	// Short path: gpg-agent's socket must fit in sun_path.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o700)
	t.Cleanup(func() {
		c := exec.Command("gpgconf", "--kill", "gpg-agent")
		c.Env = append(os.Environ(), "GNUPGHOME="+home)
		c.Run()
		os.RemoveAll(home)
	})
	return func(args ...string) ([]byte, error) {
		c := exec.Command("gpg", append([]string{"--batch", "--no-tty", "--quiet"}, args...)...)
		c.Env = append(os.Environ(), "GNUPGHOME="+home)
		return c.CombinedOutput()
	}
}
