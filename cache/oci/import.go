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
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/vzkit/vzkit/cache"
	cachestore "github.com/vzkit/vzkit/cache/store"
	"github.com/vzkit/vzkit/internal/atomicfile"
)

// Result says what Pull or ImportLayout wrote.
type Result struct {
	Name         string          // the local cache name (never the image's)
	Digest       string          // image manifest digest, "sha256:..."
	CachePath    string          // DEST/NAME.tar.zst
	ManifestPath string          // DEST/NAME.json
	Manifest     *cache.Manifest // the cache manifest as it is now in ManifestPath
	// Unchanged: the cache NAME already held exactly the image's layer, so
	// nothing was downloaded or written.
	Unchanged bool
}

// ErrExists is in the error when a pull or import would replace a cache of
// the same name that holds other bytes and Options.Replace is not set.
var ErrExists = errors.New("a different cache of that name exists")

// Pull fetches the image ref, REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:HEX
// (registry and tag or digest written out), and writes it as a cache into
// destDir.
//
// The cache name is opts.Name, else it comes from ref alone: the last
// component of the repository, a dash and the tag
// (registry.example.org/vzkit/debian:12 is debian-12), or for a digest the
// first 12 hex digits of it (.../vzkit/debian@sha256:0123456789ab... is
// debian-0123456789ab). The name in the image's cache manifest is never
// used, so an image cannot choose the local cache it lands on; the NAME.json
// written names NAME.
//
// When cache NAME exists and its file already is the image's layer (same
// SHA-256), nothing is written and the Result says Unchanged. Any other
// cache of that name (other bytes, another compression, no manifest) is
// refused with ErrExists naming its files, unless opts.Replace.
func Pull(ctx context.Context, ref, destDir string, opts Options) (Result, error) {
	r, err := parseRef(ref, opts)
	if err != nil {
		return Result{}, err
	}
	local, err := localName(opts.Name, refName(r), "reference "+ref)
	if err != nil {
		return Result{}, err
	}
	desc, err := remote.Get(r, remoteOptions(ctx, r, opts)...)
	if err != nil {
		return Result{}, remoteErr("pull "+ref, r, err)
	}
	img, err := desc.Image()
	if err != nil {
		return Result{}, remoteErr("pull "+ref, r, err)
	}
	var want v1.Hash
	if d, ok := r.(name.Digest); ok {
		if want, err = v1.NewHash(d.DigestStr()); err != nil {
			return Result{}, fmt.Errorf("oci: reference %q: %w", ref, err)
		}
	}
	blob := func(h v1.Hash) string { return r.Context().Digest(h.String()).String() }
	return restore(ctx, img, want, blob, destDir, local, opts)
}

// refName derives the cache name from a reference as Pull documents it.
func refName(r name.Reference) string {
	base := path.Base(r.Context().RepositoryStr())
	if d, ok := r.(name.Digest); ok {
		_, hex, _ := strings.Cut(d.DigestStr(), ":")
		return base + "-" + hex[:min(12, len(hex))]
	}
	return base + "-" + r.Identifier()
}

// localName checks the cache name given, else the one derived from what
// the caller named (from says what, for the error).
func localName(given, derived, from string) (string, error) {
	if given != "" {
		n, err := cachestore.CheckName(given)
		if err != nil {
			return "", fmt.Errorf("oci: %w", err)
		}
		return n, nil
	}
	n, err := cachestore.CheckName(derived)
	if err != nil {
		return "", fmt.Errorf("oci: cache name from %s: %w", from, err)
	}
	return n, nil
}

// ImportLayout reads the image named tag (annotation
// org.opencontainers.image.ref.name; empty when the layout holds one image)
// from the OCI layout directory dir and writes it as a cache into destDir.
// The cache name is opts.Name, else tag (ExportLayout tags with the cache
// name); the image's own manifest never chooses it, and an existing cache of
// that name is handled as by Pull. Blobs are checked against their digests;
// a corrupt one is named in the error by its path.
func ImportLayout(ctx context.Context, dir, tag, destDir string, opts Options) (Result, error) {
	if opts.Name == "" && tag == "" {
		return Result{}, fmt.Errorf("oci: layout %s: no cache name: give a name or a tag", dir)
	}
	local, err := localName(opts.Name, tag, "tag "+tag)
	if err != nil {
		return Result{}, err
	}
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
	return restore(ctx, img, found[0].Digest, blob, destDir, local, opts)
}

