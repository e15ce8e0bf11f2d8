package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/vzkit/vzkit/runtime/vzconf"
)

// Store is the set of containers under one global configuration.
type Store struct {
	G   *vzconf.Global
	Net Network      // nil: containers get only a loopback interface
	Log *slog.Logger // nil: slog.Default()

	warned sync.Map // warnOnce's keys: what was already said
}

// NewStore returns the store of g's containers.
func NewStore(g *vzconf.Global) *Store { return &Store{G: g} }

func (s *Store) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Container is one registered container: its CTID.conf and resolved paths.
type Container struct {
	ID       string
	ConfPath string
	Conf     *vzconf.File
	Private  string // VE_PRIVATE
	Root     string // VE_ROOT
}

// Get returns a config value ("" when unset).
func (c *Container) Get(key string) string { v, _ := c.Conf.Get(key); return v }

// Name is the container's NAME, or "".
func (c *Container) Name() string { return c.Get("NAME") }

// Layout is the container's VE_LAYOUT (plain when unset); a value vzkit
// cannot mount is an error naming the line of CTID.conf.
func (c *Container) Layout() (Layout, error) {
	v, ok := c.Conf.Get("VE_LAYOUT")
	if !ok || v == "" {
		return LayoutPlain, nil
	}
	l, err := ParseLayout(v)
	if err != nil {
		return "", fmt.Errorf("%s:%d: VE_LAYOUT: %w", c.ConfPath, c.Conf.Line("VE_LAYOUT"), err)
	}
	return l, nil
}

// IPs are the addresses of IP_ADDRESS, space separated as in OpenVZ.
func (c *Container) IPs() []string { return strings.Fields(c.Get("IP_ADDRESS")) }

// ValidCTID checks an OpenVZ container ID: a decimal number above 0
// (0 is the host in OpenVZ) that fits in 32 bits.
func ValidCTID(id string) error {
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != id {
		return fmt.Errorf("%w: CTID %q: want a number from 1 to %d", ErrBadParam, id, uint32(1<<32-1))
	}
	return nil
}

// ValidName checks a container NAME: letters, digits, '-', '_', '.', not
// all digits (it would read as a CTID).
func ValidName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: name %q: want 1 to 64 characters", ErrBadParam, name)
	}
	digits := true
	for _, c := range name {
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_', c == '.':
			digits = false
		default:
			return fmt.Errorf("%w: name %q: only letters, digits, '-', '_' and '.'", ErrBadParam, name)
		}
	}
	if digits {
		return fmt.Errorf("%w: name %q: a number would read as a CTID", ErrBadParam, name)
	}
	return nil
}

// ConfPath is CONFDIR/CTID.conf.
func (s *Store) ConfPath(ctid string) string {
	return filepath.Join(s.G.Get("CONFDIR"), ctid+".conf")
}

// StateDir is where running containers' state lives (STATEDIR).
func (s *Store) StateDir() string { return s.G.Get("STATEDIR") }

func (s *Store) sandboxDir() string { return filepath.Join(s.StateDir(), "sandbox") }

func sandboxID(ctid string) string { return "vzkit-" + ctid }

// cgroupPath is vzkit/vzkit-CTID on a host; under a VZKIT_ROOT prefix the
// cgroup also carries a hash of the prefix, because cgroups are global to
// the host and two prefixes (parallel test runs) may use the same CTID.
func (s *Store) cgroupPath(ctid string) string {
	if s.G.Root == "" {
		return "vzkit/" + sandboxID(ctid)
	}
	sum := sha256.Sum256([]byte(s.G.Root))
	return "vzkit/root-" + hex.EncodeToString(sum[:6]) + "-" + sandboxID(ctid)
}

