package runtime

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vzkit/vzkit/runtime/vzconf"
)

// samples are the sample configurations vzkit ships: its "basic" and the
// vswap ones in the shape of OpenVZ's.
//
//go:embed samples/*.conf-sample
var samples embed.FS

// SamplePath is CONFDIR/ve-NAME.conf-sample.
func (s *Store) SamplePath(name string) string {
	return filepath.Join(s.G.Get("CONFDIR"), "ve-"+name+".conf-sample")
}

// EnsureSamples writes the shipped samples that are missing; an existing
// one is the admin's and is left alone.
func (s *Store) EnsureSamples() error {
	ents, err := samples.ReadDir("samples")
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := strings.TrimSuffix(strings.TrimPrefix(e.Name(), "ve-"), ".conf-sample")
		path := s.SamplePath(name)
		if _, err := os.Stat(path); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sample config %s: %w", path, err)
		}
		b, err := samples.ReadFile("samples/" + e.Name())
		if err != nil {
			return err
		}
		if err := vzconf.WriteFileAtomic(path, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// sampleName is the sample create uses for --config name.
func (s *Store) sampleName(name string) string {
	if name == "" {
		return s.G.Get("CONFIGFILE")
	}
	return name
}

// LoadSample reads ve-NAME.conf-sample ("" means CONFIGFILE of vz.conf).
func (s *Store) LoadSample(name string) (*vzconf.File, error) {
	name = s.sampleName(name)
	if err := ValidName(name); err != nil && ValidCTID(name) != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	if err := s.EnsureSamples(); err != nil {
		return nil, err
	}
	f, err := vzconf.ReadFile(s.SamplePath(name))
	if err != nil {
		return nil, fmt.Errorf("sample config %q: %w", name, err)
	}
	return f, nil
}
