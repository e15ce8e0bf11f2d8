package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/capability"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/vzkit/vzkit/runtime/idmap"
)

// NetMode selects the network namespace of a sandbox.
type NetMode int

const (
	// NetNone gives the sandbox its own network namespace with only the
	// loopback interface, brought up.
	NetNone NetMode = iota
	// NetHost shares the host's network namespace.
	NetHost
	// NetNamespace joins the existing network namespace at Network.NSPath
	// (e.g. one prepared with veth pairs by runtime/net).
	NetNamespace
)

// Network is the network setup of a sandbox.
type Network struct {
	Mode   NetMode
	NSPath string // for NetNamespace: e.g. /run/netns/ct101 or /proc/PID/ns/net
}

// Mount is a bind mount of a host path into the sandbox.
type Mount struct {
	Source      string // host path
	Destination string // absolute path inside the sandbox
	ReadOnly    bool
}

// Config describes a sandbox.
type Config struct {
	ID       string // libcontainer container ID: [A-Za-z0-9_+.-]+
	Root     string // root directory of the sandbox (must exist)
	StateDir string // libcontainer state root, e.g. vzconf STATEDIR+"/sandbox"
	Hostname string // "" = ID

	Network   Network
	Mounts    []Mount
	Resources Resources

	// Capabilities kept by the sandbox's processes, e.g. "CAP_CHOWN".
	// nil = DefaultCapabilities.
	Capabilities []string

	// CgroupPath is the sandbox's cgroup, relative to the root of each
	// hierarchy. "" = vzkit/<ID>.
	CgroupPath string

	// UserNS, when set, runs the sandbox in a user namespace of its own
	// with this id mapping: its root is an unprivileged host uid and its
	// capabilities count only inside its own namespaces. Root must then be
	// a tree the mapped ids own (an idmapped mount, package idmap). nil:
	// the sandbox's root is the host's root, confined by namespaces,
	// capabilities, seccomp and cgroups only.
	UserNS *idmap.Map

	// NestedUserNS lets the sandbox's processes make user namespaces of
	// their own. Off, seccomp refuses them (unshare and clone with
	// CLONE_NEWUSER; clone3, whose flags it cannot read, answers ENOSYS so
	// that libc falls back to clone), as Docker's default profile does: in a
	// new user namespace a process holds every capability over what it
	// creates there, which is kernel attack surface a container rarely needs.
	NestedUserNS bool

	// The fields below serve a full init system (systemd, SysV init) as
	// the sandbox's PID 1; all are off by default.

	// Tmpfs are tmpfs file systems mounted after Mounts (e.g. /run).
	Tmpfs []Tmpfs

	// DelegateCgroup gives the sandbox a cgroup namespace and its own
	// cgroup, writable, as systemd needs to manage its services: on a
	// cgroup v2 host /sys/fs/cgroup is mounted read-write (the host's
	// nsdelegate mount option keeps the sandbox from raising its own
	// limits); on a v1 or hybrid host the controllers stay read-only and
	// the sandbox's cgroup of the name=systemd hierarchy is bound
	// read-write at /sys/fs/cgroup/systemd.
	DelegateCgroup bool

	// AllowSyscalls are taken off the seccomp deny list, e.g. "reboot",
	// which in a PID namespace only ends the namespace's init.
	AllowSyscalls []string

	// Console is a host file bound at /dev/console (e.g. the init's
	// log file, or /dev/null); "" = no /dev/console.
	Console string
}

// Tmpfs is a tmpfs mount in the sandbox.
type Tmpfs struct {
	Destination string   // absolute path inside the sandbox
	Options     []string // mount(8) options, e.g. "nosuid", "mode=1777", "size=64m"
}

