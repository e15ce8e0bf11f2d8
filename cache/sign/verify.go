package sign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/internal/pgp"
)

// maxSignatureSize bounds a .asc file: one armored signature is under 1 KiB.
const maxSignatureSize = 1 << 20

// What verification found wrong; errors wrap one of these and name the file.
var (
	ErrManifest  = errors.New("manifest missing or invalid")
	ErrMismatch  = errors.New("cache does not match its manifest")
	ErrUnsigned  = errors.New("cache is not signed")
	ErrSignature = errors.New("signature is not good")
)

// Result is what Verify checked. On failure it holds what was established
// before the failing check.
type Result struct {
	Cache     string   `json:"cache"`
	Manifest  string   `json:"manifest"`
	Signature string   `json:"signature,omitempty"` // the .asc, "" when there is none
	Size      int64    `json:"size"`
	SHA256    string   `json:"sha256,omitempty"` // of the file, once computed
	Packages  int      `json:"packages"`
	Signers   []string `json:"signers,omitempty"` // fingerprints of good signatures
	Checks    []string `json:"checks"`            // one line per check that passed
}

// Verify checks the cache at cachePath against its manifest and, when kr is
// not nil, requires a good signature by one of kr's keys.
func Verify(ctx context.Context, cachePath string, kr *pgp.Keyring) (*Result, error) {
	r := &Result{Cache: cachePath, Manifest: cache.ManifestPath(cachePath)}
	m, err := cache.ReadManifest(r.Manifest)
	if err != nil {
		return r, fmt.Errorf("%s: %w: %w", cachePath, ErrManifest, err)
	}
	r.Packages = len(m.Packages)
	r.Checks = append(r.Checks, fmt.Sprintf("manifest %s parses (%s, %d packages)", r.Manifest, m.Name, len(m.Packages)))

	f, err := os.Open(cachePath)
	if err != nil {
		return r, fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return r, fmt.Errorf("verify: %w", err)
	}
	r.Size = fi.Size()
	if r.Size != m.Archive.Size {
		return r, fmt.Errorf("%s: %w: file is %d bytes, manifest %s says %d", cachePath, ErrMismatch, r.Size, r.Manifest, m.Archive.Size)
	}
	r.Checks = append(r.Checks, fmt.Sprintf("size %d bytes matches the manifest", r.Size))
	h := sha256.New()
	if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: f}); err != nil {
		return r, fmt.Errorf("verify %s: checksum: %w", cachePath, err)
	}
	r.SHA256 = hex.EncodeToString(h.Sum(nil))
	if r.SHA256 != m.Archive.SHA256 {
		return r, fmt.Errorf("%s: %w: SHA-256 is %s, manifest %s says %s", cachePath, ErrMismatch, r.SHA256, r.Manifest, m.Archive.SHA256)
	}
	r.Checks = append(r.Checks, "SHA-256 "+r.SHA256+" matches the manifest")

	sigPath := SignaturePath(cachePath)
	if _, err := os.Stat(sigPath); err == nil {
		r.Signature = sigPath
	}
	if kr == nil {
		if r.Signature != "" {
			r.Checks = append(r.Checks, "signature "+sigPath+" present, not checked (no keyring given)")
		}
		return r, nil
	}
	signers, err := VerifySignature(ctx, cachePath, kr)
	if err != nil {
		return r, err
	}
	r.Signers = signers
	r.Checks = append(r.Checks, fmt.Sprintf("signature %s good by %v", sigPath, signers))
	return r, nil
}

// VerifySignature checks cachePath.asc over cachePath with kr and returns the
// fingerprints of the keys whose signature is good. It does not look at the
// manifest.
func VerifySignature(ctx context.Context, cachePath string, kr *pgp.Keyring) ([]string, error) {
	sigPath := SignaturePath(cachePath)
	sig, err := readLimited(sigPath, maxSignatureSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w: no %s", cachePath, ErrUnsigned, sigPath)
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var signers []string
	err = withMapped(cachePath, func(data []byte) error {
		v, err := kr.VerifyDetached(data, sig, pgp.VerifyOptions{})
		if err != nil {
			return err
		}
		signers = v.Signers()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s: %w", cachePath, ErrSignature, sigPath, err)
	}
	return signers, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// withMapped calls fn with the file's content mapped read-only, so that a
// cache of several GiB is hashed by the signature check without being
// copied into memory. A truncation while mapped raises SIGBUS on access;
// SetPanicOnFault turns that into a panic recovered here.
func withMapped(path string, fn func([]byte) error) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() == 0 {
		return fn(nil)
	}
	if int64(int(fi.Size())) != fi.Size() {
		return fmt.Errorf("%s is too large to map", path)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map %s: %w", path, err)
	}
	defer unix.Munmap(data)
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL) // only a read-ahead hint
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s changed while being read: %v", path, p)
		}
	}()
	return fn(data)
}
