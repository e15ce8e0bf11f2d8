package runtime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"

	"github.com/vzkit/vzkit/runtime/idmap"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

// A container's privileges come from its configuration (CTID.conf, the
// sample it was made from, vz.conf) and never from what its image holds:
// the kind of init is recorded at create, not read from /sbin/init at each
// start, and the capability set follows from that kind, PRIVILEGED and
// CAPABILITY alone.

// CTID.conf keys of the privilege profile.
const (
	// KeyPrivileged is "yes" for a container whose root is the host's root
	// (no user namespace); the default is an unprivileged container.
	KeyPrivileged = "PRIVILEGED"
	// KeyLocalUID and KeyLocalGID are the host uid and gid of an
	// unprivileged container's root (vzctl 4's names); idRangeSize ids
	// follow. In vz.conf they are where the ranges of new containers start.
	KeyLocalUID = "LOCAL_UID"
	KeyLocalGID = "LOCAL_GID"
	// KeyInitKind is the container's init: systemd, sysvinit or minimal.
	KeyInitKind = "INIT_KIND"
	// KeyCapability changes the capability set, OpenVZ's form:
	// "NAME:on NAME:off ...", names with or without CAP_, any case.
	KeyCapability = "CAPABILITY"
	// KeyFeatures is OpenVZ's FEATURES="name:on|off ...". vzkit knows
	// "nesting": user namespaces inside an unprivileged container.
	KeyFeatures = "FEATURES"
)

// idRangeSize is how many uids (and gids) an unprivileged container gets:
// the 16-bit id space every distro's users and groups fit in.
const idRangeSize = 65536

// InitKind is what runs as a container's PID 1.
type InitKind string

// Kinds of init.
const (
	InitSystemd InitKind = "systemd"
	InitSysV    InitKind = "sysvinit"
	InitMinimal InitKind = "minimal" // vzctl's own, for images without one
)

// ParseInitKind checks an INIT_KIND value.
func ParseInitKind(s string) (InitKind, error) {
	switch k := InitKind(s); k {
	case InitSystemd, InitSysV, InitMinimal:
		return k, nil
	}
	return "", fmt.Errorf("%w: init kind %q: want systemd, sysvinit or minimal", ErrBadParam, s)
}

// Privileged reports whether c's root is the host's root.
func (c *Container) Privileged() (bool, error) {
	return yesNo(c, KeyPrivileged, false)
}

func yesNo(c *Container, key string, def bool) (bool, error) {
	switch v := c.Get(key); v {
	case "":
		return def, nil
	case "yes":
		return true, nil
	case "no":
		return false, nil
	default:
		return false, fmt.Errorf("%w: %s=%q in %s:%d: want yes or no", ErrBadParam, key, v, c.ConfPath, c.Conf.Line(key))
	}
}

// IDMap is the id mapping of an unprivileged container; nil for a
// privileged one. An unprivileged container without its range is an error
// (Store.ensureIDRange gives it one).
func (c *Container) IDMap() (*idmap.Map, error) {
	priv, err := c.Privileged()
	if err != nil || priv {
		return nil, err
	}
	uid, uerr := c.idKey(KeyLocalUID)
	gid, gerr := c.idKey(KeyLocalGID)
	if err := errors.Join(uerr, gerr); err != nil {
		return nil, err
	}
	return &idmap.Map{UID: uid, GID: gid, Size: idRangeSize}, nil
}

var errNoIDRange = errors.New("unprivileged container without LOCAL_UID/LOCAL_GID")

