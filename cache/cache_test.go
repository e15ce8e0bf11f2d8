package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	et "github.com/vzkit/vzkit/internal/extract/extracttest"
)

var testEpoch = time.Date(2025, 5, 20, 0, 0, 0, 0, time.UTC)

// packTwice packs root with different worker counts and checks the bytes
// are the same; it returns the path of the first cache.
func packTwice(t *testing.T, root string, opts PackOptions) (string, Archive) {
	t.Helper()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.tar.zst"), filepath.Join(dir, "b.tar.zst")
	opts.Workers = 1
	archA := packFile(t, root, a, opts)
	opts.Workers = 4
	archB := packFile(t, root, b, opts)
	da, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(da, db) {
		t.Fatalf("two packs of %s differ: %d and %d bytes", root, len(da), len(db))
	}
	sum := sha256.Sum256(da)
	if archA.SHA256 != hex.EncodeToString(sum[:]) || archA.Size != int64(len(da)) {
		t.Errorf("Archive says sha256 %s size %d; file has %x size %d", archA.SHA256, archA.Size, sum, len(da))
	}
	if archA.SHA256 != archB.SHA256 || archA.TarSHA256 != archB.TarSHA256 {
		t.Errorf("Archive records differ between worker counts")
	}
	return a, archA
}

// checkWithTools checks a cache with the stock tools a user has.
func checkWithTools(t *testing.T, cache string, arch Archive) {
	t.Helper()
	list := run(t, "tar", "--zstd", "--numeric-owner", "-tvf", cache)
	lines := strings.Split(strings.TrimRight(list, "\n"), "\n")
	if len(lines) != arch.Entries {
		t.Errorf("tar -tvf lists %d entries, Archive.Entries = %d", len(lines), arch.Entries)
	}
	// zstd -d reads the concatenated frames and skips the seek table.
	out, err := exec.Command("zstd", "-d", "-c", cache).Output()
	if err != nil {
		t.Fatalf("zstd -d %s: %v", cache, err)
	}
	sum := sha256.Sum256(out)
	if hex.EncodeToString(sum[:]) != arch.TarSHA256 || int64(len(out)) != arch.TarSize {
		t.Errorf("zstd -d gives %d bytes sha256 %x; Archive says %d bytes %s", len(out), sum, arch.TarSize, arch.TarSHA256)
	}
	if len(arch.Frames) == 0 {
		t.Errorf("no frames recorded")
	}
	var last Frame
	for i, f := range arch.Frames {
		if f.TarLen > arch.FrameSize || (i < len(arch.Frames)-1 && f.TarLen != arch.FrameSize) {
			t.Errorf("frame %d has %d tar bytes, frame size is %d", i, f.TarLen, arch.FrameSize)
		}
		last = f
	}
	if last.TarOff+last.TarLen != arch.TarSize {
		t.Errorf("frames cover %d tar bytes of %d", last.TarOff+last.TarLen, arch.TarSize)
	}
}

