package main

import (
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
func TestCreateFromRegistry(t *testing.T) {
	e := newEnv(t)
	addr, _ := ocitest.StartRegistry(t)

	// A real cache with a manifest: the Debian root, packed by vzkit.
	rootDir := t.TempDir()
	untar := exec.Command("tar", "--zstd", "-xf", rootfsCache(t), "-C", rootDir)
	if out, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("unpack root: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m := &cache.Manifest{Name: "debian-12-oci", Distro: "debian", Release: "12", Arch: "amd64", Variant: "minbase", Tool: "test"}
	cachePath, _, err := cache.Save(ctx, t.TempDir(), rootDir, m, cache.PackOptions{SourceDateEpoch: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	ref := addr + "/vzkit/debian:12"
	pushed, err := oci.Push(ctx, cachePath, ref, oci.Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}

	out := e.ok("create", "101", "--ostemplate", "oci://"+ref)
	if !strings.Contains(out, pushed) || !strings.Contains(out, "as template debian-12-oci") {
		t.Errorf("create output does not report the pulled digest %s:\n%s", pushed, out)
	}
	pulled, err := os.ReadFile(e.path("var/lib/vzkit/template/cache/debian-12-oci.tar.zst"))
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(cachePath)
	if string(pulled) != string(orig) {
		t.Error("pulled cache differs from the pushed one")
	}
	e.ok("start", "101")
	if got := e.ok("exec", "101", "cat", "/etc/os-release"); !strings.Contains(got, "bookworm") {
		t.Errorf("os-release in the container from the registry:\n%s", got)
	}
	e.ok("stop", "101", "--fast")
	e.ok("destroy", "101")

	// A reference that is not there fails and registers nothing.
	e.code(1, "create", "102", "--ostemplate", "oci://"+addr+"/vzkit/missing:1")
	if _, err := os.Stat(filepath.Join(e.root, "etc/vzkit/conf/102.conf")); err == nil {
		t.Error("failed pull left 102.conf behind")
	}
}