func (c *Container) idKey(key string) (uint32, error) {
	v := c.Get(key)
	if v == "" {
		return 0, fmt.Errorf("container %s: %w", c.ID, errNoIDRange)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 || n+idRangeSize > 1<<32 {
		return 0, fmt.Errorf("%w: %s=%q in %s:%d: want a host id from 1 to %d", ErrBadParam, key, v, c.ConfPath, c.Conf.Line(key), 1<<32-1-idRangeSize)
	}
	return uint32(n), nil
}

// InitKind is the recorded init of c ("" when an older vzkit made it).
func (c *Container) InitKind() (InitKind, error) {
	v := c.Get(KeyInitKind)
	if v == "" {
		return "", nil
	}
	k, err := ParseInitKind(v)
	if err != nil {
		return "", fmt.Errorf("%s:%d: %w", c.ConfPath, c.Conf.Line(KeyInitKind), err)
	}
	return k, nil
}

// ParseOnOff parses OpenVZ's "name:on name:off ..." lists (CAPABILITY,
// FEATURES) into name -> on.
func ParseOnOff(v string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, f := range strings.Fields(v) {
		name, state, ok := strings.Cut(f, ":")
		if !ok || name == "" || (state != "on" && state != "off") {
			return nil, fmt.Errorf("%q: want NAME:on or NAME:off", f)
		}
		out[name] = state == "on"
	}
	return out, nil
}

// capName normalises a CAPABILITY name to "CAP_NAME" and checks that the
// kernel knows it.
func capName(name string) (string, error) {
	n := strings.ToLower(strings.TrimPrefix(strings.ToUpper(name), "CAP_"))
	for _, c := range capability.ListKnown() {
		if c.String() == n {
			return "CAP_" + strings.ToUpper(n), nil
		}
	}
	return "", fmt.Errorf("unknown capability %q", name)
}

// CheckCapability validates a CAPABILITY value.
func CheckCapability(v string) error {
	m, err := ParseOnOff(v)
	if err != nil {
		return err
	}
	for name := range m {
		if _, err := capName(name); err != nil {
			return err
		}
	}
	return nil
}

// CheckFeatures validates a FEATURES value: only features vzkit provides.
func CheckFeatures(v string) error {
	m, err := ParseOnOff(v)
	if err != nil {
		return err
	}
	for name := range m {
		if name != "nesting" {
			return fmt.Errorf("feature %q is not supported (vzkit knows nesting)", name)
		}
	}
	return nil
}

// systemCaps are added for a full init: CAP_SYS_BOOT lets it (or halt)
// call reboot(2), which in a PID namespace only ends the namespace's init;
// CAP_NET_ADMIN lets the distro's network scripts configure the container's
// own interfaces.
var systemCaps = []string{"CAP_SYS_BOOT", "CAP_NET_ADMIN"}

// systemdCaps are added for systemd: CAP_SYS_ADMIN for its mounts and the
// namespaces of sandboxed units, CAP_SYS_NICE for units with Nice= or
// scheduling policies. CAP_SYS_ADMIN is given only inside a user namespace
// (unprivileged containers); a privileged container gets it only through
// CAPABILITY="SYS_ADMIN:on", because over the host's namespaces it lets
// root remount /proc and write host-wide sysctls (kernel.core_pattern).
var systemdCaps = []string{"CAP_SYS_NICE"}

// systemdSyscalls come off the seccomp deny list for a systemd that holds
// CAP_SYS_ADMIN: the new mount API and name_to_handle_at, which it uses for
// mounts and to tell mount points apart (Docker's profile allows them with
// CAP_SYS_ADMIN too).
var systemdSyscalls = []string{
	"fsconfig", "fsmount", "fsopen", "fspick", "mount_setattr", "move_mount",
	"open_tree", "name_to_handle_at",
}

// profile is what c's configuration grants it, as sandbox settings.
type profile struct {
	init     InitKind
	idmap    *idmap.Map // nil: privileged
	caps     []string
	syscalls []string // off the seccomp deny list
	tmpfs    []sandbox.Tmpfs
	delegate bool // a writable cgroup of its own (systemd)
	nested   bool // user namespaces inside
}

// checkProfile validates the privilege keys of c's configuration.
func checkProfile(c *Container) error {
	priv, err := c.Privileged()
	if err != nil {
		return err
	}
	if _, err := c.InitKind(); err != nil {
		return err
	}
	if _, err := capChanges(c); err != nil {
		return err
	}
	features, err := ParseOnOff(c.Get(KeyFeatures))
	if err == nil {
		err = CheckFeatures(c.Get(KeyFeatures))
	}
	if err != nil {
		return fmt.Errorf("%w: %s in %s:%d: %v", ErrBadParam, KeyFeatures, c.ConfPath, c.Conf.Line(KeyFeatures), err)
	}
	if features["nesting"] && priv {
		return fmt.Errorf("%w: %s: nesting:on needs an unprivileged container, and %s has PRIVILEGED=\"yes\"", ErrBadParam, KeyFeatures, c.ConfPath)
	}
	return nil
}

// capChanges is CAPABILITY as "CAP_NAME" -> on.
func capChanges(c *Container) (map[string]bool, error) {
	bad := func(err error) error {
		return fmt.Errorf("%w: %s in %s:%d: %v", ErrBadParam, KeyCapability, c.ConfPath, c.Conf.Line(KeyCapability), err)
	}
	m, err := ParseOnOff(c.Get(KeyCapability))
	if err != nil {
		return nil, bad(err)
	}
	out := make(map[string]bool, len(m))
	for name, on := range m {
		cn, err := capName(name)
		if err != nil {
			return nil, bad(err)
		}
		out[cn] = on
	}
	return out, nil
}

// profileOf computes the privilege profile of c for init kind k. It reads
// nothing but c's configuration.
func profileOf(c *Container, k InitKind) (profile, error) {
	p := profile{init: k, caps: slices.Clone(sandbox.DefaultCapabilities)}
	if err := checkProfile(c); err != nil {
		return p, err
	}
	var err error
	if p.idmap, err = c.IDMap(); err != nil {
		return p, err
	}
	if k == InitSystemd || k == InitSysV {
		p.caps = append(p.caps, systemCaps...)
		p.syscalls = append(p.syscalls, "reboot")
		// A fresh /run every boot, as on a host: stale pid files, utmp and
		// sockets of the last run must not survive it. tmpcopyup keeps what
		// the image ships in /run. Sizes are systemd's own defaults; the
		// pages count against the container's memory cgroup anyway.
		p.tmpfs = []sandbox.Tmpfs{
			{Destination: "/run", Options: []string{"nosuid", "nodev", "mode=755", "size=20%", "tmpcopyup"}},
			{Destination: "/run/lock", Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=5m"}},
		}
	}
	if k == InitSystemd {
		p.caps = append(p.caps, systemdCaps...)
		if p.idmap != nil {
			p.caps = append(p.caps, "CAP_SYS_ADMIN")
		}
		p.delegate = true
	}
	changes, _ := capChanges(c)
	for _, cn := range sortedKeys(changes) {
		p.caps = slices.DeleteFunc(p.caps, func(x string) bool { return x == cn })
		if changes[cn] {
			p.caps = append(p.caps, cn)
		}
	}
	if k == InitSystemd && slices.Contains(p.caps, "CAP_SYS_ADMIN") {
		p.syscalls = append(p.syscalls, systemdSyscalls...)
	}
	features, _ := ParseOnOff(c.Get(KeyFeatures))
	p.nested = features["nesting"]
	return p, nil
}

// apply puts the profile into a sandbox configuration.
func (p profile) apply(cfg *sandbox.Config) {
	cfg.Capabilities = p.caps
	cfg.AllowSyscalls = append(cfg.AllowSyscalls, p.syscalls...)
	cfg.Tmpfs = append(cfg.Tmpfs, p.tmpfs...)
	cfg.DelegateCgroup = p.delegate
	cfg.UserNS = p.idmap
	cfg.NestedUserNS = p.nested
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ID ranges of unprivileged containers.
//
// Each container gets a range of its own (Incus's isolated idmaps): a
// process that got out of one container, or a file shared between two (an
// overlay lower), then still has no rights over another container's files
// or processes. With idmapped mounts a range costs nothing (no chown of
// the tree), so nothing argues for sharing one. Ranges start at vz.conf's
// LOCAL_UID/LOCAL_GID (100000) in steps of idRangeSize and skip ranges that
// another container holds, that /etc/subuid or /etc/subgid give to a user
// (their rootless containers use them), and ids of existing host users and
// groups.

// idRangeLock serialises range allocation across vzctl processes; it is
// held from choosing a range until the CTID.conf recording it is written.
func (s *Store) idRangeLock() (*Lock, error) { return s.lockFile(".idmap", true) }

// allocIDRange returns a free range for ctid; the caller holds
// idRangeLock and records the range in ctid's CTID.conf before releasing it.
func (s *Store) allocIDRange(ctid string) (idmap.Map, error) {
	baseU, err := s.globalID(KeyLocalUID)
	if err != nil {
		return idmap.Map{}, err
	}
	baseG, err := s.globalID(KeyLocalGID)
	if err != nil {
		return idmap.Map{}, err
	}
	var usedU, usedG [][2]uint64
	cts, err := s.List()
	if err != nil {
		return idmap.Map{}, err
	}
	for _, c := range cts {
		if c.ID == ctid {
			continue
		}
		if m, err := c.IDMap(); err == nil && m != nil {
			usedU = append(usedU, [2]uint64{uint64(m.UID), uint64(m.Size)})
			usedG = append(usedG, [2]uint64{uint64(m.GID), uint64(m.Size)})
		}
	}
	usedU = append(usedU, subIDRanges("/etc/subuid")...)
	usedG = append(usedG, subIDRanges("/etc/subgid")...)
	usedU = append(usedU, hostIDs("/etc/passwd")...)
	usedG = append(usedG, hostIDs("/etc/group")...)
	free := func(start uint64, used [][2]uint64) bool {
		for _, r := range used {
			if start < r[0]+r[1] && r[0] < start+idRangeSize {
				return false
			}
		}
		return true
	}
	for k := uint64(0); ; k++ {
		u, g := uint64(baseU)+k*idRangeSize, uint64(baseG)+k*idRangeSize
		if u+idRangeSize > 1<<32 || g+idRangeSize > 1<<32 {
			return idmap.Map{}, fmt.Errorf("container %s: no free range of %d host ids above %s=%d/%s=%d", ctid, idRangeSize, KeyLocalUID, baseU, KeyLocalGID, baseG)
		}
		if free(u, usedU) && free(g, usedG) {
			return idmap.Map{UID: uint32(u), GID: uint32(g), Size: idRangeSize}, nil
		}
	}
}

func (s *Store) globalID(key string) (uint32, error) {
	v := s.G.Get(key)
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: %s=%q in %s: want a host id above 0", ErrBadParam, key, v, s.G.File)
	}
	return uint32(n), nil
}

// subIDRanges reads the ranges of an /etc/subuid-style file
// ("name:start:count" lines); a missing file has none. These are host
// files, never under a VZKIT_ROOT prefix: the ids are the host's.
func subIDRanges(path string) [][2]uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out [][2]uint64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(f) != 3 {
			continue
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 == nil && err2 == nil {
			out = append(out, [2]uint64{start, count})
		}
	}
	return out
}

// hostIDs reads the ids of /etc/passwd or /etc/group (third field), each a
// range of one.
func hostIDs(path string) [][2]uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out [][2]uint64
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 3 {
			continue
		}
		if id, err := strconv.ParseUint(f[2], 10, 32); err == nil && id >= idRangeSize {
			out = append(out, [2]uint64{id, 1})
		}
	}
	return out
}