// restore checks img from end to end and writes its layer and the cache
// manifest from its config into destDir as cache local. want, when set, is
// the manifest digest the caller asked for; blob names a blob in errors.
func restore(ctx context.Context, img v1.Image, want v1.Hash, blob func(v1.Hash) string, destDir, local string, opts Options) (Result, error) {
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
	// The image's word for its own name is never taken: whatever it says,
	// the cache is stored, and its manifest names it, as the caller chose.
	m.Name = local
	res := Result{
		Name:      local,
		Digest:    digest.String(),
		CachePath: filepath.Join(destDir, local+".tar.zst"),
		Manifest:  m,
	}
	res.ManifestPath = cache.ManifestPath(res.CachePath)

	// Decide about an existing cache before the layer is downloaded.
	st := &cachestore.Store{Dir: destDir}
	if existing := st.Files(local); len(existing) > 0 {
		have, err := sameCache(ctx, res.CachePath, ld, opts.maxSize())
		if err != nil {
			return Result{}, err
		}
		if have != nil {
			res.Manifest, res.Unchanged = have, true
			return res, nil
		}
		if !opts.Replace {
			return Result{}, existsErr(local, existing, ld)
		}
	}

	layer, err := img.LayerByDigest(ld.Digest)
	if err != nil {
		return Result{}, fmt.Errorf("oci: layer blob %s: %w", blob(ld.Digest), err)
	}
	if err := writeCache(ctx, layer, ld, blob(ld.Digest), res, st, opts.Replace); err != nil {
		return Result{}, err
	}
	return res, nil
}

// sameCache returns the manifest of the cache at cachePath when that cache
// already is the layer ld: its manifest records the layer's digest and size
// and the file hashes to them. Anything else (no manifest, another
// compression, a changed byte) is nil: a different cache.
func sameCache(ctx context.Context, cachePath string, ld v1.Descriptor, maxSize int64) (*cache.Manifest, error) {
	m, err := cache.ReadManifest(cache.ManifestPath(cachePath))
	if err != nil || m.Archive.SHA256 != ld.Digest.Hex || m.Archive.Size != ld.Size {
		return nil, nil
	}
	sum, size, err := hashFile(ctx, cachePath, maxSize)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil || sum != ld.Digest.Hex || size != ld.Size {
		return nil, nil
	}
	return m, nil
}

func existsErr(name string, files []string, ld v1.Descriptor) error {
	return fmt.Errorf("oci: cache %s: %w: %s (the image's layer is %s)", name, ErrExists, strings.Join(files, ", "), ld.Digest)
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

// writeCache streams the layer into a temporary file beside res.CachePath
// and checks size and digest. Only then does it touch cache res.Name: with
// replace it removes the old one (manifest first, see cachestore.Remove),
// else it refuses one that appeared during the download; then it renames
// the file into place and writes the manifest last, so no step in between
// leaves a pair that verifies.
func writeCache(ctx context.Context, layer v1.Layer, ld v1.Descriptor, blobName string, res Result, st *cachestore.Store, replace bool) (err error) {
	dir := filepath.Dir(res.CachePath)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("oci: %w", err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return fmt.Errorf("oci: layer blob %s: %w", blobName, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(res.CachePath)+".tmp-*")
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
	if replace {
		if _, err = st.Remove(ctx, res.Name); err != nil && !errors.Is(err, cachestore.ErrNotFound) {
			return fmt.Errorf("oci: replace cache %s: %w", res.Name, err)
		}
	} else if files := st.Files(res.Name); len(files) > 0 {
		// Another build or pull wrote it while the layer was downloading.
		return existsErr(res.Name, files, ld)
	}
	if err = os.Rename(tmp.Name(), res.CachePath); err != nil {
		return fmt.Errorf("oci: %w", err)
	}
	if err = atomicfile.SyncDir(dir); err != nil {
		return err
	}
	if err = cache.WriteManifest(res.ManifestPath, res.Manifest); err != nil {
		return fmt.Errorf("oci: %w", err)
	}
	return nil
}

func sha256Hash(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}
