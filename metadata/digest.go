package metadata

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path"
	"path/filepath"
	"strings"
)

// Digest identifies the resolved template by its content alone, as
// "sha256:<hex>": manifests and lock files record it, and a build from a
// lock warns when it differs. Where the files lie does not count, so the
// shipped template and a host copy of it (or the same directory mounted
// elsewhere) digest the same: the chain is recorded by template names,
// keys beside a template by the relative name it wrote, and scripts by
// their bodies, not by the file they came from. Everything else of the
// resolved template counts, variables substituted (a mirror given on the
// command line is part of what the cache is built from).
func (t *Template) Digest() string {
	c := t.clone()
	c.File = ""
	for i, f := range c.Chain {
		c.Chain[i] = strings.TrimSuffix(path.Base(filepath.ToSlash(f)), Ext)
	}
	for k, s := range c.Scripts {
		s.File = ""
		c.Scripts[k] = s
	}
	canonKeys(c.Keys)
	for i := range c.Repositories {
		canonKeys(c.Repositories[i].Keys)
	}
	// A Template holds only strings, slices and maps of them, which
	// encoding/json writes with sorted map keys: Marshal cannot fail and
	// gives the same bytes for the same content.
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// canonKeys replaces key files resolved against a template's place by the
// relative name the template wrote. The fingerprint pins the key itself.
func canonKeys(keys []Key) {
	for i := range keys {
		if keys[i].written != "" {
			keys[i].File = keys[i].written
		}
	}
}
