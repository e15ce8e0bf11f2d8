package rpmmd

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/vzkit/vzkit/internal/testenv"
)

// BenchmarkPrimaryAppStream parses CentOS Stream 9 AppStream's
// primary.xml.gz (17,649 packages, 51.8 MB decompressed) and, in the same
// run, libsolv's rpmmd2solv (the reader behind dnf and zypper) on the same
// decompressed bytes, as the peer to compare with.
func BenchmarkPrimaryAppStream(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(appstream, "repodata", "*-primary.xml.gz"))
	if len(files) != 1 {
		testenv.Missing(b, "fixture %s missing", appstream)
	}
	gz, err := os.ReadFile(files[0])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("rpmmd", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(51840420)
		for i := 0; i < b.N; i++ {
			r, _, err := Decompress(bytes.NewReader(gz), 0, "primary")
			if err != nil {
				b.Fatal(err)
			}
			var pkgs []Package
			err = ParsePrimary(r, "primary", func(p *Package) error {
				pkgs = append(pkgs, *p)
				return nil
			})
			if err != nil || len(pkgs) != 17649 {
				b.Fatalf("%d packages, %v", len(pkgs), err)
			}
		}
	})
	b.Run("rpmmd2solv", func(b *testing.B) {
		tool := testenv.NeedTool(b, "rpmmd2solv", "libsolv-tools")
		b.SetBytes(51840420)
		for i := 0; i < b.N; i++ {
			zr, err := gzip.NewReader(bytes.NewReader(gz))
			if err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command(tool)
			cmd.Stdin = zr
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr
			if err := cmd.Run(); err != nil {
				b.Fatalf("rpmmd2solv: %v\n%s", err, stderr.Bytes())
			}
		}
	})
}
