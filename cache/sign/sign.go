package sign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vzkit/vzkit/internal/atomicfile"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/vzkit/vzkit/cache"
)

// maxKeyFileSize bounds a secret key file: a key is a few KiB.
const maxKeyFileSize = 1 << 20

// ErrEncryptedKey: the secret key is protected by a passphrase, which is not
// supported yet.
var ErrEncryptedKey = errors.New("secret key is protected by a passphrase; only passphrase-less keys are supported for now")

// SignaturePath returns the detached signature path of a cache file.
func SignaturePath(cachePath string) string { return cachePath + ".asc" }

// Signer holds one secret key that signs caches.
type Signer struct {
	entity *openpgp.Entity
	key    openpgp.Key // the (sub)key that signs
}

// LoadSigner reads a secret key file (armored or binary, as written by
// `gpg --export-secret-keys`); errors name the file.
func LoadSigner(path string) (*Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("signing key %s: larger than %d bytes", path, maxKeyFileSize)
	}
	s, err := ParseSigner(data)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return s, nil
}

// ParseSigner reads exactly one secret key, armored or binary.
func ParseSigner(data []byte) (*Signer, error) {
	var el openpgp.EntityList
	var err error
	if i := bytes.Index(data, []byte("-----BEGIN PGP ")); i >= 0 {
		var b *armor.Block
		if b, err = armor.Decode(bytes.NewReader(data[i:])); err != nil {
			return nil, fmt.Errorf("armored key: %w", err)
		}
		if b.Type != openpgp.PrivateKeyType {
			return nil, fmt.Errorf("armored block is %q, want %q (a secret key)", b.Type, openpgp.PrivateKeyType)
		}
		el, err = openpgp.ReadKeyRing(b.Body)
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	var secret []*openpgp.Entity
	for _, e := range el {
		if e.PrivateKey != nil {
			secret = append(secret, e)
		}
	}
	switch len(secret) {
	case 0:
		return nil, errors.New("no secret key found (is this a public key?)")
	case 1:
	default:
		return nil, fmt.Errorf("%d secret keys found; give a file with exactly one", len(secret))
	}
	e := secret[0]
	fpr := fingerprint(e)
	k, ok := e.SigningKey(time.Now())
	if !ok {
		return nil, fmt.Errorf("key %s has no usable signing key (expired, revoked or not allowed to sign)", fpr)
	}
	switch {
	case k.PrivateKey == nil || k.PrivateKey.Dummy():
		return nil, fmt.Errorf("key %s: the secret part of signing key %X is missing (a gpg stub?)", fpr, k.PublicKey.KeyId)
	case k.PrivateKey.Encrypted:
		return nil, fmt.Errorf("key %s: %w (export it without one, or use a dedicated signing key)", fpr, ErrEncryptedKey)
	}
	return &Signer{entity: e, key: k}, nil
}

// Fingerprint is the primary key fingerprint (upper-case hex), the one to
// pin when verifying.
func (s *Signer) Fingerprint() string { return fingerprint(s.entity) }

// Sign writes an armored detached signature of everything read from r to w.
func (s *Signer) Sign(ctx context.Context, w io.Writer, r io.Reader) error {
	cfg := &packet.Config{SigningKeyId: s.key.PublicKey.KeyId}
	return openpgp.ArmoredDetachSign(w, s.entity, &ctxReader{ctx: ctx, r: r}, cfg)
}

// SignCache writes cachePath.asc, an armored detached signature over the
// cache file, and returns its path. The file is read once; its size and
// SHA-256 must match the manifest beside it or nothing is written. An
// existing signature is replaced atomically.
func (s *Signer) SignCache(ctx context.Context, cachePath string) (string, error) {
	mpath := cache.ManifestPath(cachePath)
	m, err := cache.ReadManifest(mpath)
	if err != nil {
		return "", fmt.Errorf("sign %s: %w", cachePath, err)
	}
	f, err := os.Open(cachePath)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	defer f.Close()
	var sig bytes.Buffer
	h := sha256.New()
	cr := &countReader{r: io.TeeReader(f, h)}
	if err := s.Sign(ctx, &sig, cr); err != nil {
		return "", fmt.Errorf("sign %s: %w", cachePath, err)
	}
	if cr.n != m.Archive.Size {
		return "", fmt.Errorf("sign %s: %w: file is %d bytes, manifest %s says %d", cachePath, ErrMismatch, cr.n, mpath, m.Archive.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != m.Archive.SHA256 {
		return "", fmt.Errorf("sign %s: %w: SHA-256 is %s, manifest %s says %s", cachePath, ErrMismatch, sum, mpath, m.Archive.SHA256)
	}
	out := SignaturePath(cachePath)
	if err := writeAtomic(out, sig.Bytes()); err != nil {
		return "", err
	}
	return out, nil
}

// SignFile signs the cache at cachePath with the passphrase-less secret key
// in keyFile, writing cachePath.asc. It is what `vzpkg build --sign KEYFILE`
// calls after cache.Save.
func SignFile(ctx context.Context, cachePath, keyFile string) (string, error) {
	s, err := LoadSigner(keyFile)
	if err != nil {
		return "", err
	}
	return s.SignCache(ctx, cachePath)
}

// writeAtomic creates path from data: temporary file, fsync, rename,
// fsync of the directory.
func writeAtomic(path string, data []byte) error {
	if err := atomicfile.WriteBytes(path, data, 0o644); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	return nil
}

func fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
}

// ctxReader stops a long read when the context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
