package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/vzkit/vzkit/cache"
)

// Labels and annotations written into every exported image.
const (
	LabelManifest       = "org.openvz.vzkit.manifest"        // the cache manifest, compact JSON
	LabelMetadataDigest = "org.openvz.vzkit.metadata-digest" // digest of the template metadata
	labelTitle          = "org.opencontainers.image.title"
	labelVersion        = "org.opencontainers.image.version"
	labelCreated        = "org.opencontainers.image.created"
	labelDescription    = "org.opencontainers.image.description"
	labelRefName        = "org.opencontainers.image.ref.name"
)

// DefaultMaxSize bounds the bytes read from a layer or decompressed from a
// cache when Options.MaxSize is zero.
const DefaultMaxSize = 64 << 30

// Options tune export, push, pull and import. The zero value exports zstd
// layers, talks HTTPS only with the user's docker credentials, writes a
// pulled cache under the name derived from the reference, never over another
// cache, and bounds sizes by DefaultMaxSize.
type Options struct {
	// Gzip re-encodes the layer as tar+gzip for docker < 23 and podman < 4.
	// The image then no longer carries the cache bytes: Pull refuses it.
	Gzip bool
	// Insecure allows plain HTTP to the registry named in the reference, and
	// only to it; HTTPS is still tried first and TLS certificates are always
	// verified. Without it every request is HTTPS, to localhost, loopback
	// and private addresses too (see ErrPlainHTTP).
	Insecure bool
	// Name is the local cache name Pull and ImportLayout write (NAME.tar.zst
	// and NAME.json); empty derives it from the reference or tag, never from
	// the image (see Pull).
	Name string
	// Replace lets Pull and ImportLayout replace a cache of that name that
	// holds other bytes (with its signature and SBOM, which describe the
	// old bytes). Without it such a pull fails with ErrExists.
	Replace bool
	// Keychain supplies registry credentials (default authn.DefaultKeychain,
	// which reads ~/.docker/config.json and credential helpers).
	Keychain authn.Keychain
	// Transport is the HTTP transport (default: go-containerregistry's).
	Transport http.RoundTripper
	// MaxSize bounds layer and decompressed tar bytes (default DefaultMaxSize).
	MaxSize int64
}

func (o Options) maxSize() int64 {
	if o.MaxSize > 0 {
		return o.MaxSize
	}
	return DefaultMaxSize
}

// source is a cache opened for export: the manifest, the image built from
// it, and a cleanup for temporary files the image refers to.
type source struct {
	manifest *cache.Manifest
	image    v1.Image
	cleanup  func()
}

// openCache reads the manifest beside cachePath, checks the cache file
// against it and builds the image. The caller must call cleanup.
func openCache(ctx context.Context, cachePath string, opts Options) (*source, error) {
	m, err := cache.ReadManifest(cache.ManifestPath(cachePath))
	if err != nil {
		return nil, fmt.Errorf("oci: cache %s: %w", cachePath, err)
	}
	if m.Archive.Compression != "" && m.Archive.Compression != "zstd" {
		return nil, fmt.Errorf("oci: cache %s: compression %q, want zstd", cachePath, m.Archive.Compression)
	}
	// The layer digest announced to registries is the manifest's; make sure
	// the file really has it before anything is written anywhere.
	sum, size, err := hashFile(ctx, cachePath, opts.maxSize())
	if err != nil {
		return nil, err
	}
	if sum != m.Archive.SHA256 || size != m.Archive.Size {
		return nil, fmt.Errorf("oci: cache %s: sha256 %s size %d, manifest says %s size %d",
			cachePath, sum, size, m.Archive.SHA256, m.Archive.Size)
	}
	diffID := m.Archive.TarSHA256
	if diffID == "" {
		if diffID, _, err = hashTar(ctx, cachePath, io.Discard, opts.maxSize()); err != nil {
			return nil, err
		}
	}
	layer := &fileLayer{
		path:      cachePath,
		digest:    v1.Hash{Algorithm: "sha256", Hex: m.Archive.SHA256},
		diffID:    v1.Hash{Algorithm: "sha256", Hex: diffID},
		size:      m.Archive.Size,
		mediaType: types.OCILayerZStd,
	}
	src := &source{manifest: m, cleanup: func() {}}
	if opts.Gzip {
		if layer, err = gzipLayer(ctx, cachePath, opts.maxSize()); err != nil {
			return nil, err
		}
		src.cleanup = func() { os.Remove(layer.path) }
	}
	img, err := buildImage(m, layer)
	if err != nil {
		src.cleanup()
		return nil, fmt.Errorf("oci: image for %s: %w", cachePath, err)
	}
	src.image = img
	return src, nil
}