// A small tree is cut into several frames by its size alone, so that it
// packs and unpacks in parallel; a large one keeps the default.
func TestFrameSizeFollowsTree(t *testing.T) {
	for _, c := range []struct {
		bytes int64
		want  int
	}{
		{0, 1 << 20}, {3 << 20, 1 << 20}, {10 << 20, 3 << 20}, {40 << 20, 10 << 20},
		{64<<20 - 1, 16 << 20}, {64 << 20, DefaultFrameSize}, {1 << 40, DefaultFrameSize},
	} {
		if got := frameSizeFor(c.bytes); got != c.want {
			t.Errorf("frameSizeFor(%d) = %d, want %d", c.bytes, got, c.want)
		}
	}
	root := t.TempDir()
	big := make([]byte, 5<<20)
	for i := range big {
		big[i] = byte(i * 7 / 5)
	}
	if err := os.WriteFile(filepath.Join(root, "five"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	var one, two bytes.Buffer
	arch, err := Pack(context.Background(), root, &one, PackOptions{SourceDateEpoch: testEpoch, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if arch.FrameSize != 2<<20 || len(arch.Frames) != 3 {
		t.Errorf("a 5 MiB tree: frame size %d, %d frames; want 2 MiB, 3", arch.FrameSize, len(arch.Frames))
	}
	if _, err := Pack(context.Background(), root, &two, PackOptions{SourceDateEpoch: testEpoch, Workers: 3}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(one.Bytes(), two.Bytes()) {
		t.Error("the same tree packed by 1 and by 3 workers differs")
	}
}

func TestSyntheticPackUnpack(t *testing.T) {
	root := syntheticTree(t, testEpoch)
	want := snapshot(t, root)
	if _, ok := want["tmp/socket"]; ok {
		t.Fatal("snapshot must leave sockets out")
	}
	// Small frames so that this small tree has several.
	cache, arch := packTwice(t, root, PackOptions{SourceDateEpoch: testEpoch, FrameSize: 256 << 10})
	if len(arch.Frames) < 3 {
		t.Fatalf("want several frames, got %d", len(arch.Frames))
	}
	checkWithTools(t, cache, arch)
	if arch.Entries != len(want) {
		t.Errorf("Archive.Entries = %d, tree has %d entries besides the socket", arch.Entries, len(want))
	}
	list := run(t, "tar", "--zstd", "--numeric-owner", "-tvf", cache)
	for _, frag := range []string{"-rwsr-xr-x 0/0", "-rwxr-sr-x 0/5", "crw-rw-rw- 0/0",
		"prw------- 0/0", "./bin -> /usr/bin", "3000000/3000001",
		// gunzip sorts before gzip and zcat, so it is the file; the others link to it.
		"./usr/bin/gzip link to ./usr/bin/gunzip", "./usr/bin/zcat link to ./usr/bin/gunzip"} {
		if !strings.Contains(list, frag) {
			t.Errorf("tar -tvf output lacks %q:\n%s", frag, list)
		}
	}
	if strings.Contains(list, "socket") {
		t.Errorf("socket was packed")
	}

	// Clamping: every mtime in the tree is at most the epoch, and every
	// directory's is the epoch.
	clamped := map[string]node{}
	for p, n := range want {
		if n.Mtime > testEpoch.Unix() || n.Type == "dir" {
			n.Mtime = testEpoch.Unix()
		}
		clamped[p] = n
	}

	dst := filepath.Join(t.TempDir(), "ct")
	if err := Unpack(context.Background(), cache, dst, UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	sameTree(t, clamped, snapshot(t, dst), "Unpack")
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dst, "var/lib/sparse.img"), &st); err != nil || st.Size != 64<<20 || st.Blocks*512 > 1<<20 {
		t.Errorf("sparse.img unpacked: size %d, %d bytes allocated, %v; want 64 MiB with holes", st.Size, st.Blocks*512, err)
	}
	if caps := run(t, "getcap", filepath.Join(dst, "usr/bin/ping")); !strings.Contains(caps, "cap_net_raw=ep") {
		t.Errorf("getcap on the unpacked ping: %q", caps)
	}

	// GNU tar is the oracle: it must build the same tree from our cache.
	gnu := filepath.Join(t.TempDir(), "gnu")
	os.Mkdir(gnu, 0o755)
	run(t, "tar", "--zstd", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", cache, "-C", gnu)
	sameTree(t, clamped, snapshot(t, gnu), "GNU tar")
}

func TestUnpackOtherFormats(t *testing.T) {
	needTool(t, "tar", "gzip", "xz", "zstd")
	root := syntheticTree(t, testEpoch)
	want := snapshot(t, root)
	dir := t.TempDir()
	plain := filepath.Join(dir, "c.tar")
	run(t, "tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-cf", plain, "-C", root, ".")
	run(t, "sh", "-c", `gzip -k -c "$1" > "$1.gz" && xz -k -c "$1" > "$1.xz" && zstd -q -c "$1" > "$1.zst"`, "sh", plain)
	for _, c := range []struct{ file, wantFormat string }{
		{plain, "tar"}, {plain + ".gz", "gzip"}, {plain + ".xz", "xz"}, {plain + ".zst", "zstd"},
	} {
		// A misleading name: the format comes from the magic bytes.
		named := filepath.Join(dir, "cache-"+c.wantFormat+".bin")
		if err := os.Rename(c.file, named); err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 512)
		f, _ := os.Open(named)
		n, _ := f.Read(head)
		f.Close()
		if got, err := DetectFormat(head[:n]); err != nil || string(got) != c.wantFormat {
			t.Errorf("DetectFormat(%s) = %q, %v; want %s", named, got, err, c.wantFormat)
		}
		dst := filepath.Join(t.TempDir(), "ct")
		if err := Unpack(context.Background(), named, dst, UnpackOptions{}); err != nil {
			t.Fatalf("%s: %v", c.wantFormat, err)
		}
		got := snapshot(t, dst)
		sameTree(t, want, got, c.wantFormat)
	}
}

func TestSaveVerifyTamper(t *testing.T) {
	root := syntheticTree(t, testEpoch)
	dir := t.TempDir()
	m := &Manifest{Name: "debian-12-x86_64-minimal", Distro: "debian", Release: "12", Arch: "amd64",
		MetadataDigest: "sha256:" + strings.Repeat("ab", 32), Tool: "vzkit test",
		Packages: []Package{{Name: "base-files", Version: "12.4+deb12u11", Arch: "amd64", SHA256: strings.Repeat("cd", 32)}}}
	cachePath, manifestPath, err := Save(context.Background(), dir, root, m, PackOptions{SourceDateEpoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	if manifestPath != filepath.Join(dir, "debian-12-x86_64-minimal.json") {
		t.Errorf("manifest at %s", manifestPath)
	}
	got, err := ReadManifest(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if got.Archive.SHA256 == "" || got.Archive.Entries == 0 || got.Packages[0].Name != "base-files" ||
		got.Archive.SourceDateEpoch != testEpoch.Unix() || len(got.Archive.Frames) == 0 {
		t.Errorf("manifest read back: %+v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("dir holds %d files, want cache and manifest only", len(entries))
	}
	if err := Unpack(context.Background(), cachePath, filepath.Join(t.TempDir(), "ok"), UnpackOptions{RequireManifest: true}); err != nil {
		t.Fatal(err)
	}
	if vm, err := Verify(context.Background(), cachePath); err != nil || vm.Archive.SHA256 != got.Archive.SHA256 {
		t.Errorf("Verify of a good cache: %v", err)
	}

	// One flipped byte in the middle of the file.
	data, err := os.ReadFile(cachePath)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(cachePath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "bad")
	err = Unpack(context.Background(), cachePath, dst, UnpackOptions{})
	if err == nil || !strings.Contains(err.Error(), cachePath) || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("tampered cache: err = %v, want a SHA-256 error naming %s", err, cachePath)
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tampered cache: %s was created before verification failed", dst)
	}
	if _, err := Verify(context.Background(), cachePath); err == nil || !strings.Contains(err.Error(), cachePath) {
		t.Errorf("Verify of a tampered cache: %v", err)
	}
	// Without a manifest, RequireManifest refuses.
	os.Remove(manifestPath)
	if err := Unpack(context.Background(), cachePath, dst, UnpackOptions{RequireManifest: true}); err == nil {
		t.Error("RequireManifest accepted a cache without manifest")
	}
}

func TestSaveInterrupted(t *testing.T) {
	root := syntheticTree(t, testEpoch)
	dir := t.TempDir()
	m := &Manifest{Name: "t", Tool: "vzkit test"}
	// An old pair from an earlier build.
	if _, _, err := Save(context.Background(), dir, root, m, PackOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Save(ctx, dir, root, &Manifest{Name: "t"}, PackOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Save with a cancelled context: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "t.tar.zst" {
			t.Errorf("after an interrupted save %s is left", e.Name())
		}
	}
	// The old cache is still there but has no manifest, so it does not verify.
	if err := Unpack(context.Background(), filepath.Join(dir, "t.tar.zst"), t.TempDir(), UnpackOptions{RequireManifest: true}); err == nil {
		t.Error("a cache whose save was interrupted still unpacks with RequireManifest")
	}
}

func TestUnpackSizeLimit(t *testing.T) {
	root := syntheticTree(t, testEpoch)
	dir := t.TempDir()
	for _, framed := range []bool{true, false} {
		cache := filepath.Join(dir, "c.tar.zst")
		arch := packFile(t, root, cache, PackOptions{})
		if !framed { // the same stream without seek table: streaming decoder
			run(t, "sh", "-c", `zstd -q -d -c "$1" | zstd -q -c > "$1.s" && mv "$1.s" "$1"`, "sh", cache)
		}
		err := Unpack(context.Background(), cache, filepath.Join(t.TempDir(), "ct"), UnpackOptions{MaxSize: arch.TarSize / 2})
		if err == nil || !strings.Contains(err.Error(), "exceeds the limit") {
			t.Errorf("framed=%v: unpack over the limit: %v", framed, err)
		}
		if err := Unpack(context.Background(), cache, filepath.Join(t.TempDir(), "ct"), UnpackOptions{MaxSize: arch.TarSize}); err != nil {
			t.Errorf("framed=%v: unpack at exactly the limit: %v", framed, err)
		}
		err = Unpack(context.Background(), cache, filepath.Join(t.TempDir(), "ct"), UnpackOptions{MaxEntries: arch.Entries - 1})
		if err == nil || !strings.Contains(err.Error(), "entry limit") {
			t.Errorf("framed=%v: unpack over the entry limit: %v", framed, err)
		}
		if err := Unpack(context.Background(), cache, filepath.Join(t.TempDir(), "ct"), UnpackOptions{MaxEntries: arch.Entries}); err != nil {
			t.Errorf("framed=%v: unpack at exactly the entry limit: %v", framed, err)
		}
	}
}

func TestEssentialRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Debian root with mmdebstrap")
	}
	ess := essentialRoot(t)
	want := snapshot(t, ess.root)
	start := time.Now()
	cache, arch := packTwice(t, ess.root, PackOptions{SourceDateEpoch: testEpoch})
	t.Logf("mmdebstrap root built in %v; two packs in %v", ess.buildTime, time.Since(start))
	checkWithTools(t, cache, arch)
	if arch.Entries != len(want) {
		t.Errorf("Archive.Entries = %d, root has %d entries", arch.Entries, len(want))
	}
	mm, err := os.Stat(ess.mmTarZst)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bookworm essential: %d entries, tar %d bytes, vzkit cache %d bytes (%d frames), mmdebstrap tar.zst %d bytes, ratio %.3f",
		arch.Entries, arch.TarSize, arch.Size, len(arch.Frames), mm.Size(), float64(arch.Size)/float64(mm.Size()))
	// Frames cost some ratio; the cache must stay close to mmdebstrap's.
	if float64(arch.Size) > 1.10*float64(mm.Size()) {
		t.Errorf("cache is %d bytes, more than 110%% of mmdebstrap's %d", arch.Size, mm.Size())
	}
	for p, n := range want {
		if n.Mtime > testEpoch.Unix() || n.Type == "dir" {
			n.Mtime = testEpoch.Unix()
			want[p] = n
		}
	}
	dst := filepath.Join(t.TempDir(), "ct")
	start = time.Now()
	if err := Unpack(context.Background(), cache, dst, UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("Unpack: %v", time.Since(start))
	sameTree(t, want, snapshot(t, dst), "Unpack(essential)")
}

func TestUnpackCancelled(t *testing.T) {
	root := et.SmallTree(t)
	cache := filepath.Join(t.TempDir(), "c.tar.zst")
	packFile(t, root, cache, PackOptions{FrameSize: 512})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Unpack(ctx, cache, filepath.Join(t.TempDir(), "ct"), UnpackOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Unpack with a cancelled context: %v", err)
	}
}

func TestPackSkipsMounts(t *testing.T) {
	needRoot(t)
	root := et.SmallTree(t)
	proc := filepath.Join(root, "proc")
	if err := os.Mkdir(proc, 0o555); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", proc, "tmpfs", 0, "size=1m,mode=0555"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(proc, syscall.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(proc, "mounted-file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "c.tar.zst")
	arch := packFile(t, root, cache, PackOptions{})
	list := run(t, "tar", "--zstd", "-tf", cache)
	if !strings.Contains(list, "./proc/\n") || strings.Contains(list, "mounted-file") {
		t.Errorf("want the mount point ./proc/ without its content:\n%s", list)
	}
	if n := strings.Count(list, "\n"); n != arch.Entries {
		t.Errorf("tar lists %d entries, Archive.Entries = %d", n, arch.Entries)
	}
}
