package installer_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testfixtures"

	"github.com/vzkit/vzkit/installer"
	"github.com/vzkit/vzkit/installer/deb"
)

var fixtures = testfixtures.Dir()

// realDataTars returns the data.tar members of the fixture .debs,
// decompressed and cut to about 8 KiB each with bodies of at most 512 bytes
// (small seeds let the fuzzer reach the headers; a
// truncated tar is still a valid seed).
func realDataTars(t testing.TB) [][]byte {
	var out [][]byte
	for _, pattern := range []string{
		"debian-archive/debian/pool/*/*/*/*.deb",
		"aptly/system/*/*.deb", "aptly/system/*/*/*.deb", "aptly/system/*/*.ddeb", "aptly/system/*/*.udeb",
	} {
		files, _ := filepath.Glob(filepath.Join(fixtures, pattern))
		for _, f := range files {
			p, err := deb.Open(f)
			if err != nil {
				t.Logf("seed %s: %v", f, err)
				continue
			}
			tr, c, err := p.Data(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for buf.Len() < 8<<10 {
				h, err := tr.Next()
				if err != nil {
					break
				}
				body, _ := io.ReadAll(io.LimitReader(tr, 512))
				if h.Size > 0 {
					h.Size = int64(len(body))
				}
				if err := tw.WriteHeader(h); err != nil {
					t.Fatal(err)
				}
				tw.Write(body)
			}
			tw.Flush()
			c.Close()
			out = append(out, buf.Bytes())
		}
	}
	return out
}

// FuzzExtract: whatever the archive, nothing appears outside the root.
func FuzzExtract(f *testing.F) {
	for _, s := range realDataTars(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		root := filepath.Join(base, "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		r, err := installer.OpenRoot(root)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		_, err = r.Extract(context.Background(), tar.NewReader(bytes.NewReader(data)),
			installer.Options{MaxTotalBytes: 1 << 20, MaxEntries: 1000, IgnoreOwner: true})
		if errors.Is(err, installer.ErrUnsafePath) && !strings.Contains(err.Error(), "..") &&
			!strings.Contains(err.Error(), "NUL") && !strings.Contains(err.Error(), "symlink") &&
			!strings.Contains(err.Error(), "hardlink") && !strings.Contains(err.Error(), "root") {
			t.Errorf("unexplained unsafe-path error: %v", err)
		}
		ents, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 1 {
			t.Fatalf("extraction wrote beside the root: %v", ents)
		}
	})
}
