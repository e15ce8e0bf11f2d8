package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vzkit/vzkit/internal/atomicfile"
)

// ManifestVersion is the version of the manifest schema written by this package.
const ManifestVersion = 1

// maxManifestSize bounds how much of a manifest file is read: a manifest with
// thousands of packages stays far below it.
const maxManifestSize = 16 << 20

// Manifest describes one cache. The builder fills the template and package
// fields; Pack fills Archive.
type Manifest struct {
	Version        int    `json:"version"`
	Name           string `json:"name"`            // template name, e.g. debian-12-x86_64-minimal
	MetadataDigest string `json:"metadata_digest"` // "sha256:<hex>" of the resolved template metadata
	Distro         string `json:"distro"`
	Release        string `json:"release"`
	Arch           string `json:"arch"`
	// Format is the format of every package listed; manifests written
	// before the field have none.
	Format       PackageFormat `json:"format,omitempty"`
	Variant      string        `json:"variant,omitempty"`
	Mirror       string        `json:"mirror,omitempty"` // repository base URL the packages came from
	MirrorSigned bool          `json:"mirror_signed"`    // false when the metadata said insecure: true
	Packages     []Package     `json:"packages"`
	Tool         string        `json:"tool"` // program and version that built the cache
	Archive      Archive       `json:"archive"`
}

// PackageFormat is the format of a cache's packages. It is recorded so
// that readers (the SBOM's purls, an update) need not guess it from the
// distro's name.
type PackageFormat string

const (
	FormatDeb PackageFormat = "deb"
	FormatRPM PackageFormat = "rpm"
)

// Package is one installed package as recorded in the manifest.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
	SHA256  string `json:"sha256"` // of the package archive (.deb / .rpm) that was installed
}

// Archive describes the cache file itself; Pack returns it.
type Archive struct {
	Compression     string  `json:"compression"` // "zstd"
	Level           int     `json:"level"`       // zstd level the frames were encoded with
	SHA256          string  `json:"sha256"`      // hex SHA-256 of the compressed file
	Size            int64   `json:"size"`        // bytes of the compressed file
	TarSHA256       string  `json:"tar_sha256"`  // hex SHA-256 of the uncompressed tar stream
	TarSize         int64   `json:"tar_size"`    // bytes of the uncompressed tar stream
	Entries         int     `json:"entries"`     // tar entries (what `tar -t` lists)
	Files           int     `json:"files"`       // regular files among them (not counting hardlinks)
	SourceDateEpoch int64   `json:"source_date_epoch"`
	FrameSize       int64   `json:"frame_size"` // uncompressed bytes per zstd frame (last one shorter)
	Frames          []Frame `json:"frames"`

	// SkippedDevices counts the device nodes of the root left out of the
	// cache: those that are not extract.StandardDevice.
	SkippedDevices int `json:"skipped_devices,omitempty"`
}

// Frame locates one independent zstd frame in the cache file. The same
// figures are in the seek table at the end of the file.
type Frame struct {
	Offset int64 `json:"offset"` // of the compressed frame in the file
	Size   int64 `json:"size"`   // compressed bytes
	TarOff int64 `json:"tar_offset"`
	TarLen int64 `json:"tar_size"`
}

// ManifestPath returns the manifest path that belongs to a cache file:
// NAME.json for NAME.tar.zst, NAME.tar.gz, NAME.tar.xz or NAME.tar.
func ManifestPath(cachePath string) string {
	base := cachePath
	for _, ext := range []string{".tar.zst", ".tar.gz", ".tgz", ".tar.xz", ".tar"} {
		if s, ok := strings.CutSuffix(base, ext); ok {
			base = s
			break
		}
	}
	return base + ".json"
}

// ReadManifest reads and checks a manifest file.
func ReadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cache: read manifest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("cache: read manifest %s: %w", path, err)
	}
	if len(data) > maxManifestSize {
		return nil, fmt.Errorf("cache: manifest %s is larger than %d bytes", path, maxManifestSize)
	}
	// Unknown fields are allowed: a later writer may add optional ones
	// without a new schema version.
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("cache: parse manifest %s: %w", path, err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("cache: manifest %s: %w", path, err)
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	if m.Version != ManifestVersion {
		return fmt.Errorf("unsupported version %d (want %d)", m.Version, ManifestVersion)
	}
	switch m.Format {
	case "", FormatDeb, FormatRPM:
	default:
		return fmt.Errorf("unknown package format %q (want deb or rpm)", m.Format)
	}
	if !isHexSHA256(m.Archive.SHA256) {
		return errors.New("archive.sha256 is not a hex SHA-256")
	}
	if m.Archive.TarSHA256 != "" && !isHexSHA256(m.Archive.TarSHA256) {
		return errors.New("archive.tar_sha256 is not a hex SHA-256")
	}
	if m.Archive.Size <= 0 {
		return errors.New("archive.size must be positive")
	}
	return nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// WriteManifest writes m to path atomically (temporary file, fsync, rename,
// fsync of the directory).
func WriteManifest(path string, m *Manifest) error {
	if m.Version == 0 {
		m.Version = ManifestVersion
	}
	if err := m.validate(); err != nil {
		return fmt.Errorf("cache: manifest for %s: %w", path, err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("cache: encode manifest %s: %w", path, err)
	}
	data = append(data, '\n')
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomic creates path through a temporary file that becomes visible
// only after its content is on disk.
func writeAtomic(path string, fill func(io.Writer) error) error {
	if err := atomicfile.Write(path, 0o644, fill); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}
