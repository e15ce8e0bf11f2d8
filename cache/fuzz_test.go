package cache

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	et "github.com/vzkit/vzkit/internal/extract/extracttest"
)

// FuzzUnpack feeds arbitrary bytes to Unpack: format detection, the seek
// table and the frame decoders see hostile input before the extractor does
// (whose own fuzz target, internal/extract.FuzzExtract, covers tar streams).
// Seeds are small real caches: a framed cache from Pack and the same tree
// as GNU tar and gzip files. Whatever the input, Unpack must not panic,
// must stay within the size limit and must not touch anything beside the
// destination.
func FuzzUnpack(f *testing.F) {
	root := et.SmallTree(f)
	var packed bytes.Buffer
	if _, err := Pack(context.Background(), root, &packed, PackOptions{FrameSize: 512}); err != nil {
		f.Fatal(err)
	}
	f.Add(packed.Bytes())
	for _, args := range [][]string{{"-cf"}, {"-czf"}} {
		out := filepath.Join(f.TempDir(), "seed")
		if msg, err := exec.Command("tar", append(args, out, "-C", root, ".")...).CombinedOutput(); err != nil {
			f.Fatalf("tar %v: %v\n%s", args, err, msg)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		s := et.NewSandbox(t)
		in := s.WriteFile(t, "in.tar.zst", data)
		const limit = 8 << 20
		_ = Unpack(context.Background(), in, s.Dst, UnpackOptions{MaxSize: limit, Workers: 2})
		s.Check(t)
		et.CheckTree(t, s.Dst, limit)
	})
}
