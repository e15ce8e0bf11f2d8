package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/vzkit/vzkit/cache"
)

const testEpoch = 1700000000

// makeCache packs a tiny tree with the cache package and returns the cache path.
func makeCache(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"etc/hostname":       "localhost\n",
		"etc/os-release":     "ID=debian\nVERSION_ID=\"12\"\n",
		"usr/bin/hello":      "#!/bin/sh\necho hello\n",
		"usr/share/doc/x/ok": strings.Repeat("vzkit ", 5000),
	}
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		t.Fatal(err)
	}
	m := &cache.Manifest{
		Name:     "debian-12-x86_64-test",
		Distro:   "debian",
		Release:  "12",
		Arch:     "amd64",
		Variant:  "test",
		Tool:     "vzkit-test",
		Packages: []cache.Package{{Name: "base-files", Version: "12.4+deb12u5", Arch: "amd64", SHA256: strings.Repeat("ab", 32)}},
	}
	cachePath, _, err := cache.Save(context.Background(), t.TempDir(), root, m,
		cache.PackOptions{SourceDateEpoch: time.Unix(testEpoch, 0), FrameSize: 16 << 10})
	if err != nil {
		t.Fatalf("cache.Save: %v", err)
	}
	return cachePath
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func layoutImage(t testing.TB, dir, digest string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(h)
	if err != nil {
		t.Fatalf("layout %s has no image %s: %v", dir, digest, err)
	}
	return img
}

// checkImage runs go-containerregistry's validation. Its full layer check
// only decompresses gzip, so zstd layers (found by magic: a docker archive
// read back reports every layer as gzip) get the fast validation (manifest,
// config, layers present) plus the same digest, size and diff_id checks done
// here through the layer's own decompressor.
func checkImage(t *testing.T, img v1.Image) {
	t.Helper()
	mf, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	l0, err := img.LayerByDigest(mf.Layers[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l0.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	magic := make([]byte, 4)
	_, err = io.ReadFull(rc, magic)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		if err := validate.Image(img); err != nil {
			t.Errorf("validate.Image: %v", err)
		}
		return
	}
	if err := validate.Image(img, validate.Fast); err != nil {
		t.Errorf("validate.Image (fast): %v", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		digest, size, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if digest != mf.Layers[i].Digest || size != mf.Layers[i].Size {
			t.Errorf("layer %d: blob is %s size %d, manifest says %s size %d", i, digest, size, mf.Layers[i].Digest, mf.Layers[i].Size)
		}
		ur, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		diffID, _, err := v1.SHA256(ur)
		ur.Close()
		if err != nil {
			t.Fatal(err)
		}
		if diffID != cfg.RootFS.DiffIDs[i] {
			t.Errorf("layer %d: uncompressed sha256 %s, config diff_id %s", i, diffID, cfg.RootFS.DiffIDs[i])
		}
	}
}

func TestExportLayout(t *testing.T) {
	ctx := context.Background()
	cachePath := makeCache(t)
	m, err := cache.ReadManifest(cache.ManifestPath(cachePath))
	if err != nil {
		t.Fatal(err)
	}
	dir1, dir2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	d1, err := ExportLayout(ctx, cachePath, dir1, Options{})
	if err != nil {
		t.Fatalf("ExportLayout: %v", err)
	}
	d2, err := ExportLayout(ctx, cachePath, dir2, Options{})
	if err != nil {
		t.Fatalf("ExportLayout again: %v", err)
	}
	if d1 != d2 {
		t.Errorf("two exports of one cache differ: %s vs %s", d1, d2)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir1, "index.json")), readFile(t, filepath.Join(dir2, "index.json"))) {
		t.Error("index.json differs between two exports")
	}
	// Exporting into the same layout again replaces, not duplicates.
	if _, err := ExportLayout(ctx, cachePath, dir1, Options{}); err != nil {
		t.Fatal(err)
	}
	p, _ := layout.FromPath(dir1)
	idx, _ := p.ImageIndex()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx, validate.Fast); err != nil {
		t.Errorf("validate.Index of the layout: %v", err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations[labelRefName] != m.Name {
		t.Errorf("index.json manifests = %+v, want one tagged %s", im.Manifests, m.Name)
	}

	img := layoutImage(t, dir1, d1)
	checkImage(t, img)
	mf, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if mf.MediaType != types.OCIManifestSchema1 || mf.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("media types %s / %s", mf.MediaType, mf.Config.MediaType)
	}
	if len(mf.Layers) != 1 || mf.Layers[0].MediaType != types.OCILayerZStd || mf.Layers[0].Digest.Hex != m.Archive.SHA256 {
		t.Fatalf("layers = %+v, want one zstd layer sha256:%s", mf.Layers, m.Archive.SHA256)
	}
	blob := filepath.Join(dir1, "blobs", "sha256", m.Archive.SHA256)
	if !bytes.Equal(readFile(t, blob), readFile(t, cachePath)) {
		t.Error("layer blob is not the cache file's bytes")
	}
	out, err := exec.Command("tar", "--zstd", "-tf", blob).CombinedOutput()
	if err != nil {
		t.Fatalf("tar --zstd -tf %s: %v\n%s", blob, err, out)
	}
	for _, want := range []string{"etc/hostname", "usr/bin/hello", "bin"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("tar -t of the layer lacks %s:\n%s", want, out)
		}
	}

	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cfg.OS, cfg.Architecture)
	}
	if !cfg.Created.Time.Equal(time.Unix(testEpoch, 0)) {
		t.Errorf("created %v, want SOURCE_DATE_EPOCH %d", cfg.Created.Time, testEpoch)
	}
	if cfg.RootFS.DiffIDs[0].Hex != m.Archive.TarSHA256 {
		t.Errorf("diff_id %s, want tar sha256 %s", cfg.RootFS.DiffIDs[0], m.Archive.TarSHA256)
	}
	var got cache.Manifest
	if err := json.Unmarshal([]byte(cfg.Config.Labels[LabelManifest]), &got); err != nil {
		t.Fatalf("label %s: %v", LabelManifest, err)
	}
	if !reflect.DeepEqual(&got, m) {
		t.Errorf("manifest label = %+v, want %+v", got, m)
	}
	if cfg.Config.Labels[labelTitle] != m.Name || cfg.Config.Labels[labelCreated] != "2023-11-14T22:13:20Z" {
		t.Errorf("labels %v", cfg.Config.Labels)
	}
}

