package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/internal/atomicfile"
)

// Result says what Pull or ImportLayout wrote.
type Result struct {
	Digest       string          // image manifest digest, "sha256:..."
	CachePath    string          // DEST/NAME.tar.zst
	ManifestPath string          // DEST/NAME.json
	Manifest     *cache.Manifest // the recovered cache manifest
}

// Pull fetches the image ref from a registry and writes it back as a cache
// into destDir.
func Pull(ctx context.Context, ref, destDir string, opts Options) (Result, error) {
	r, err := parseRef(ref, opts)
	if err != nil {
		return Result{}, err
	}
	desc, err := remote.Get(r, remoteOptions(ctx, opts)...)
	if err != nil {
		return Result{}, fmt.Errorf("oci: pull %s: %w", ref, err)
	}
	img, err := desc.Image()
	if err != nil {
		return Result{}, fmt.Errorf("oci: pull %s: %w", ref, err)
	}
	var want v1.Hash
	if d, ok := r.(name.Digest); ok {
		if want, err = v1.NewHash(d.DigestStr()); err != nil {
			return Result{}, fmt.Errorf("oci: reference %q: %w", ref, err)
		}
	}
	blob := func(h v1.Hash) string { return r.Context().Digest(h.String()).String() }
	return restore(ctx, img, want, blob, destDir, opts)
}

// ImportLayout reads the image named tag (annotation
// org.opencontainers.image.ref.name; empty when the layout holds one image)
// from the OCI layout directory dir and writes it as a cache into destDir.
// Blobs are checked against their digests; a corrupt one is named in the
// error by its path.
func ImportLayout(ctx context.Context, dir, tag, destDir string, opts Options) (Result, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return Result{}, fmt.Errorf("oci: layout %s: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return Result{}, fmt.Errorf("oci: layout %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return Result{}, fmt.Errorf("oci: layout %s: index.json: %w", dir, err)
	}
	var found []v1.Descriptor
	for _, d := range im.Manifests {
		if !d.MediaType.IsImage() {
			continue
		}
		if tag == "" || d.Annotations[labelRefName] == tag {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		return Result{}, fmt.Errorf("oci: layout %s: %d images match tag %q, want exactly one", dir, len(found), tag)
	}
	img, err := p.Image(found[0].Digest)
	if err != nil {
		return Result{}, fmt.Errorf("oci: layout %s: image %s: %w", dir, found[0].Digest, err)
	}
	blob := func(h v1.Hash) string { return filepath.Join(dir, "blobs", h.Algorithm, h.Hex) }
	return restore(ctx, img, found[0].Digest, blob, destDir, opts)
}

// restore checks img from end to end and writes its layer and the cache
// manifest from its config into destDir. want, when set, is the manifest
// digest the caller asked for; blob names a blob in errors.
func restore(ctx context.Context, img v1.Image, want v1.Hash, blob func(v1.Hash) string, destDir string, opts Options) (Result, error) {
	rawManifest, err := img.RawManifest()
	if err != nil {
		return Result{}, fmt.Errorf("oci: image manifest: %w", err)
	}
	digest := sha256Hash(rawManifest)
	if want.Hex != "" && digest != want {
		return Result{}, fmt.Errorf("oci: manifest blob %s is corrupt: its content hashes to %s", blob(want), digest)
	}
	mf, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return Result{}, fmt.Errorf("oci: manifest %s: %w", blob(digest), err)
	}
	if len(mf.Layers) != 1 {
		return Result{}, fmt.Errorf("oci: image %s has %d layers; a vzkit cache image has exactly one", digest, len(mf.Layers))
	}
	ld := mf.Layers[0]
	if ld.MediaType != types.OCILayerZStd {
		return Result{}, fmt.Errorf("oci: image %s: layer %s is %s; only %s layers carry the cache bytes (was it exported with the gzip fallback?)",
			digest, ld.Digest, ld.MediaType, types.OCILayerZStd)
	}
	if ld.Size <= 0 || ld.Size > opts.maxSize() {
		return Result{}, fmt.Errorf("oci: image %s: layer %s size %d outside 1..%d", digest, ld.Digest, ld.Size, opts.maxSize())
	}

	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return Result{}, fmt.Errorf("oci: config blob %s: %w", blob(mf.Config.Digest), err)
	}
	if got := sha256Hash(rawConfig); got != mf.Config.Digest {
		return Result{}, fmt.Errorf("oci: config blob %s is corrupt: its content hashes to %s", blob(mf.Config.Digest), got)
	}
	m, err := manifestFromConfig(rawConfig)
	if err != nil {
		return Result{}, fmt.Errorf("oci: config blob %s: %w", blob(mf.Config.Digest), err)
	}
	if ld.Digest.Algorithm != "sha256" || ld.Digest.Hex != m.Archive.SHA256 || ld.Size != m.Archive.Size {
		return Result{}, fmt.Errorf("oci: image %s: layer %s size %d does not match the cache manifest (sha256:%s size %d)",
			digest, ld.Digest, ld.Size, m.Archive.SHA256, m.Archive.Size)
	}
	if m.Name == "" || m.Name != filepath.Base(m.Name) || m.Name[0] == '.' {
		return Result{}, fmt.Errorf("oci: image %s: bad template name %q in the cache manifest", digest, m.Name)
	}

	layer, err := img.LayerByDigest(ld.Digest)
	if err != nil {
		return Result{}, fmt.Errorf("oci: layer blob %s: %w", blob(ld.Digest), err)
	}
	res := Result{
		Digest:    digest.String(),
		CachePath: filepath.Join(destDir, m.Name+".tar.zst"),
		Manifest:  m,
	}
	res.ManifestPath = cache.ManifestPath(res.CachePath)
	if err := writeCache(ctx, layer, ld, blob(ld.Digest), res.CachePath, res.ManifestPath, m); err != nil {
		return Result{}, err
	}
	return res, nil
}

