package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/cache/oci"
	"github.com/vzkit/vzkit/cache/oci/ocitest"
)

// An admin creates a container straight from a registry: vzctl pulls the
// cache (checking every digest), then creates and starts as from a local one.
// The image calls itself debian-12-minimal, a template the admin has; it is
// stored as debian-12, after the reference, and debian-12-minimal stays.
func TestCreateFromRegistry(t *testing.T) {
	e := newEnv(t)
	reg := ocitest.Start(t)

	// A real cache with a manifest: the Debian root, packed by vzkit.
	rootDir := t.TempDir()
	untar := exec.Command("tar", "--zstd", "-xf", rootfsCache(t), "-C", rootDir)
	if out, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("unpack root: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m := &cache.Manifest{Name: "debian-12-minimal", Distro: "debian", Release: "12", Arch: "amd64", Variant: "minbase", Tool: "test"}
	cachePath, _, err := cache.Save(ctx, t.TempDir(), rootDir, m, cache.PackOptions{SourceDateEpoch: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Addr + "/vzkit/debian:12"
	pushed, err := oci.Push(ctx, cachePath, ref, oci.Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := e.path("var/lib/vzkit/template/cache")
	localMinimal := readAll(t, filepath.Join(cacheDir, "debian-12-minimal.tar.zst"))
	localManifest := readAll(t, filepath.Join(cacheDir, "debian-12-minimal.json"))

	// The test registry speaks plain HTTP: only with --insecure-registry.
	if msg := e.code(1, "create", "101", "--ostemplate", "oci://"+ref); !strings.Contains(msg, "--insecure-registry") || !strings.Contains(msg, "not marked insecure") {
		t.Errorf("create from a plain-HTTP registry without --insecure-registry:\n%s", msg)
	}
	if _, err := os.Stat(filepath.Join(cacheDir, "debian-12.tar.zst")); err == nil {
		t.Error("refused pull wrote debian-12.tar.zst")
	}

	out := e.ok("create", "101", "--ostemplate", "oci://"+ref, "--insecure-registry")
	if !strings.Contains(out, pushed) || !strings.Contains(out, "as template debian-12\n") {
		t.Errorf("create output does not report the pulled digest %s as template debian-12:\n%s", pushed, out)
	}
	orig := readAll(t, cachePath)
	if !bytes.Equal(readAll(t, filepath.Join(cacheDir, "debian-12.tar.zst")), orig) {
		t.Error("pulled cache differs from the pushed one")
	}
	if !bytes.Equal(readAll(t, filepath.Join(cacheDir, "debian-12-minimal.tar.zst")), localMinimal) {
		t.Error("the pull replaced debian-12-minimal, the name the image gave itself")
	}
	if !bytes.Equal(readAll(t, filepath.Join(cacheDir, "debian-12-minimal.json")), localManifest) {
		t.Error("the pull rewrote debian-12-minimal.json")
	}
	if conf := string(readAll(t, e.path("etc/vzkit/conf/101.conf"))); !strings.Contains(conf, `OSTEMPLATE="debian-12"`) {
		t.Errorf("101.conf does not name template debian-12:\n%s", conf)
	}
	e.ok("start", "101")
	if got := e.ok("exec", "101", "cat", "/etc/os-release"); !strings.Contains(got, "bookworm") {
		t.Errorf("os-release in the container from the registry:\n%s", got)
	}
	e.ok("stop", "101", "--fast")
	e.ok("destroy", "101")

	// The same image again is used as it is.
	if out := e.ok("create", "102", "--ostemplate", "oci://"+ref, "--insecure-registry"); !strings.Contains(out, "already is") {
		t.Errorf("create from the same image again:\n%s", out)
	}
	e.ok("destroy", "102")

	// The tag moves on to other bytes: create never replaces the template.
	small := t.TempDir()
	os.MkdirAll(filepath.Join(small, "etc"), 0o755)
	os.WriteFile(filepath.Join(small, "etc/os-release"), []byte("ID=other\n"), 0o644)
	otherCache, _, err := cache.Save(ctx, t.TempDir(), small, &cache.Manifest{Name: "other", Tool: "test"}, cache.PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oci.Push(ctx, otherCache, ref, oci.Options{Insecure: true}); err != nil {
		t.Fatal(err)
	}
	msg := e.code(1, "create", "103", "--ostemplate", "oci://"+ref, "--insecure-registry")
	if !strings.Contains(msg, filepath.Join(cacheDir, "debian-12.tar.zst")) || !strings.Contains(msg, "vzpkg cache pull --replace") {
		t.Errorf("create over a different debian-12:\n%s", msg)
	}
	if !bytes.Equal(readAll(t, filepath.Join(cacheDir, "debian-12.tar.zst")), orig) {
		t.Error("refused create changed debian-12")
	}
	if _, err := os.Stat(e.path("etc/vzkit/conf/103.conf")); err == nil {
		t.Error("refused pull left 103.conf behind")
	}

	// A reference that is not there fails and registers nothing.
	e.code(1, "create", "104", "--ostemplate", "oci://"+reg.Addr+"/vzkit/missing:1", "--insecure-registry")
	if _, err := os.Stat(e.path("etc/vzkit/conf/104.conf")); err == nil {
		t.Error("failed pull left 104.conf behind")
	}
}

func readAll(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