// sourceDateEpoch is the time stamped into the image: the cache's own, else
// $SOURCE_DATE_EPOCH, else the Unix epoch, never the clock.
func sourceDateEpoch(m *cache.Manifest) (time.Time, error) {
	if m.Archive.SourceDateEpoch != 0 {
		return time.Unix(m.Archive.SourceDateEpoch, 0).UTC(), nil
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", s, err)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Unix(0, 0).UTC(), nil
}

// platform maps the distro's architecture name to GOARCH/variant as OCI
// uses them.
func platform(arch string) (goarch, variant string) {
	switch arch {
	case "x86_64", "amd64":
		return "amd64", ""
	case "aarch64", "arm64":
		return "arm64", "v8"
	case "i386", "i486", "i586", "i686", "x86":
		return "386", ""
	case "armhf", "armv7hl", "armv7l":
		return "arm", "v7"
	case "armel":
		return "arm", "v5"
	case "ppc64el", "ppc64le":
		return "ppc64le", ""
	case "riscv64", "s390x", "mips64le", "loong64":
		return arch, ""
	case "mips64el":
		return "mips64le", ""
	}
	return arch, ""
}

func buildImage(m *cache.Manifest, layer *fileLayer) (v1.Image, error) {
	created, err := sourceDateEpoch(m)
	if err != nil {
		return nil, err
	}
	manifestJSON, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	goarch, variant := platform(m.Arch)
	desc := strings.Join(strings.Fields(fmt.Sprintf("vzkit template cache %s %s %s %s", m.Distro, m.Release, m.Arch, m.Variant)), " ")
	common := map[string]string{
		labelTitle:       m.Name,
		labelVersion:     m.Release,
		labelCreated:     created.Format(time.RFC3339),
		labelDescription: desc,
	}
	if m.MetadataDigest != "" {
		common[LabelMetadataDigest] = m.MetadataDigest
	}
	labels := map[string]string{LabelManifest: string(manifestJSON)}
	for k, v := range common {
		labels[k] = v
	}
	cfg := &v1.ConfigFile{
		Architecture: goarch,
		Variant:      variant,
		OS:           "linux",
		Created:      v1.Time{Time: created},
		RootFS:       v1.RootFS{Type: "layers"},
		// A template cache is a system container: what runs it boots init.
		Config: v1.Config{Labels: labels, Cmd: []string{"/sbin/init"}},
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.ConfigFile(base, cfg)
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: m.Tool,
			Comment:   "vzkit cache " + m.Name,
		},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, common).(v1.Image), nil
}

// fileLayer is a layer whose compressed blob is a file on disk with a
// digest known in advance.
type fileLayer struct {
	path      string
	digest    v1.Hash
	diffID    v1.Hash
	size      int64
	mediaType types.MediaType
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	var r io.ReadCloser
	if l.mediaType == types.OCILayerZStd {
		d, err := zstd.NewReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("zstd %s: %w", l.path, err)
		}
		r = d.IOReadCloser()
	} else {
		if r, err = gzip.NewReader(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("gzip %s: %w", l.path, err)
		}
	}
	return &multiCloser{Reader: r, closers: []io.Closer{r, f}}, nil
}

type multiCloser struct {
	io.Reader
	closers []io.Closer
}

func (m *multiCloser) Close() error {
	var first error
	for _, c := range m.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// gzipLayer decompresses the cache into a temporary tar+gzip file. gzip is
// written without name or time in its header at a fixed level, so the same
// cache always yields the same blob.
func gzipLayer(ctx context.Context, cachePath string, maxSize int64) (*fileLayer, error) {
	tmp, err := os.CreateTemp("", "vzkit-oci-layer-*.tar.gz")
	if err != nil {
		return nil, fmt.Errorf("oci: gzip layer for %s: %w", cachePath, err)
	}
	ok := false
	defer func() {
		tmp.Close()
		if !ok {
			os.Remove(tmp.Name())
		}
	}()
	zh := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, zh)}
	gz, err := gzip.NewWriterLevel(cw, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	diffID, _, err := hashTar(ctx, cachePath, gz, maxSize)
	if err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("oci: gzip layer for %s: %w", cachePath, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("oci: gzip layer for %s: %w", cachePath, err)
	}
	ok = true
	return &fileLayer{
		path:      tmp.Name(),
		digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(zh.Sum(nil))},
		diffID:    v1.Hash{Algorithm: "sha256", Hex: diffID},
		size:      cw.n,
		mediaType: types.OCILayer,
	}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// hashFile returns the hex SHA-256 and size of a file of at most maxSize bytes.
func hashFile(ctx context.Context, path string, maxSize int64) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("oci: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, &ctxReader{ctx: ctx, r: io.LimitReader(f, maxSize+1)})
	if err != nil {
		return "", 0, fmt.Errorf("oci: read %s: %w", path, err)
	}
	if n > maxSize {
		return "", 0, fmt.Errorf("oci: %s is larger than %d bytes", path, maxSize)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// hashTar decompresses the zstd cache at path into w and returns the hex
// SHA-256 and size of the tar stream, refusing more than maxSize bytes.
func hashTar(ctx context.Context, path string, w io.Writer, maxSize int64) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("oci: %w", err)
	}
	defer f.Close()
	d, err := zstd.NewReader(f, zstd.WithDecoderMaxWindow(1<<27))
	if err != nil {
		return "", 0, fmt.Errorf("oci: zstd %s: %w", path, err)
	}
	defer d.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), &ctxReader{ctx: ctx, r: io.LimitReader(d, maxSize+1)})
	if err != nil {
		return "", 0, fmt.Errorf("oci: decompress %s: %w", path, err)
	}
	if n > maxSize {
		return "", 0, fmt.Errorf("oci: %s decompresses to more than %d bytes", path, maxSize)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ctxReader stops a long copy when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
