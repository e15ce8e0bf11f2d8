package extract_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/installer/deb"
	"github.com/vzkit/vzkit/internal/extract"
	et "github.com/vzkit/vzkit/internal/extract/extracttest"
	"github.com/vzkit/vzkit/internal/testfixtures"
)

// hostCanary is a host path that must never exist: seeds aim symlinks and
// entries at it, so an escape by an absolute path would create it.
const hostCanary = "/tmp/vzkit-extract-fuzz-canary"

// FuzzExtract: whatever the tar stream, under either policy (the second
// argument picks it) nothing appears outside the destination or changes
// there, no file content beyond the limit is written, and no device node
// outside the standard set exists. Seeds are real streams (the data.tar of
// the fixture .debs, a tree as cache.Pack and as GNU tar write it) and
// hostile ones, each under both policies.
func FuzzExtract(f *testing.F) {
	seeds := append(realDataTars(f), packedTree(f), gnuTar(f))
	for _, ents := range hostileSeeds() {
		seeds = append(seeds, et.Tar(f, ents...))
	}
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, cacheRestore bool) {
		p := extract.DpkgUnpack
		if cacheRestore {
			p = extract.CacheRestore
		}
		const limit = 8 << 20
		s := et.NewSandbox(t)
		_, _ = unpack(t, s.Dst, p, data, extract.Options{
			MaxEntries: 1000, MaxTotalBytes: limit, MaxStreamBytes: limit, Workers: 2})
		s.Check(t)
		mustNotExist(t, hostCanary)
		et.CheckTree(t, s.Dst, limit)
	})
}

// hostileSeeds are the archives of the traversal suite in short.
func hostileSeeds() [][]et.Entry {
	return [][]et.Entry{
		{et.Reg("../evil", "x")},
		{et.Reg(hostCanary, "absolute")},
		{et.Sym("l", "../.."), et.Reg("l/evil", "x"), et.Hard("h", "l")},
		{et.Sym("t", hostCanary), et.Reg("t/evil", "x"), et.Dir("t/", 0o755), et.Reg("t/evil", "x")},
		{et.Sym("r", "/"), et.Reg("r"+hostCanary, "through /")},
		{et.Sym("s", hostCanary), et.Hard("h", "s"), et.Reg("h", "over")},
		{et.Hard("h", "a/../../outside/secret")},
		{et.Dir("dev", 0o755), et.Node("dev/null", tar.TypeChar, 1, 3).WithMode(0o666),
			et.Node("dev/mem", tar.TypeChar, 1, 1), et.Node("dev/loop0", tar.TypeBlock, 7, 0),
			et.Node("dev/initctl", tar.TypeFifo, 0, 0)},
		{et.Reg("ping", "p").WithMode(0o4755).WithXattr("user.x", "v")},
	}
}

// realDataTars returns the data.tar members of the fixture .debs,
// decompressed and cut to about 2 KiB each with bodies of at most 128 bytes
// (small seeds let the fuzzer reach the headers; a truncated tar is still
// a valid seed).
func realDataTars(tb testing.TB) [][]byte {
	var out [][]byte
	fixtures := testfixtures.Dir()
	for _, pattern := range []string{
		"debian-archive/debian/pool/*/*/*/*.deb",
		"aptly/system/*/*.deb", "aptly/system/*/*/*.deb", "aptly/system/*/*.ddeb", "aptly/system/*/*.udeb",
	} {
		files, _ := filepath.Glob(filepath.Join(fixtures, pattern))
		for _, f := range files {
			out = append(out, cutDataTar(tb, f))
		}
	}
	if len(out) == 0 { // as installer/deb's tests, which skip without them
		tb.Logf("no fixture .debs under %s: seeding without them", fixtures)
	}
	return out
}

func cutDataTar(tb testing.TB, file string) []byte {
	p, err := deb.Open(file)
	if err != nil {
		tb.Fatalf("seed %s: %v", file, err)
	}
	tr, c, err := p.Data(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for buf.Len() < 2<<10 {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("seed %s: %v", file, err)
		}
		body, err := io.ReadAll(io.LimitReader(tr, 128))
		if err != nil {
			tb.Fatalf("seed %s: %v", file, err)
		}
		if h.Size > 0 {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Flush(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// packedTree is the tar stream cache.Pack writes for a small tree.
func packedTree(tb testing.TB) []byte {
	var packed bytes.Buffer
	if _, err := cache.Pack(context.Background(), et.SmallTree(tb), &packed, cache.PackOptions{FrameSize: 512}); err != nil {
		tb.Fatal(err)
	}
	d, err := zstd.NewReader(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer d.Close()
	out, err := d.DecodeAll(packed.Bytes(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// gnuTar is the same kind of tree as GNU tar writes it.
func gnuTar(tb testing.TB) []byte {
	out := filepath.Join(tb.TempDir(), "seed.tar")
	if msg, err := exec.Command("tar", "-cf", out, "-C", et.SmallTree(tb), ".").CombinedOutput(); err != nil {
		tb.Fatalf("tar -cf: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
