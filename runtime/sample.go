package runtime

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vzkit/vzkit/runtime/vzconf"
)

//go:embed samples/ve-basic.conf-sample
var basicSample []byte

// SamplePath is CONFDIR/ve-NAME.conf-sample.
func (s *Store) SamplePath(name string) string {
	return filepath.Join(s.G.Get("CONFDIR"), "ve-"+name+".conf-sample")
}

// EnsureSamples writes the shipped "basic" sample when it is missing; an
// existing one is the admin's and is left alone.
func (s *Store) EnsureSamples() error {
	path := s.SamplePath("basic")
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sample config %s: %w", path, err)
	}
	return vzconf.WriteFileAtomic(path, basicSample, 0o644)
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
