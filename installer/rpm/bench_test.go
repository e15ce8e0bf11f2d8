package rpm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vzkit/vzkit/internal/extract"
	"github.com/vzkit/vzkit/internal/testenv"
)

// bigSpec makes a package of 2,000 files of 64 KiB of text (128 MiB)
// with the given payload compressor.
const bigSpec = `Name: vzkit-big
Version: 1.0
Release: 1
Summary: big
License: MIT
BuildArch: noarch
%%define _binary_payload %s
%%description
big
%%install
mkdir -p %%{buildroot}/usr/share/big
for d in $(seq 1 20); do
  mkdir -p %%{buildroot}/usr/share/big/$d
  for f in $(seq 1 100); do
    yes "line $d $f of a file that compresses about as well as code" | head -c 65536 > %%{buildroot}/usr/share/big/$d/$f
  done
done
%%files
/usr/share/big
`

// BenchmarkExtract extracts a 128 MiB package (built with rpmbuild)
// with Extract and installs it with rpm -i --root --noscripts, for each
// payload compressor: the cost of vzkit's own unpack next to rpm's.
func BenchmarkExtract(b *testing.B) {
	rpmbuild := testenv.NeedTool(b, "rpmbuild", "rpm")
	rpmBin := testenv.NeedTool(b, "rpm", "rpm")
	for _, comp := range []string{"w19.zstdio", "w6.xzdio", "w9.gzdio"} {
		top := b.TempDir()
		spec := filepath.Join(top, "big.spec")
		os.WriteFile(spec, []byte(fmt.Sprintf(bigSpec, comp)), 0o644)
		if out, err := exec.Command(rpmbuild, "--define", "_topdir "+top, "--quiet", "-bb", spec).CombinedOutput(); err != nil {
			b.Fatalf("rpmbuild: %v\n%s", err, out)
		}
		file := filepath.Join(top, "RPMS/noarch/vzkit-big-1.0-1.noarch.rpm")
		p, err := Open(file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("Extract/"+comp, func(b *testing.B) {
			b.SetBytes(128 << 20)
			for b.Loop() {
				root := b.TempDir()
				r, _ := extract.OpenRoot(root)
				if _, err := p.Extract(context.Background(), r, ExtractOptions{}); err != nil {
					b.Fatal(err)
				}
				r.Close()
				os.RemoveAll(root)
			}
		})
		b.Run("rpm-i/"+comp, func(b *testing.B) {
			b.SetBytes(128 << 20)
			for b.Loop() {
				root := b.TempDir()
				if out, err := exec.Command(rpmBin, "-i", "--root", root, "--dbpath", "/rpmdb", "--nodeps", "--noscripts", "--nosignature", file).CombinedOutput(); err != nil {
					b.Fatalf("rpm -i: %v %s", err, out)
				}
				os.RemoveAll(root)
			}
		})
	}
}
