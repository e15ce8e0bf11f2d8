package cache

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// smallTree is a root any user can create: directories, files, a symlink, a
// hardlink pair.
func smallTree(tb testing.TB) string {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "small")
	for _, d := range []string{"etc/apt", "usr/bin", "var/empty"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	files := map[string]string{"etc/hostname": "ct101\n", "etc/apt/sources.list": "# none\n", "usr/bin/true": "#!/bin/sh\n"}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(root, "usr/bin/true"), filepath.Join(root, "usr/bin/yes")); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		tb.Fatal(err)
	}
	return root
}

// FuzzUnpack feeds arbitrary bytes to Unpack. Seeds are small real caches:
// a framed cache from Pack, the same tree as GNU tar and gzip files, and
// hostile tars. Whatever the input, Unpack must not panic, must stay within
// the size limit and must not touch anything beside the destination.
func FuzzUnpack(f *testing.F) {
	root := smallTree(f)
	var packed bytes.Buffer
	if _, err := Pack(context.Background(), root, &packed, PackOptions{FrameSize: 512}); err != nil {
		f.Fatal(err)
	}
	f.Add(packed.Bytes())
	for _, args := range [][]string{{"-cf"}, {"-czf"}} {
		out := filepath.Join(f.TempDir(), "seed")
		cmd := exec.Command("tar", append(args, out, "-C", root, ".")...)
		if err := cmd.Run(); err == nil {
			if data, err := os.ReadFile(out); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add(tarOf(f, &tar.Header{Name: "../evil", Typeflag: tar.TypeReg}))
	f.Add(tarOf(f, &tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../.."},
		&tar.Header{Name: "l/evil", Typeflag: tar.TypeReg},
		&tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "l"}))

	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSandbox(t)
		f := filepath.Join(filepath.Dir(s.dst), "in.tar.zst")
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		const limit = 8 << 20
		_ = Unpack(context.Background(), f, s.dst, UnpackOptions{MaxSize: limit, Workers: 2})
		s.check(t)
		var total int64
		seen := map[uint64]bool{}
		filepath.Walk(s.dst, func(_ string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				if ino := fi.Sys().(*syscall.Stat_t).Ino; !seen[ino] {
					seen[ino] = true
					total += fi.Size()
				}
			}
			return nil
		})
		if total > limit {
			t.Errorf("unpacked %d bytes of files, limit %d", total, limit)
		}
	})
}