func TestImportLayoutRoundTrip(t *testing.T) {
	ctx := context.Background()
	cachePath := makeCache(t)
	dir := t.TempDir()
	digest, err := ExportLayout(ctx, cachePath, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	res, err := ImportLayout(ctx, dir, "", dest, Options{Name: "debian-12-x86_64-test"})
	if err != nil {
		t.Fatalf("ImportLayout: %v", err)
	}
	if res.Digest != digest {
		t.Errorf("import digest %s, export digest %s", res.Digest, digest)
	}
	if res.CachePath != filepath.Join(dest, "debian-12-x86_64-test.tar.zst") {
		t.Errorf("cache path %s", res.CachePath)
	}
	if !bytes.Equal(readFile(t, res.CachePath), readFile(t, cachePath)) {
		t.Error("imported cache differs from the exported one")
	}
	orig, _ := cache.ReadManifest(cache.ManifestPath(cachePath))
	back, err := cache.ReadManifest(res.ManifestPath)
	if err != nil {
		t.Fatalf("imported manifest: %v", err)
	}
	if !reflect.DeepEqual(orig, back) {
		t.Errorf("imported manifest %+v, want %+v", back, orig)
	}
	// The imported cache is usable by the cache package (digest checked there too).
	root := t.TempDir()
	if err := cache.Unpack(ctx, res.CachePath, root, cache.UnpackOptions{}); err != nil {
		t.Fatalf("cache.Unpack of imported cache: %v", err)
	}
	if b := readFile(t, filepath.Join(root, "etc/hostname")); string(b) != "localhost\n" {
		t.Errorf("etc/hostname = %q", b)
	}
	if _, err := ImportLayout(ctx, dir, "no-such-tag", t.TempDir(), Options{}); err == nil {
		t.Error("ImportLayout of a missing tag succeeded")
	}
	// The tag names the cache; without a tag a name must be given, the
	// image's own is never taken.
	res, err = ImportLayout(ctx, dir, "debian-12-x86_64-test", t.TempDir(), Options{Name: "mine"})
	if err != nil || res.Name != "mine" || filepath.Base(res.CachePath) != "mine.tar.zst" {
		t.Errorf("ImportLayout with a name: %+v, %v", res, err)
	}
	if m, err := cache.ReadManifest(res.ManifestPath); err != nil || m.Name != "mine" {
		t.Errorf("imported manifest under a given name: %+v, %v", m, err)
	}
	if _, err := ImportLayout(ctx, dir, "", t.TempDir(), Options{}); err == nil {
		t.Error("ImportLayout with neither tag nor name succeeded")
	}
}

func TestImportLayoutTamperedBlob(t *testing.T) {
	ctx := context.Background()
	cachePath := makeCache(t)
	m, _ := cache.ReadManifest(cache.ManifestPath(cachePath))
	for _, which := range []string{"layer", "config", "manifest"} {
		t.Run(which, func(t *testing.T) {
			dir := t.TempDir()
			digest, err := ExportLayout(ctx, cachePath, dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			blob := filepath.Join(dir, "blobs", "sha256", m.Archive.SHA256)
			if which == "config" {
				mf, err := layoutImage(t, dir, digest).Manifest()
				if err != nil {
					t.Fatal(err)
				}
				blob = filepath.Join(dir, "blobs", "sha256", mf.Config.Digest.Hex)
			}
			if which == "manifest" {
				blob = filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
			}
			b := readFile(t, blob)
			b[len(b)/2] ^= 0x20
			if err := os.WriteFile(blob, b, 0o644); err != nil {
				t.Fatal(err)
			}
			dest := t.TempDir()
			_, err = ImportLayout(ctx, dir, m.Name, dest, Options{})
			if err == nil || !strings.Contains(err.Error(), blob) || !strings.Contains(err.Error(), "corrupt") {
				t.Fatalf("ImportLayout of a tampered %s blob: err = %v, want one naming %s as corrupt", which, err, blob)
			}
			if ents, _ := os.ReadDir(dest); len(ents) != 0 {
				t.Errorf("refused import left %v in %s", ents, dest)
			}
		})
	}
}

func TestExportRefusesCorruptCache(t *testing.T) {
	cachePath := makeCache(t)
	b := readFile(t, cachePath)
	b[100] ^= 1
	if err := os.WriteFile(cachePath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ExportLayout(context.Background(), cachePath, t.TempDir(), Options{})
	if err == nil || !strings.Contains(err.Error(), cachePath) {
		t.Fatalf("export of a corrupt cache: err = %v, want one naming %s", err, cachePath)
	}
}

func TestGzipFallback(t *testing.T) {
	ctx := context.Background()
	cachePath := makeCache(t)
	m, _ := cache.ReadManifest(cache.ManifestPath(cachePath))
	dir := t.TempDir()
	d1, err := ExportLayout(ctx, cachePath, dir, Options{Gzip: true})
	if err != nil {
		t.Fatalf("ExportLayout gzip: %v", err)
	}
	d2, err := ExportLayout(ctx, cachePath, t.TempDir(), Options{Gzip: true})
	if err != nil {
		t.Fatal(err)
	}
	if d1 != d2 {
		t.Errorf("gzip exports differ: %s vs %s", d1, d2)
	}
	img := layoutImage(t, dir, d1)
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
	mf, _ := img.Manifest()
	if mf.Layers[0].MediaType != types.OCILayer {
		t.Errorf("gzip layer media type %s", mf.Layers[0].MediaType)
	}
	cfg, _ := img.ConfigFile()
	if cfg.RootFS.DiffIDs[0].Hex != m.Archive.TarSHA256 {
		t.Errorf("gzip diff_id %s, want %s", cfg.RootFS.DiffIDs[0], m.Archive.TarSHA256)
	}
	blob := filepath.Join(dir, "blobs", "sha256", mf.Layers[0].Digest.Hex)
	if out, err := exec.Command("tar", "-tzf", blob).CombinedOutput(); err != nil || !strings.Contains(string(out), "etc/hostname") {
		t.Errorf("tar -tzf gzip layer: %v\n%s", err, out)
	}
	if _, err := ImportLayout(ctx, dir, "", t.TempDir(), Options{Name: "gz"}); err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("import of a gzip image: err = %v, want a refusal mentioning gzip", err)
	}
}

func TestExportDockerArchive(t *testing.T) {
	ctx := context.Background()
	cachePath := makeCache(t)
	m, _ := cache.ReadManifest(cache.ManifestPath(cachePath))
	f1, f2 := filepath.Join(t.TempDir(), "a.tar"), filepath.Join(t.TempDir(), "b.tar")
	d1, err := ExportDockerArchive(ctx, cachePath, f1, "", Options{})
	if err != nil {
		t.Fatalf("ExportDockerArchive: %v", err)
	}
	if _, err := ExportDockerArchive(ctx, cachePath, f2, "", Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, f1), readFile(t, f2)) {
		t.Error("two docker archives of one cache differ")
	}
	tag, _ := name.NewTag("vzkit/" + m.Name + ":latest")
	img, err := tarball.ImageFromPath(f1, &tag)
	if err != nil {
		t.Fatalf("read docker archive back: %v", err)
	}
	checkImage(t, img)
	if d, _ := img.ConfigName(); d.String() != d1 {
		t.Errorf("docker archive image ID %s, export said %s", d, d1)
	}
	out, err := exec.Command("tar", "-tf", f1).CombinedOutput()
	if err != nil {
		t.Fatal(err, string(out))
	}
	if !strings.Contains(string(out), "manifest.json") || !strings.Contains(string(out), m.Archive.SHA256+".tar.zst") {
		t.Errorf("docker archive lists:\n%s", out)
	}
}
