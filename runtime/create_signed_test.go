package runtime

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/cache/sign"
	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

// signingKey writes a throwaway secret key and its public keyring as files
// and returns their paths.
func signingKey(t testing.TB, name string) (secret, public string) {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(path, typ string, ser func(*bytes.Buffer) error) {
		var raw, arm bytes.Buffer
		if err := ser(&raw); err != nil {
			t.Fatal(err)
		}
		w, _ := armor.Encode(&arm, typ, nil)
		w.Write(raw.Bytes())
		w.Close()
		if err := os.WriteFile(path, arm.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	secret, public = filepath.Join(dir, "sec.asc"), filepath.Join(dir, "pub.asc")
	write(secret, openpgp.PrivateKeyType, func(b *bytes.Buffer) error { return e.SerializePrivate(b, nil) })
	write(public, openpgp.PublicKeyType, func(b *bytes.Buffer) error { return e.Serialize(b) })
	return secret, public
}

// signedCacheStore makes a store whose vz.conf holds conf, with a cache
// "tiny" saved by cache.Save (manifest included) and unsigned.
func signedCacheStore(t *testing.T, conf string) (*Store, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc/vzkit"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, vzconf.ConfigPath), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := vzconf.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(g)
	tree := t.TempDir()
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	os.WriteFile(filepath.Join(tree, "etc/os-release"), []byte("ID=test\n"), 0o644)
	if err := os.MkdirAll(g.CacheDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	p, _, err := cache.Save(context.Background(), g.CacheDir(), tree, &cache.Manifest{Name: "tiny", Distro: "test"},
		cache.PackOptions{SourceDateEpoch: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

// refused checks that create failed with want, named the cache and the
// keyring, and left no container behind.
func refused(t *testing.T, s *Store, cachePath, keyring string, want error) {
	t.Helper()
	_, err := s.Create(context.Background(), CreateOptions{CTID: "101", OSTemplate: "tiny"})
	if err == nil {
		t.Fatal("create accepted the cache")
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("error %v, want %v", err, want)
	}
	if !strings.Contains(err.Error(), cachePath) || (keyring != "" && !strings.Contains(err.Error(), keyring)) {
		t.Errorf("error does not name the cache %s and keyring %q: %v", cachePath, keyring, err)
	}
	if _, err := os.Lstat(s.G.Path("VE_PRIVATE", "101")); !errors.Is(err, os.ErrNotExist) {
		t.Error("private area left by a refused create")
	}
	if _, err := os.Stat(s.ConfPath("101")); !errors.Is(err, os.ErrNotExist) {
		t.Error("CTID.conf left by a refused create")
	}
}

func TestCreateRequiresSignedCache(t *testing.T) {
	ctx := context.Background()
	aliceSec, alicePub := signingKey(t, "alice")
	mallorySec, _ := signingKey(t, "mallory")
	conf := "REQUIRE_SIGNED_CACHE=yes\nCACHE_KEYRING=" + alicePub + "\n"

	t.Run("unsigned", func(t *testing.T) {
		s, c := signedCacheStore(t, conf)
		refused(t, s, c, alicePub, sign.ErrUnsigned)
	})
	t.Run("other key", func(t *testing.T) {
		s, c := signedCacheStore(t, conf)
		if _, err := sign.SignFile(ctx, c, mallorySec); err != nil {
			t.Fatal(err)
		}
		refused(t, s, c, alicePub, pgp.ErrNoGoodSignature)
	})
	t.Run("flipped byte", func(t *testing.T) {
		s, c := signedCacheStore(t, conf)
		if _, err := sign.SignFile(ctx, c, aliceSec); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(c)
		data[len(data)/2] ^= 1
		os.WriteFile(c, data, 0o644)
		refused(t, s, c, alicePub, sign.ErrMismatch)
	})
	t.Run("no manifest", func(t *testing.T) {
		s, c := signedCacheStore(t, conf)
		if _, err := sign.SignFile(ctx, c, aliceSec); err != nil {
			t.Fatal(err)
		}
		os.Remove(cache.ManifestPath(c))
		refused(t, s, c, alicePub, sign.ErrManifest)
	})
	t.Run("no keyring configured", func(t *testing.T) {
		s, c := signedCacheStore(t, "REQUIRE_SIGNED_CACHE=yes\n")
		refused(t, s, c, "CACHE_KEYRING", nil)
	})
	t.Run("keyring missing", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "none.asc")
		s, c := signedCacheStore(t, "REQUIRE_SIGNED_CACHE=yes\nCACHE_KEYRING="+missing+"\n")
		if _, err := sign.SignFile(ctx, c, aliceSec); err != nil {
			t.Fatal(err)
		}
		refused(t, s, c, missing, os.ErrNotExist)
	})
	t.Run("typo in the setting", func(t *testing.T) {
		s, _ := signedCacheStore(t, "REQUIRE_SIGNED_CACHE=ys\nCACHE_KEYRING="+alicePub+"\n")
		_, err := s.Create(ctx, CreateOptions{CTID: "101", OSTemplate: "tiny"})
		if err == nil || !strings.Contains(err.Error(), "REQUIRE_SIGNED_CACHE") {
			t.Errorf("REQUIRE_SIGNED_CACHE=ys: %v", err)
		}
	})
	t.Run("good signature", func(t *testing.T) {
		needRoot(t)
		s, c := signedCacheStore(t, conf)
		if _, err := sign.SignFile(ctx, c, aliceSec); err != nil {
			t.Fatal(err)
		}
		ct, err := s.Create(ctx, CreateOptions{CTID: "101", OSTemplate: "tiny"})
		if err != nil {
			t.Fatal(err)
		}
		if data, err := os.ReadFile(filepath.Join(ct.Private, "etc/os-release")); err != nil || string(data) != "ID=test\n" {
			t.Errorf("created container lacks the cache's files: %q %v", data, err)
		}
	})
	t.Run("not required", func(t *testing.T) {
		needRoot(t)
		s, _ := signedCacheStore(t, "REQUIRE_SIGNED_CACHE=no\nCACHE_KEYRING="+alicePub+"\n")
		if _, err := s.Create(ctx, CreateOptions{CTID: "101", OSTemplate: "tiny"}); err != nil {
			t.Errorf("unsigned cache without REQUIRE_SIGNED_CACHE: %v", err)
		}
	})
}