// ensureIDRange gives an unprivileged container made by an older vzkit
// (no LOCAL_UID) its range and saves it; the caller holds c's lock.
func (s *Store) ensureIDRange(c *Container) error {
	if _, err := c.IDMap(); !errors.Is(err, errNoIDRange) {
		return err
	}
	lk, err := s.idRangeLock()
	if err != nil {
		return err
	}
	defer lk.Unlock()
	m, err := s.allocIDRange(c.ID)
	if err != nil {
		return err
	}
	c.Conf.Set(KeyLocalUID, strconv.FormatUint(uint64(m.UID), 10))
	c.Conf.Set(KeyLocalGID, strconv.FormatUint(uint64(m.GID), 10))
	s.log().Info("unprivileged container gets its id range", "ctid", c.ID, "range", m.String())
	return s.WriteConf(c)
}

// ensureInitKind records the init of a container made by an older vzkit
// (no INIT_KIND), detected once from its mounted root; the caller holds
// c's lock. Later changes to the image's /sbin/init change nothing.
func (s *Store) ensureInitKind(c *Container) (InitKind, error) {
	k, err := c.InitKind()
	if err != nil || k != "" {
		return k, err
	}
	k = detectInit(c.Root)
	c.Conf.Set(KeyInitKind, string(k))
	s.log().Info("init kind recorded from the image, once", "ctid", c.ID, "init", k)
	return k, s.WriteConf(c)
}