// manifestFromConfig recovers the cache manifest from the image config's
// label, refusing fields the cache package does not know.
func manifestFromConfig(raw []byte) (*cache.Manifest, error) {
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	s, ok := cfg.Config.Labels[LabelManifest]
	if !ok {
		return nil, fmt.Errorf("no %s label: not a vzkit cache image", LabelManifest)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	var m cache.Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("label %s: %w", LabelManifest, err)
	}
	if len(cfg.RootFS.DiffIDs) != 1 {
		return nil, fmt.Errorf("rootfs has %d diff_ids, want 1", len(cfg.RootFS.DiffIDs))
	}
	if d := cfg.RootFS.DiffIDs[0]; m.Archive.TarSHA256 != "" && d.Hex != m.Archive.TarSHA256 {
		return nil, fmt.Errorf("diff_id %s differs from the cache manifest's tar_sha256 %s", d, m.Archive.TarSHA256)
	}
	return &m, nil
}

// writeCache streams the layer into a temporary file beside cachePath,
// checks size and digest, renames it into place and writes the manifest
// last. An existing manifest is removed first, so no step in between leaves
// a pair that verifies.
func writeCache(ctx context.Context, layer v1.Layer, ld v1.Descriptor, blobName, cachePath, manifestPath string, m *cache.Manifest) (err error) {
	dir := filepath.Dir(cachePath)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("oci: %w", err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return fmt.Errorf("oci: layer blob %s: %w", blobName, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(cachePath)+".tmp-*")
	if err != nil {
		return fmt.Errorf("oci: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), &ctxReader{ctx: ctx, r: io.LimitReader(rc, ld.Size+1)})
	if err != nil {
		return fmt.Errorf("oci: layer blob %s: %w", blobName, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != ld.Size || got != ld.Digest.Hex {
		return fmt.Errorf("oci: layer blob %s is corrupt: %d bytes hashing to sha256:%s, want %d bytes %s",
			blobName, n, got, ld.Size, ld.Digest)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("oci: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("oci: fsync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("oci: close %s: %w", tmp.Name(), err)
	}
	if err = os.Remove(manifestPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("oci: remove old manifest: %w", err)
	}
	if err = atomicfile.SyncDir(dir); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), cachePath); err != nil {
		return fmt.Errorf("oci: %w", err)
	}
	if err = atomicfile.SyncDir(dir); err != nil {
		return err
	}
	if err = cache.WriteManifest(manifestPath, m); err != nil {
		return fmt.Errorf("oci: %w", err)
	}
	return nil
}

func sha256Hash(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}
