package cache

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkUnpack unpacks the cache of a bookworm essential root with Unpack
// and with `tar -I 'zstd -d -T0' -xf` into empty directories, alternating in
// one run, and reports both wall times and their ratio (speedup above 1 means
// Unpack is faster), and the CPU time each used: on a busy machine the CPU
// figures are the steadier comparison. VZKIT_BENCH_DIR puts the destinations
// on another filesystem (e.g. a tmpfs, to leave the disk out).
func BenchmarkUnpack(b *testing.B) {
	ess := essentialRoot(b)
	needTool(b, "tar", "zstd")
	work := b.TempDir()
	// With its manifest, as vzctl create sees it: Unpack also checks the SHA-256.
	cache, _, err := Save(context.Background(), work, ess.root,
		&Manifest{Name: "essential", Tool: "vzkit bench"}, PackOptions{SourceDateEpoch: testEpoch})
	if err != nil {
		b.Fatal(err)
	}
	arch, err := ReadManifest(ManifestPath(cache))
	if err != nil {
		b.Fatal(err)
	}
	if dir := os.Getenv("VZKIT_BENCH_DIR"); dir != "" {
		if work, err = os.MkdirTemp(dir, "vzkit-bench-"); err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(work)
	}
	b.SetBytes(arch.Archive.TarSize)
	var ours, theirs, oursCPU, theirsCPU time.Duration
	n := 0
	b.ResetTimer()
	for b.Loop() {
		d1, d2 := filepath.Join(work, fmt.Sprint("v", n)), filepath.Join(work, fmt.Sprint("t", n))
		start, cpu := time.Now(), cpuTime(syscall.RUSAGE_SELF)
		if err := Unpack(context.Background(), cache, d1, UnpackOptions{}); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
		oursCPU += cpuTime(syscall.RUSAGE_SELF) - cpu
		if err := os.Mkdir(d2, 0o755); err != nil {
			b.Fatal(err)
		}
		start, cpu = time.Now(), cpuTime(syscall.RUSAGE_CHILDREN)
		if out, err := exec.Command("tar", "-I", "zstd -d -T0", "-xf", cache, "-C", d2).CombinedOutput(); err != nil {
			b.Fatalf("tar: %v\n%s", err, out)
		}
		theirs += time.Since(start)
		theirsCPU += cpuTime(syscall.RUSAGE_CHILDREN) - cpu
		b.StopTimer()
		os.RemoveAll(d1)
		os.RemoveAll(d2)
		b.StartTimer()
		n++
	}
	b.ReportMetric(float64(ours.Milliseconds())/float64(n), "vzkit-ms/op")
	b.ReportMetric(float64(theirs.Milliseconds())/float64(n), "tar-ms/op")
	b.ReportMetric(float64(theirs)/float64(ours), "speedup")
	b.ReportMetric(float64(oursCPU.Milliseconds())/float64(n), "vzkit-cpu-ms/op")
	b.ReportMetric(float64(theirsCPU.Milliseconds())/float64(n), "tar-cpu-ms/op")
}

// cpuTime is the user+system CPU time of this process or of its waited-for
// children.
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPack packs the bookworm essential root and reports the cache
// size against mmdebstrap's own tar.zst of the same root.
func BenchmarkPack(b *testing.B) {
	ess := essentialRoot(b)
	mm, err := os.Stat(ess.mmTarZst)
	if err != nil {
		b.Fatal(err)
	}
	var arch Archive
	for b.Loop() {
		arch, err = Pack(context.Background(), ess.root, io.Discard, PackOptions{SourceDateEpoch: testEpoch})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(arch.TarSize)
	b.ReportMetric(float64(arch.Size), "cache-bytes")
	b.ReportMetric(float64(mm.Size()), "mmdebstrap-bytes")
	b.ReportMetric(float64(arch.Size)/float64(mm.Size()), "size-ratio")
}
