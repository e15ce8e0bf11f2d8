package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/moby/sys/mountinfo"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/atomicfile"
	"github.com/vzkit/vzkit/runtime/resource"
	"github.com/vzkit/vzkit/runtime/sandbox"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

// ResourceChange is one resource parameter given to set, as the admin
// typed it (OpenVZ's syntax: barrier[:limit], K/M/G/T/P, unlimited).
type ResourceChange struct {
	Param *resource.Param
	Value string
	Flag  string // the flag given, when not the parameter's own (--ram)
}

// fileLayer is a configuration file as a resource.Layer.
func fileLayer(f *vzconf.File) resource.Layer {
	return func(key string) (string, string, bool) {
		v, ok := f.Get(key)
		return v, fmt.Sprintf("%s:%d", f.Name, f.Line(key)), ok
	}
}

// globalLayer is vz.conf as a resource.Layer: only what the file says.
func globalLayer(g *vzconf.Global) resource.Layer {
	return func(key string) (string, string, bool) {
		o := g.Origin(key)
		if o == "" || o == "default" {
			return "", "", false
		}
		return g.Raw(key), o, true
	}
}

// Resources is c's resource configuration, parsed once: vz.conf, then the
// sample CTID.conf came from (ORIGIN_SAMPLE, for keys CTID.conf lacks),
// then CTID.conf.
func (s *Store) Resources(c *Container) (resource.Config, error) {
	layers := []resource.Layer{globalLayer(s.G)}
	if name := c.Get("ORIGIN_SAMPLE"); name != "" && ValidName(name) == nil {
		if f, err := vzconf.ReadFile(s.SamplePath(name)); err == nil {
			layers = append(layers, fileLayer(f))
		} else if !errors.Is(err, os.ErrNotExist) {
			return resource.Config{}, fmt.Errorf("container %s: sample: %w", c.ID, err)
		}
	}
	layers = append(layers, fileLayer(c.Conf))
	rc, err := resource.Parse(layers...)
	if err != nil {
		return resource.Config{}, fmt.Errorf("container %s: %w: %v", c.ID, ErrBadParam, err)
	}
	return rc, nil
}

// sandboxResources maps c's resource configuration onto host h (s.host):
// what start gives the sandbox and what a live set changes it to.
func (s *Store) sandboxResources(c *Container, rc resource.Config, h resource.Host) (sandbox.Resources, error) {
	nodes := map[string]resource.HostNode{}
	for _, n := range rc.DevNodes {
		hn, err := hostNode(n.Name)
		if err != nil {
			return sandbox.Resources{}, fmt.Errorf("container %s: DEVNODES %s: %w", c.ID, n, err)
		}
		nodes[n.Name] = hn
	}
	res, notes, err := rc.Sandbox(h, nodes)
	if err != nil {
		return sandbox.Resources{}, fmt.Errorf("container %s: %w", c.ID, err)
	}
	for _, n := range notes {
		s.log().Warn(n, "ctid", c.ID)
	}
	return res, nil
}

// host is what the resource mapping needs to know of this machine for c.
func (s *Store) host(c *Container) resource.Host {
	h := resource.Host{CPUs: goruntime.NumCPU()}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		h.NoFileMax, h.NoFileSoft = rl.Max, rl.Cur
	}
	if d, err := blockDevice(c.Private); err == nil {
		h.Devices = append(h.Devices, d)
	} else {
		s.log().Debug("no block device for I/O limits", "ctid", c.ID, "path", c.Private, "err", err)
	}
	return h
}

// hostNode finds a host device node under /dev for DEVNODES. /dev is the
// host's own: the node itself, not what a symlink there names.
func hostNode(name string) (resource.HostNode, error) {
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join("/dev", name), &st); err != nil {
		return resource.HostNode{}, fmt.Errorf("host device node: %w", err)
	}
	var t rune
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		t = 'c'
	case unix.S_IFBLK:
		t = 'b'
	default:
		return resource.HostNode{}, fmt.Errorf("/dev/%s is not a device node", name)
	}
	return resource.HostNode{Type: t, Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)), Mode: st.Mode & 0o777}, nil
}

// blockDevice is the whole disk holding path, for I/O throttling (the
// kernel throttles disks, not partitions). A file system with no block
// device of its own (btrfs, overlayfs: an anonymous st_dev) is followed to
// its mount source.
func blockDevice(path string) (resource.BlockDevice, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return resource.BlockDevice{}, err
	}
	dev := st.Dev
	if unix.Major(dev) == 0 {
		src, err := mountSource(path)
		if err != nil {
			return resource.BlockDevice{}, err
		}
		var sst unix.Stat_t
		if err := unix.Stat(src, &sst); err != nil || sst.Mode&unix.S_IFMT != unix.S_IFBLK {
			return resource.BlockDevice{}, fmt.Errorf("mount source %q of %s is not a block device", src, path)
		}
		dev = sst.Rdev
	}
	sys := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(dev), unix.Minor(dev))
	real, err := filepath.EvalSymlinks(sys)
	if err != nil {
		return resource.BlockDevice{}, err
	}
	if _, err := os.Stat(filepath.Join(real, "partition")); err == nil {
		real = filepath.Dir(real)
	}
	var major, minor int64
	b, err := os.ReadFile(filepath.Join(real, "dev"))
	if err != nil {
		return resource.BlockDevice{}, err
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &major, &minor); err != nil {
		return resource.BlockDevice{}, fmt.Errorf("%s/dev: %w", real, err)
	}
	sched, _ := os.ReadFile(filepath.Join(real, "queue/scheduler"))
	return resource.BlockDevice{Major: major, Minor: minor, Name: filepath.Base(real), BFQ: strings.Contains(string(sched), "[bfq]")}, nil
}

