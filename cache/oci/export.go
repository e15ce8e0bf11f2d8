package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/vzkit/vzkit/internal/atomicfile"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ExportLayout writes the cache at cachePath as an image into the OCI image
// layout directory dir (created when missing). The image is tagged with the
// template name (annotation org.opencontainers.image.ref.name); an image of
// the same name already in the layout is replaced. It returns the image
// manifest digest ("sha256:...").
func ExportLayout(ctx context.Context, cachePath, dir string, opts Options) (string, error) {
	src, err := openCache(ctx, cachePath, opts)
	if err != nil {
		return "", err
	}
	defer src.cleanup()
	digest, err := src.image.Digest()
	if err != nil {
		return "", fmt.Errorf("oci: digest of %s: %w", cachePath, err)
	}
	p, err := layout.FromPath(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			p, err = layout.Write(dir, empty.Index)
		}
	}
	if err != nil {
		return "", fmt.Errorf("oci: layout %s: %w", dir, err)
	}
	ann := layout.WithAnnotations(map[string]string{labelRefName: src.manifest.Name})
	if err := p.ReplaceImage(src.image, match.Annotation(labelRefName, src.manifest.Name), ann); err != nil {
		return "", fmt.Errorf("oci: write %s into layout %s: %w", cachePath, dir, err)
	}
	return digest.String(), nil
}

// ExportDockerArchive writes the cache as a `docker save` tarball to file
// (atomically) with the repository tag tag, for `docker load` / `podman
// load`. An empty tag means "vzkit/NAME:latest".
func ExportDockerArchive(ctx context.Context, cachePath, file, tag string, opts Options) (string, error) {
	src, err := openCache(ctx, cachePath, opts)
	if err != nil {
		return "", err
	}
	defer src.cleanup()
	if tag == "" {
		tag = "vzkit/" + src.manifest.Name + ":latest"
	}
	t, err := name.NewTag(tag)
	if err != nil {
		return "", fmt.Errorf("oci: tag %q: %w", tag, err)
	}
	digest, err := src.image.ConfigName()
	if err != nil {
		return "", fmt.Errorf("oci: config digest of %s: %w", cachePath, err)
	}
	err = atomicfile.Write(file, 0o644, func(w io.Writer) error { return tarball.Write(t, src.image, w) })
	if err != nil {
		return "", fmt.Errorf("oci: docker archive: %w", err)
	}
	return digest.String(), nil
}

// Push uploads the cache as an image to the registry reference ref
// (REGISTRY/REPO:TAG, both written out) and returns the manifest digest the
// registry stored.
func Push(ctx context.Context, cachePath, ref string, opts Options) (string, error) {
	src, err := openCache(ctx, cachePath, opts)
	if err != nil {
		return "", err
	}
	defer src.cleanup()
	r, err := parseRef(ref, opts)
	if err != nil {
		return "", err
	}
	if err := remote.Write(r, src.image, remoteOptions(ctx, r, opts)...); err != nil {
		return "", remoteErr("push "+cachePath+" to "+ref, r, err)
	}
	digest, err := src.image.Digest()
	if err != nil {
		return "", fmt.Errorf("oci: digest of %s: %w", cachePath, err)
	}
	return digest.String(), nil
}
