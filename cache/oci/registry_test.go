package oci

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/testenv"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/cache/oci/ocitest"
)

func TestRegistryRoundTrip(t *testing.T) {
	addr, storage := ocitest.StartRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cachePath := makeCache(t)
	orig, err := cache.ReadManifest(cache.ManifestPath(cachePath))
	if err != nil {
		t.Fatal(err)
	}
	ref := addr + "/vzkit/debian:12-test"
	opts := Options{Insecure: true}
	pushed, err := Push(ctx, cachePath, ref, opts)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	layoutDigest, err := ExportLayout(ctx, cachePath, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if pushed != layoutDigest {
		t.Errorf("pushed digest %s differs from the layout export's %s", pushed, layoutDigest)
	}

	for r, name := range map[string]string{ref: "debian-12-test", addr + "/vzkit/debian@" + pushed: "debian-" + pushed[7:19]} {
		dest := t.TempDir()
		res, err := Pull(ctx, r, dest, opts)
		if err != nil {
			t.Fatalf("Pull %s: %v", r, err)
		}
		if res.Digest != pushed || res.Name != name || res.CachePath != filepath.Join(dest, name+".tar.zst") {
			t.Errorf("Pull %s: digest %s as %s, want pushed %s as %s", r, res.Digest, res.CachePath, pushed, name)
		}
		if !bytes.Equal(readFile(t, res.CachePath), readFile(t, cachePath)) {
			t.Errorf("Pull %s: cache is not byte-identical", r)
		}
		back, err := cache.ReadManifest(res.ManifestPath)
		if err != nil {
			t.Fatalf("pulled manifest: %v", err)
		}
		// All of the manifest travels but the name, which is the local one.
		want := *orig
		want.Name = res.Name
		if !reflect.DeepEqual(back, &want) {
			t.Errorf("pulled manifest %+v, want %+v", back, &want)
		}
	}

	// The registry keeps the layer as the cache's bytes under its digest:
	// corrupt it there and Pull must refuse, naming the blob.
	data := filepath.Join(storage, "docker/registry/v2/blobs/sha256", orig.Archive.SHA256[:2], orig.Archive.SHA256, "data")
	b := readFile(t, data)
	if !bytes.Equal(b, readFile(t, cachePath)) {
		t.Fatalf("registry blob %s is not the cache file", data)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(data, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	_, err = Pull(ctx, ref, dest, opts)
	if err == nil || !strings.Contains(err.Error(), "sha256:"+orig.Archive.SHA256) {
		t.Fatalf("Pull of a corrupted blob: err = %v, want a refusal naming sha256:%s", err, orig.Archive.SHA256)
	}
	t.Logf("corrupted blob refused: %v", err)
	if ents, _ := os.ReadDir(dest); len(ents) != 0 {
		t.Errorf("refused pull left %v in %s", ents, dest)
	}
}

// TestPodmanPeer checks that a real runtime (podman 4, which reads zstd
// layers) accepts all three export forms: docker archive, OCI layout and
// registry push, and unpacks the cache's files from the layer.
func TestPodmanPeer(t *testing.T) {
	testenv.NeedRoot(t, "podman with private storage under a temporary directory")
	testenv.NeedTool(t, "podman", "podman")
	addr, _ := ocitest.StartRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cachePath := makeCache(t)
	m, _ := cache.ReadManifest(cache.ManifestPath(cachePath))
	dir := t.TempDir()
	podman := func(args ...string) string {
		t.Helper()
		base := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs"}
		out, err := exec.CommandContext(ctx, "podman", append(base, args...)...).Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("podman %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return string(out)
	}
	// checkFiles creates a container from image and reads its filesystem back.
	checkFiles := func(image string) {
		t.Helper()
		id := strings.TrimSpace(podman("create", image, "/bin/true"))
		out := podman("export", id)
		podman("rm", id)
		if !strings.Contains(out, "localhost\n") || !strings.Contains(out, "usr/bin/hello") {
			t.Errorf("container from %s lacks the cache's files", image)
		}
	}

	archive := filepath.Join(dir, "image.tar")
	imageID, err := ExportDockerArchive(ctx, cachePath, archive, "vzkit/test:archive", Options{})
	if err != nil {
		t.Fatal(err)
	}
	podman("load", "-i", archive)
	if got := strings.TrimSpace(podman("image", "inspect", "--format", "{{.Id}}", "vzkit/test:archive")); "sha256:"+got != imageID {
		t.Errorf("podman image ID %s, export said %s", got, imageID)
	}
	if got := podman("image", "inspect", "--format", "{{.Architecture}} {{.Created.Unix}} {{index .Labels \"org.opencontainers.image.title\"}}", "vzkit/test:archive"); got != fmt.Sprintf("amd64 %d %s\n", testEpoch, m.Name) {
		t.Errorf("podman inspect: %q", got)
	}
	checkFiles("vzkit/test:archive")

	// podman turns an oci: path into an image name, which must be lower case.
	lay, err := os.MkdirTemp("", "vzkit-oci-layout-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(lay) })
	if _, err := ExportLayout(ctx, cachePath, lay, Options{}); err != nil {
		t.Fatal(err)
	}
	out := strings.Fields(podman("pull", "oci:"+lay+":"+m.Name))
	checkFiles(out[len(out)-1])

	ref := addr + "/vzkit/podman:test"
	digest, err := Push(ctx, cachePath, ref, Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	podman("pull", "--tls-verify=false", ref)
	// The same image (by ID) was loaded above, so podman lists several
	// digests; the registry's must be among them.
	if got := podman("image", "inspect", "--format", "{{json .RepoDigests}}", ref); !strings.Contains(got, "/vzkit/podman@"+digest) {
		t.Errorf("podman repo digests %s lack the pushed %s", got, digest)
	}
	checkFiles(ref)
}
