package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Save packs root into dir/NAME.tar.zst and writes dir/NAME.json, where NAME
// is m.Name. m carries what the builder knows (template, packages, mirror);
// Save fills m.Archive and m.Version and returns the paths it wrote.
//
// The order makes an interrupted save harmless: the old manifest goes first,
// the cache is written under a temporary name and renamed once it is on
// disk, and the new manifest is renamed into place last.
func Save(ctx context.Context, dir, root string, m *Manifest, opts PackOptions) (cachePath, manifestPath string, err error) {
	if m.Name == "" || m.Name != filepath.Base(m.Name) || m.Name[0] == '.' {
		return "", "", fmt.Errorf("cache: save %s: bad template name %q", root, m.Name)
	}
	cachePath = filepath.Join(dir, m.Name+".tar.zst")
	manifestPath = ManifestPath(cachePath)
	if err := os.Remove(manifestPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("cache: remove old manifest: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return "", "", err
	}
	err = writeAtomic(cachePath, func(w io.Writer) error {
		arch, err := Pack(ctx, root, w, opts)
		m.Archive = arch
		return err
	})
	if err != nil {
		return "", "", err
	}
	m.Version = ManifestVersion
	if err := WriteManifest(manifestPath, m); err != nil {
		return "", "", err
	}
	return cachePath, manifestPath, nil
}