// DefaultCapabilities is the capability set of runc's and Docker's default
// container profile. CAP_SYS_RESOURCE is deliberately absent: some hosts drop
// it from the bounding set, and asking for it there fails every start.
var DefaultCapabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// defaultPath is the PATH of a process started without an environment.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func (c *Config) validate() error {
	if c.ID == "" {
		return errors.New("sandbox: empty ID")
	}
	if c.StateDir == "" || !filepath.IsAbs(c.StateDir) {
		return fmt.Errorf("sandbox %s: state directory %q must be an absolute path", c.ID, c.StateDir)
	}
	if !filepath.IsAbs(c.Root) {
		return fmt.Errorf("sandbox %s: root %q must be an absolute path", c.ID, c.Root)
	}
	if fi, err := os.Stat(c.Root); err != nil {
		return fmt.Errorf("sandbox %s: root: %w", c.ID, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("sandbox %s: root %s is not a directory", c.ID, c.Root)
	}
	for _, m := range c.Mounts {
		if !filepath.IsAbs(m.Source) || !path.IsAbs(m.Destination) {
			return fmt.Errorf("sandbox %s: bind mount %s -> %s: both paths must be absolute", c.ID, m.Source, m.Destination)
		}
	}
	for _, m := range c.Tmpfs {
		if !path.IsAbs(m.Destination) {
			return fmt.Errorf("sandbox %s: tmpfs %s: path must be absolute", c.ID, m.Destination)
		}
	}
	if c.Console != "" && !filepath.IsAbs(c.Console) {
		return fmt.Errorf("sandbox %s: console %q must be an absolute path", c.ID, c.Console)
	}
	switch c.Network.Mode {
	case NetNone, NetHost:
	case NetNamespace:
		if !filepath.IsAbs(c.Network.NSPath) {
			return fmt.Errorf("sandbox %s: network namespace path %q must be absolute", c.ID, c.Network.NSPath)
		}
	default:
		return fmt.Errorf("sandbox %s: unknown network mode %d", c.ID, c.Network.Mode)
	}
	// Asking for a capability missing from the host's bounding set (as
	// CAP_SYS_RESOURCE is on some hosts) makes the container's init fail
	// late with a bare EPERM; refuse it up front with its name.
	for _, name := range c.Capabilities {
		if err := checkBound(name); err != nil {
			return fmt.Errorf("sandbox %s: capability %s: %w", c.ID, name, err)
		}
	}
	return nil
}

func checkBound(name string) error {
	want := strings.ToLower(strings.TrimPrefix(name, "CAP_"))
	for _, cp := range capability.ListKnown() {
		if cp.String() != want {
			continue
		}
		ok, err := capability.GetBound(cp)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not in this host's bounding set")
		}
		return nil
	}
	return errors.New("unknown capability")
}

func (c *Config) cgroupPath() string {
	p := c.CgroupPath
	if p == "" {
		p = "vzkit/" + c.ID
	}
	// Absolute, so that every vzctl process finds the same cgroup whatever
	// cgroup it runs in itself.
	return path.Clean("/" + p)
}

// libcontainerConfig turns c into libcontainer's configuration by way of an
// OCI spec built on runc's defaults.
func (c *Config) libcontainerConfig() (*configs.Config, error) {
	spec := specconv.Example()
	spec.Root = &specs.Root{Path: c.Root}
	spec.Hostname = c.Hostname
	if spec.Hostname == "" {
		// sethostname(2) takes at most 64 bytes; IDs may be longer.
		spec.Hostname = c.ID[:min(len(c.ID), 64)]
	}
	caps := c.Capabilities
	if caps == nil {
		caps = DefaultCapabilities
	}
	spec.Process.Terminal = false
	// dpkg maintainer scripts run setuid helpers (su, passwd, ...).
	spec.Process.NoNewPrivileges = false
	spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding:  slices.Clone(caps),
		Effective: slices.Clone(caps),
		Permitted: slices.Clone(caps),
	}
	// runc's Example limits open files to 1024; package managers and
	// services inherit the host's limits instead, as under OpenVZ, unless
	// Resources says otherwise.
	spec.Process.Rlimits = nil
	spec.Linux.MaskedPaths = append(spec.Linux.MaskedPaths,
		"/proc/interrupts", "/sys/devices/virtual/powercap")
	spec.Linux.CgroupsPath = c.cgroupPath()

	var namespaces []specs.LinuxNamespace
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type != specs.NetworkNamespace {
			namespaces = append(namespaces, ns)
		}
	}
	switch c.Network.Mode {
	case NetNone:
		namespaces = append(namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	case NetNamespace:
		namespaces = append(namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: c.Network.NSPath})
	}
	if c.UserNS != nil {
		namespaces = append(namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: c.UserNS.UID, Size: c.UserNS.Size}}
		spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: c.UserNS.GID, Size: c.UserNS.Size}}
	}
	spec.Linux.Namespaces = namespaces

	for _, m := range c.Mounts {
		opts := []string{"rbind"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		spec.Mounts = append(spec.Mounts, specs.Mount{
			Source: m.Source, Destination: m.Destination, Type: "bind", Options: opts,
		})
	}

	for _, m := range c.Tmpfs {
		spec.Mounts = append(spec.Mounts, specs.Mount{
			Source: "tmpfs", Destination: m.Destination, Type: "tmpfs", Options: slices.Clone(m.Options),
		})
	}
	if c.Console != "" {
		spec.Mounts = append(spec.Mounts, specs.Mount{
			Source: c.Console, Destination: "/dev/console", Type: "bind", Options: []string{"bind"},
		})
	}
	if c.DelegateCgroup {
		if err := c.delegateCgroup(spec); err != nil {
			return nil, err
		}
	}

	c.Resources.spec(spec)
	lc, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{Spec: spec})
	if err != nil {
		return nil, fmt.Errorf("sandbox %s: libcontainer config: %w", c.ID, err)
	}
	// specconv labels the config with its own working directory as the
	// bundle; there is no bundle here.
	lc.Labels = slices.DeleteFunc(lc.Labels, func(l string) bool { return strings.HasPrefix(l, "bundle=") })
	// The device rules runc made (its defaults, the device nodes) are the
	// base that Set extends again with Resources.Devices.
	base := lc.Cgroups.Resources.Devices
	// An empty org.criu.config keeps CRIU's RPC from reading
	// /etc/criu/runc.conf: what a checkpoint needs beyond libcontainer's
	// options comes in CRIU_CONFIG_FILE (see withCRIU).
	lc.Labels = append(lc.Labels, fmt.Sprintf("%s=%d", baseDevicesLabel, len(base)), "org.criu.config=")
	applyResources(lc.Cgroups.Resources, c.Resources, false, base)
	if lc.Rlimits, err = c.Resources.rlimits(); err != nil {
		return nil, fmt.Errorf("sandbox %s: %w", c.ID, err)
	}
	lc.Seccomp = defaultSeccomp(c.AllowSyscalls, c.NestedUserNS)
	return lc, nil
}

