package vzconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ConfigPath is the global configuration file, relative to the root prefix.
const ConfigPath = "/etc/vzkit/vz.conf"

// Setting is one effective global value and where it came from.
type Setting struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Origin string `json:"origin"` // "default", or "FILE:LINE"
	// Ignored is set for a vz.conf key that vzkit does not implement
	// (OpenVZ's LOGFILE, IPV6, ...): kept in the file, without effect.
	Ignored bool   `json:"ignored,omitempty"`
	IsPath  bool   `json:"-"`
	raw     string // the value before the root prefix
}

type def struct {
	value string
	path  bool
	help  string
}

// defaults are the built-in settings: a fresh machine needs no vz.conf.
// $VEID in VE_ROOT/VE_PRIVATE is replaced by the container ID, as in OpenVZ.
var defaults = map[string]def{
	"VE_ROOT":                {"/var/lib/vzkit/root/$VEID", true, "where a running container's root is mounted"},
	"VE_PRIVATE":             {"/var/lib/vzkit/private/$VEID", true, "a container's private area (its files)"},
	"TEMPLATE":               {"/var/lib/vzkit/template", true, "template area; caches live in $TEMPLATE/cache"},
	"LOCKDIR":                {"/var/lib/vzkit/lock", true, "per-container lock files"},
	"DUMPDIR":                {"/var/lib/vzkit/dump", true, "checkpoint images"},
	"PACKAGES":               {"/var/cache/vzkit/packages", true, "content-addressed package store"},
	"INDEXCACHE":             {"/var/cache/vzkit/indexes", true, "verified repository indexes, by SHA-256"},
	"CONFDIR":                {"/etc/vzkit/conf", true, "per-container CTID.conf files and ve-NAME.conf-sample"},
	"TEMPLATES":              {"/etc/vzkit/templates", true, "extra template metadata directory"},
	"STATEDIR":               {"/run/vzkit", true, "runtime state of running containers"},
	"DEF_OSTEMPLATE":         {"debian-12-minimal", false, "template used when create has no --ostemplate"},
	"CONFIGFILE":             {"basic", false, "sample config used when create has no --config"},
	"VE_LAYOUT":              {"plain", false, "storage layout for new containers: plain (simfs), overlay or image (ploop)"},
	"FAST_PLAIN_CREATE":      {"yes", false, "yes: a plain create on btrfs snapshots one read-only unpacked copy per cache (elsewhere reflinks its files where the filesystem can) instead of unpacking the cache again; no: always unpack"},
	"CRIU":                   {"criu", false, "CRIU binary used for checkpoints"},
	"NETWORK_MODE":           {"routed", false, "how containers with IP_ADDRESS attach: routed (venet-style host routes), bridged or none"},
	"BRIDGE":                 {"vzbr0", false, "host bridge for NETWORK_MODE=bridged"},
	"STOP_TIMEOUT":           {"60", false, "seconds to wait for a clean shutdown before killing"},
	"REQUIRE_SIGNED_CACHE":   {"no", false, "refuse unsigned caches on create"},
	"CACHE_KEYRING":          {"", false, "public keyring that cache signatures must be good by (a host path, not prefixed)"},
	"ALLOW_UNVERIFIED_CACHE": {"no", false, "yes: create also from caches without a manifest (plain OpenVZ tarballs), with a warning"},
	"LOCAL_UID":              {"100000", false, "first host uid of unprivileged containers' ranges (65536 ids each, one range per container)"},
	"LOCAL_GID":              {"100000", false, "first host gid of unprivileged containers' ranges"},
}

// Global is the effective global configuration.
type Global struct {
	Root     string // prefix applied to every path ("" for none)
	File     string // the vz.conf that was read, prefixed; may not exist
	settings map[string]Setting
}

// RootFromEnv returns the root prefix from an explicit flag value or, when
// that is empty, from VZKIT_ROOT.
func RootFromEnv(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("VZKIT_ROOT")
}

// Load resolves the global configuration under root ("" for the host).
// A missing vz.conf is not an error: the defaults apply.
func Load(root string) (*Global, error) {
	if root != "" {
		abs, err := filepath.Abs(root)
		if err != nil {
			return nil, fmt.Errorf("root prefix %q: %w", root, err)
		}
		root = abs
	}
	g := &Global{Root: root, File: prefix(root, ConfigPath), settings: map[string]Setting{}}
	for k, d := range defaults {
		v := d.value
		if d.path {
			v = prefix(root, v)
		}
		g.settings[k] = Setting{Key: k, Value: v, Origin: "default", IsPath: d.path, raw: d.value}
	}
	f, err := ReadFile(g.File)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return g, nil
	case err != nil:
		return nil, fmt.Errorf("global config: %w", err)
	}
	for _, k := range f.Keys() {
		raw, _ := f.Get(k)
		v := raw
		d, known := defaults[k]
		if known && d.path {
			if !strings.HasPrefix(v, "/") {
				return nil, fmt.Errorf("%s:%d: %s must be an absolute path, got %q", g.File, f.Line(k), k, v)
			}
			v = prefix(root, v)
		}
		g.settings[k] = Setting{Key: k, Value: v, Origin: fmt.Sprintf("%s:%d", g.File, f.Line(k)),
			Ignored: !known, IsPath: known && d.path, raw: raw}
	}
	return g, nil
}

func prefix(root, p string) string {
	if root == "" {
		return p
	}
	return filepath.Join(root, p)
}

// Get returns a setting's value ("" when unset).
func (g *Global) Get(key string) string { return g.settings[key].Value }

// Raw returns a setting as written, before the root prefix and with $VEID
// kept: what a new CTID.conf records for VE_ROOT and VE_PRIVATE.
func (g *Global) Raw(key string) string { return g.settings[key].raw }

// Origin is where a setting came from: "default" or FILE:LINE.
func (g *Global) Origin(key string) string { return g.settings[key].Origin }

// Path returns a path setting; for VE_ROOT and VE_PRIVATE pass the CTID.
func (g *Global) Path(key string, ctid ...string) string {
	v := g.settings[key].Value
	if len(ctid) > 0 {
		v = strings.ReplaceAll(v, "$VEID", ctid[0])
		v = strings.ReplaceAll(v, "${VEID}", ctid[0])
	}
	return v
}

// Prefix applies the root prefix to an absolute host path, for paths that are
// not settings (such as /etc/apt for the host's mirror configuration, which
// is deliberately NOT prefixed: see the callers).
func (g *Global) Prefix(p string) string { return prefix(g.Root, p) }

// CacheDir is where template caches live: $TEMPLATE/cache.
func (g *Global) CacheDir() string { return filepath.Join(g.Get("TEMPLATE"), "cache") }

// Settings returns every setting sorted by key.
func (g *Global) Settings() []Setting {
	out := make([]Setting, 0, len(g.settings))
	for _, s := range g.settings {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Help returns the one-line description of a built-in setting.
func Help(key string) string { return defaults[key].help }
