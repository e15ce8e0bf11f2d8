package sign

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vzkit/vzkit/internal/testfixtures"
)

// FuzzParseSigner feeds key files to the secret key reader: it must return
// an error or a usable signer, never panic. Seeds: a generated secret key
// and the real public keys among the shared fixtures (which must be refused).
func FuzzParseSigner(f *testing.F) {
	k := newKey(f, "seed")
	for _, p := range []string{k.secret, k.public} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	fixtures, _ := filepath.Glob(testfixtures.Path("debian-archive/keyrings/*.asc"))
	for _, p := range fixtures {
		if data, err := os.ReadFile(p); err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSigner(data)
		if err != nil {
			return
		}
		if s.Fingerprint() == "" {
			t.Error("signer without a fingerprint")
		}
	})
}
