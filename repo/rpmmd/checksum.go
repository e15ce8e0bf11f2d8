package rpmmd

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// newHash returns the hash a checksum type names. md5 is refused: it
// protects nothing against a hostile mirror. sha1 ("sha" in old repomd
// files) is accepted because the repositories of openSUSE 10/11 and
// CentOS 5 know nothing better; their repomd.xml is signed either way.
func newHash(typ string) (hash.Hash, int, error) {
	switch strings.ToLower(typ) {
	case "sha256":
		return sha256.New(), sha256.Size, nil
	case "sha512":
		return sha512.New(), sha512.Size, nil
	case "sha384":
		return sha512.New384(), sha512.Size384, nil
	case "sha224":
		return sha256.New224(), sha256.Size224, nil
	case "sha1", "sha":
		return sha1.New(), sha1.Size, nil
	}
	return nil, 0, fmt.Errorf("checksum type %q not supported (want sha256, sha512 or sha1)", typ)
}

// check validates the checksum's form: a known type and hex of its length.
func (c Checksum) check() error {
	_, size, err := newHash(c.Type)
	if err != nil {
		return err
	}
	if b, err := hex.DecodeString(c.Value); err != nil || len(b) != size {
		return fmt.Errorf("%s checksum %.80q is not %d hex digits", c.Type, c.Value, 2*size)
	}
	return nil
}

// String is "type:value".
func (c Checksum) String() string { return c.Type + ":" + c.Value }

// verifier hashes what goes through it and compares at the end.
type verifier struct {
	h    hash.Hash
	want Checksum
	n    int64
}

func newVerifier(c Checksum) (*verifier, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	h, _, _ := newHash(c.Type)
	return &verifier{h: h, want: c}, nil
}

func (v *verifier) Write(p []byte) (int, error) {
	v.n += int64(len(p))
	return v.h.Write(p)
}

// ok reports whether the bytes seen match; got is their digest.
func (v *verifier) ok() (got string, ok bool) {
	got = hex.EncodeToString(v.h.Sum(nil))
	return got, strings.EqualFold(got, v.want.Value)
}