// mountSource is the source of the mount that holds path: of the mounts
// that can be its parents, the one with the longest mount point.
func mountSource(path string) (string, error) {
	infos, err := mountinfo.GetMounts(mountinfo.ParentsFilter(path))
	if err != nil {
		return "", err
	}
	best := -1
	src := ""
	for _, m := range infos {
		if len(m.Mountpoint) > best {
			best, src = len(m.Mountpoint), m.Source
		}
	}
	if best < 0 {
		return "", fmt.Errorf("no mount holds %s", path)
	}
	return src, nil
}

// applyResources changes running container c to rc on host h: its sandbox
// and, with disk, its disk quota, the same mapping start uses. What the
// sandbox then holds is recorded as in force (recordInForce), with the
// disk quota of before when that one could not be changed.
func (s *Store) applyResources(ctx context.Context, c *Container, sb *sandbox.Sandbox, rc, before resource.Config, h resource.Host, disk bool) error {
	res, err := s.sandboxResources(c, rc, h)
	if err != nil {
		return err
	}
	if err := sb.Set(res); errors.Is(err, sandbox.ErrRaiseLater) {
		s.log().Warn("limits raised for new processes; running ones keep their hard limits", "ctid", c.ID, "why", err)
	} else if err != nil {
		return fmt.Errorf("container %s: %w", c.ID, err)
	}
	var qerr error
	if disk {
		if qerr = s.applyDiskQuota(ctx, c, rc.Disk); qerr != nil {
			rc.Disk = before.Disk
		}
	}
	return errors.Join(s.recordInForce(c.ID, rc), qerr)
}

// The configuration in force. A live set changes a running container's
// limits and, without --save, not its files: what it holds is kept in
// STATEDIR/ct/CTID.resources (resource.Config.Record), written by start
// and by every live set, removed when it stops, so that ubc and vzlist
// show what is in force, as OpenVZ's /proc/user_beancounters does, and the
// next live set changes only what it names. STATEDIR/ct is vzkit's own
// (the containers' gates are below it, each in a directory of its own):
// the record is read only from there, from a file of vzkit's user that no
// one else may write, and it must parse strictly (resource.ParseRecord).

func (s *Store) inForceRecord(ctid string) string {
	return filepath.Join(s.ctDir(), ctid+".resources")
}

// ownDir checks that dir is a directory of this process's user that no
// one else may write: where vzkit keeps what it alone writes.
func ownDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
		return fmt.Errorf("%s (uid %d, mode %04o) is not a directory of vzkit's own (uid %d, not writable by others)",
			dir, st.Uid, st.Mode&0o7777, os.Geteuid())
	}
	return nil
}

// recordInForce keeps rc as the configuration ctid's sandbox holds.
func (s *Store) recordInForce(ctid string, rc resource.Config) error {
	if err := ownDir(s.ctDir()); err != nil {
		return fmt.Errorf("container %s: resources in force: %w", ctid, err)
	}
	if err := atomicfile.WriteBytes(s.inForceRecord(ctid), rc.Record(), 0o644); err != nil {
		return fmt.Errorf("container %s: resources in force: %w", ctid, err)
	}
	return nil
}

// readInForce reads ctid's record of the configuration in force; ok is
// false when there is none (a container started by a vzkit that kept
// none: its files are what it holds).
func (s *Store) readInForce(ctid string) (rc resource.Config, ok bool, err error) {
	p := s.inForceRecord(ctid)
	fail := func(err error) (resource.Config, bool, error) {
		return resource.Config{}, false, fmt.Errorf("container %s: resources in force: %w", ctid, err)
	}
	b, ok, err := s.readRecord(p, resource.MaxRecord)
	if err != nil {
		return fail(err)
	}
	if !ok {
		return resource.Config{}, false, nil
	}
	if rc, err = resource.ParseRecord(b); err != nil {
		return fail(fmt.Errorf("%s: %w (vzctl set --reset_ub applies the saved configuration again)", p, err))
	}
	return rc, true, nil
}

// InForce is c's resource configuration in force: while c runs, what its
// start or its last live set gave its sandbox (a set without --save
// changes that, not the files); else, and for a container started by a
// vzkit that kept no record, what its files say (Store.Resources).
// running tells which.
func (s *Store) InForce(c *Container) (rc resource.Config, running bool, err error) {
	rc, sb, err := s.inForce(c)
	return rc, sb != nil, err
}

func (s *Store) inForce(c *Container) (resource.Config, *sandbox.Sandbox, error) {
	sb, _, err := s.running(c)
	if err != nil {
		return resource.Config{}, nil, err
	}
	if sb != nil {
		rc, ok, err := s.readInForce(c.ID)
		if err != nil {
			return resource.Config{}, nil, err
		}
		if ok {
			return rc, sb, nil
		}
	}
	rc, err := s.Resources(c)
	if err != nil {
		return resource.Config{}, nil, err
	}
	return rc, sb, nil
}
