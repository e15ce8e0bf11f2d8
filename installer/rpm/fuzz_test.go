package rpm

import (
	"archive/tar"
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testfixtures"
)

// fixtureRPMs are the real packages the fuzz targets start from.
func fixtureRPMs(f *testing.F) []string {
	var out []string
	filepath.Walk(testfixtures.Dir(), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && (strings.HasSuffix(p, ".rpm") || strings.HasSuffix(p, ".rpm-v3")) && info.Size() < 1<<20 {
			out = append(out, p)
		}
		return nil
	})
	if len(out) == 0 {
		f.Fatal("no .rpm fixtures found")
	}
	return out
}

// FuzzOpen feeds mutated lead and headers to the reader: it must refuse
// or read them, never panic, whatever the index entries and arrays say;
// what it read must then survive the file list and signature parsing.
func FuzzOpen(f *testing.F) {
	for _, p := range fixtureRPMs(f) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		// The lead and headers only: the payload is another target's.
		end := len(data)
		if pkg, err := read(bytes.NewReader(data)); err == nil {
			end = int(pkg.payloadOff)
		}
		f.Add(data[:min(end, 16<<10)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := read(bytes.NewReader(data))
		if err != nil {
			return
		}
		p.Path = "fuzz.rpm"
		for _, f := range p.Files() {
			_ = checkPath(f.Path)
			_, _ = capXattr(f.Caps)
		}
		_, _ = p.newVerifier(Options{})
	})
}

// FuzzPayload feeds mutated cpio archives, newc and stripped, to the
// conversion into the extractor's tar stream, under the header of a real
// package with hardlinks: it must fail or produce a tar stream, never
// panic or read past its bound.
func FuzzPayload(f *testing.F) {
	p, err := Open(testfixtures.Path("rpm-org/tests/data/RPMS/hlinktest-1.0-1.noarch.rpm"))
	if err != nil {
		f.Fatal(err)
	}
	var w bytes.Buffer
	for _, fl := range p.Files() {
		newc(&w, "."+fl.Path, fl.Mode, fl.Inode, 1, nil)
	}
	cpioTrailer(&w)
	f.Add(w.Bytes())
	if data, err := os.ReadFile(testfixtures.Path("go-rpmutils/testdata/dotdot.cpio")); err == nil {
		f.Add(data)
	}
	f.Add([]byte("07070X0000000000" + "07070X00000009"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vf, err := p.newVerifier(Options{})
		if err != nil {
			t.Fatal(err)
		}
		u, err := p.newUnpacker(vf, ExtractOptions{})
		if err != nil {
			t.Fatal(err)
		}
		u.cpio = &cpioReader{r: bufio.NewReader(&boundedReader{r: bytes.NewReader(data), left: u.bound, max: u.bound}), sizes: u.strippedSize}
		_ = u.convert(tar.NewWriter(io.Discard))
	})
}