// Resolve turns a CTID or a container NAME into a CTID. A number is taken
// as a CTID whether or not it exists; a name must belong to a container.
func (s *Store) Resolve(arg string) (string, error) {
	if ValidCTID(arg) == nil {
		return arg, nil
	}
	if ValidName(arg) != nil {
		return "", fmt.Errorf("%w: %q is neither a CTID nor a container name", ErrBadParam, arg)
	}
	regs, err := s.Scan()
	if err != nil {
		return "", err
	}
	var broken []string
	for _, r := range regs {
		if r.Err != nil {
			broken = append(broken, r.ID)
			continue
		}
		if r.C.Name() == arg {
			return r.ID, nil
		}
	}
	if len(broken) > 0 {
		// The name may be in a file that cannot be read; say so rather
		// than let the admin believe it is nowhere.
		return "", fmt.Errorf("container named %q: %w (the configs of %s could not be read)",
			arg, ErrNotExist, strings.Join(broken, ", "))
	}
	return "", fmt.Errorf("container named %q: %w", arg, ErrNotExist)
}

// Load reads CONFDIR/CTID.conf; ErrNotExist when it is missing.
func (s *Store) Load(ctid string) (*Container, error) {
	if err := ValidCTID(ctid); err != nil {
		return nil, err
	}
	path := s.ConfPath(ctid)
	f, err := vzconf.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %s: %s: %w", ctid, path, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w: %w", ctid, ErrBadConfig, err)
	}
	c := &Container{ID: ctid, ConfPath: path, Conf: f}
	if c.Private, err = s.expand(c, "VE_PRIVATE"); err != nil {
		return nil, err
	}
	if c.Root, err = s.expand(c, "VE_ROOT"); err != nil {
		return nil, err
	}
	return c, nil
}

// expand resolves VE_ROOT or VE_PRIVATE of a CTID.conf: $VEID is replaced
// as in OpenVZ, the root prefix applies as it does to vz.conf's paths, and
// an empty value falls back to the global one.
func (s *Store) expand(c *Container, key string) (string, error) {
	v := c.Get(key)
	if v == "" {
		return s.G.Path(key, c.ID), nil
	}
	v = strings.ReplaceAll(v, "${VEID}", c.ID)
	v = strings.ReplaceAll(v, "$VEID", c.ID)
	if !filepath.IsAbs(v) || filepath.Clean(v) == "/" {
		return "", fmt.Errorf("%w: %s:%d: %s=%q: want an absolute path other than /", ErrBadParam, c.ConfPath, c.Conf.Line(key), key, c.Get(key))
	}
	return s.G.Prefix(filepath.Clean(v)), nil
}

// Registered is one CTID.conf of CONFDIR: the loaded container, or the
// error (wrapping ErrBadConfig, naming file and line) that kept it from
// loading.
type Registered struct {
	ID  string
	C   *Container // nil when Err is set
	Err error
}

// Scan returns every registered container, sorted by CTID, a broken
// CTID.conf included as an entry with its error: one bad file must not
// hide the others from whoever lists or starts them. The error is only
// for CONFDIR itself.
func (s *Store) Scan() ([]Registered, error) {
	dir := s.G.Get("CONFDIR")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []Registered
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".conf")
		if !ok || ValidCTID(id) != nil {
			continue
		}
		c, err := s.Load(id)
		if errors.Is(err, ErrNotExist) {
			continue // destroyed meanwhile
		}
		out = append(out, Registered{ID: id, C: c, Err: err})
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.ParseUint(out[i].ID, 10, 32)
		b, _ := strconv.ParseUint(out[j].ID, 10, 32)
		return a < b
	})
	return out, nil
}

// List returns every registered container, sorted by CTID, and fails on
// the first CTID.conf that cannot be loaded. It is for callers that must
// see every container to be correct (allocating an id range that no other
// container holds); listings and boot use Scan.
func (s *Store) List() ([]*Container, error) {
	regs, err := s.Scan()
	if err != nil {
		return nil, err
	}
	out := make([]*Container, 0, len(regs))
	for _, r := range regs {
		if r.Err != nil {
			return nil, r.Err
		}
		out = append(out, r.C)
	}
	return out, nil
}