// delegateCgroup adds a cgroup namespace to spec and makes the sandbox's
// own cgroup writable inside it (see Config.DelegateCgroup).
func (c *Config) delegateCgroup(spec *specs.Spec) error {
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	if cgroups.IsCgroup2UnifiedMode() {
		for i, m := range spec.Mounts {
			if m.Type == "cgroup" {
				spec.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
			}
		}
		return nil
	}
	// runc mounts every v1 hierarchy read-only (each showing the cgroup
	// namespace's root, the sandbox's cgroup); the name=systemd one is
	// then covered by a read-write bind of the same directory. libcontainer
	// creates the cgroup before it sets up the root, so the source exists
	// by the time the bind is made.
	dirs, err := c.delegatedCgroupDirs()
	if err != nil {
		return err
	}
	spec.Mounts = append(spec.Mounts, specs.Mount{
		Source: dirs[0], Destination: "/sys/fs/cgroup/systemd",
		Type: "bind", Options: []string{"bind", "nosuid", "noexec", "nodev"},
	})
	return nil
}

// delegatedCgroupDirs are the host directories of the sandbox's cgroup
// that DelegateCgroup makes writable inside it.
func (c *Config) delegatedCgroupDirs() ([]string, error) {
	if cgroups.IsCgroup2UnifiedMode() {
		return []string{filepath.Join("/sys/fs/cgroup", c.cgroupPath())}, nil
	}
	mnt, err := cgroups.FindCgroupMountpoint("", "name=systemd")
	if err != nil {
		return nil, fmt.Errorf("sandbox %s: delegate cgroup: this cgroup v1 host has no name=systemd hierarchy: %w", c.ID, err)
	}
	return []string{filepath.Join(mnt, c.cgroupPath())}, nil
}

// delegationFiles are the files of a delegated cgroup its owner writes
// (cgroup v2's list in the kernel's cgroup-v2.rst, v1's equivalents).
var delegationFiles = []string{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "tasks", "notify_on_release", "cgroup.clone_children"}

// chownDelegatedCgroup creates the sandbox's delegated cgroup before
// libcontainer does (it keeps an existing directory) and gives it to the
// user namespace's root, who can otherwise not write it: its init manages
// the cgroups below its own. The host's nsdelegate (v2) or the read-only
// controllers (v1) keep it from its own limits.
func (c *Config) chownDelegatedCgroup() error {
	dirs, err := c.delegatedCgroupDirs()
	if err != nil {
		return err
	}
	uid, gid := int(c.UserNS.UID), int(c.UserNS.GID)
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("sandbox %s: delegate cgroup: %w", c.ID, err)
		}
		if err := os.Lchown(d, uid, gid); err != nil {
			return fmt.Errorf("sandbox %s: delegate cgroup: %w", c.ID, err)
		}
		for _, f := range delegationFiles {
			if err := os.Lchown(filepath.Join(d, f), uid, gid); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("sandbox %s: delegate cgroup: %w", c.ID, err)
			}
		}
	}
	return nil
}
