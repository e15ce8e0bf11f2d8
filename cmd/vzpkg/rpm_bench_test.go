package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/repo/rpmmd/rpmmdtest"
)

// BenchmarkRPMBuild builds the test RPM distribution (rpmmdtest: @core,
// oldtool, clock) from one loopback repository two ways, each from an
// empty package cache: vzpkg build (resolve, download, verify, install by
// the root's own rpm, pack a reproducible tar.zst), and dnf
// --installroot into an empty root followed by tar --zstd, which is what a
// cache built with dnf would take, both packing at zstd level 3 and neither running template scripts. Reported
// as each one's seconds and their ratio (target <= 0.5); -v logs vzpkg's
// stage timings.
//
//	go test -tags seccomp -run '^$' -bench RPMBuild -benchtime 1x ./cmd/vzpkg
func BenchmarkRPMBuild(b *testing.B) {
	testenv.NeedRoot(b, "vzpkg build and dnf --installroot install as root")
	dnf := testenv.NeedTool(b, "dnf", "dnf")
	r := rpmmdtest.Build(b, rpmmdtest.Distribution(b), rpmmdtest.Options{Comps: rpmmdtest.Comps})
	mirror := r.Serve(b)
	dir := b.TempDir()
	keyFile := filepath.Join(dir, "vzkittest.asc")
	if err := os.WriteFile(keyFile, r.Key, 0o644); err != nil {
		b.Fatal(err)
	}
	// zstd level 3, tar --zstd's, so that both pack alike (the shipped
	// templates' higher level trades build time for smaller caches).
	// No template scripts: dnf runs none.
	tmpl := fmt.Sprintf(rpmPackagesTemplate, keyFile, r.Fingerprint) + "cache:\n  zstd-level: 3\n"
	if err := os.WriteFile(filepath.Join(dir, "vzkittest-1-minimal.yaml"), []byte(tmpl), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	var vz, peer time.Duration
	for i := range b.N {
		e := newE2EEnv(b)
		start := time.Now()
		out := e.must("vzpkg", "--templates", dir, "build", "vzkittest-1-minimal", "--mirror", mirror, "-o", b.TempDir())
		if i == 0 {
			b.Log(out) // its stage timings
		}
		vz += time.Since(start)

		root, cacheDir := b.TempDir(), b.TempDir()
		start = time.Now()
		cmd := exec.Command(dnf, "--installroot", root, "--releasever", "1", "--setopt=cachedir="+cacheDir,
			"--setopt=reposdir=/nonexistent", "--repofrompath", "base,"+mirror, "--repo", "base",
			"--setopt=base.gpgcheck=1", "--setopt=base.gpgkey=file://"+keyFile,
			"--setopt=install_weak_deps=False", "--nodocs", "-y", "-q", "install", "@core", "oldtool", "clock")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("dnf --installroot: %v\n%s", err, out)
		}
		if out, err := exec.Command("tar", "--zstd", "-cf", filepath.Join(b.TempDir(), "dnf.tar.zst"), "-C", root, ".").CombinedOutput(); err != nil {
			b.Fatalf("tar --zstd: %v\n%s", err, out)
		}
		peer += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(vz.Seconds()/n, "vzpkg-s")
	b.ReportMetric(peer.Seconds()/n, "dnf+tar-s")
	b.ReportMetric(vz.Seconds()/peer.Seconds(), "ratio")
}
