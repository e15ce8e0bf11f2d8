package resource

import (
	"fmt"
	"math"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/runtime/sandbox"
)

// cfsPeriod is the CPU period of CPULIMIT and CPUS: the kernel's default.
const cfsPeriod = 100000 // µs

// HostNode is a host device node, for DEVNODES.
type HostNode struct {
	Type         rune // 'b' or 'c'
	Major, Minor int64
	Mode         uint32 // permission bits
}

// Sandbox is what c gives a sandbox on host h: the one mapping of the
// parameters onto cgroups, rlimits and sysctls, used alike by start and by
// a live set, so that the two cannot differ. It is pure: everything it
// knows of the host is in h (and nodes, the DEVNODES host nodes by name).
// Notes say where h holds c back (a limit beyond the host's, IOPRIO with
// no BFQ device), for the caller to show.
func (c Config) Sandbox(h Host, nodes map[string]HostNode) (r sandbox.Resources, notes []string, err error) {
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }

	// Memory: PHYSPAGES is RAM; SWAPPAGES the swap beyond it. Without a
	// PHYSPAGES limit, PRIVVMPAGES (an allocation limit OpenVZ had and
	// mainline lacks) caps memory and swap together, as vzcfgconvert
	// turns a pre-vswap configuration into a vswap one.
	ram, swap := Pages.Bytes(c.PhysPages.Limit), Pages.Bytes(c.SwapPages.Limit)
	if ram.IsUnlimited() && !c.PrivVMPages.Limit.IsUnlimited() {
		ram, swap = Pages.Bytes(c.PrivVMPages.Limit), 0
	}
	if !ram.IsUnlimited() {
		r.MemoryBytes = max(int64(ram), 1<<20) // the kernel refuses a limit below its usage; 0 would mean none
		if !swap.IsUnlimited() {
			r.MemorySwapBytes = r.MemoryBytes + int64(swap)
		}
	} else if !swap.IsUnlimited() {
		note("SWAPPAGES is held only with a PHYSPAGES limit (cgroup v1 limits RAM+swap together)")
	}
	if b := Pages.Bytes(c.PhysPages.Barrier); b > 0 && !b.IsUnlimited() {
		r.MemoryLowBytes = int64(b)
	}

	if !c.NumProc.Limit.IsUnlimited() {
		r.PidsLimit = max(int64(c.NumProc.Limit), 1)
	}

	// CPU: CPUUNITS is a weight (1000 the default of both versions); the
	// cap is the lower of CPULIMIT and CPUS, at most every host CPU.
	r.CPUShares = uint64(min(max(c.CPUUnits*1024/1000, 2), 262144))
	r.CPUWeight = uint64(min(max(c.CPUUnits/10, 1), 10000))
	pct := c.CPULimit
	if c.CPUs > 0 && (pct == 0 || c.CPUs*100 < pct) {
		pct = c.CPUs * 100
	}
	if all := Value(100 * h.CPUs); pct > all && h.CPUs > 0 {
		note("CPULIMIT/CPUS of %d%% held to the host's %d CPUs (%d%%)", pct, h.CPUs, all)
		pct = all
	}
	if pct > 0 {
		r.CPUQuotaMicros, r.CPUPeriodMicros = int64(pct)*cfsPeriod/100, cfsPeriod
	}
	if len(c.CPUMask) > 0 {
		var mask CPUSet
		for _, n := range c.CPUMask {
			if n < h.CPUs {
				mask = append(mask, n)
			}
		}
		if len(mask) < len(c.CPUMask) {
			note("CPUMASK %s held to the host's CPUs 0-%d", c.CPUMask, h.CPUs-1)
		}
		r.CPUSet = mask.String()
	}

	// Disk I/O: a BFQ weight doubling per IOPRIO level (4 is the default
	// weight 100); IOLIMIT and IOPSLIMIT on the private area's devices.
	r.IOWeight = uint16(math.Round(100 * math.Pow(2, float64(int(min(c.IOPrio, 7))-4))))
	if c.IOPrio != DefaultIOPrio {
		for _, d := range h.Devices {
			if !d.BFQ {
				note("IOPRIO has no effect on %s: it does not use the BFQ I/O scheduler", d.Name)
			}
		}
	}
	for _, d := range h.Devices {
		r.IOThrottle = append(r.IOThrottle, sandbox.IOThrottle{
			Major: d.Major, Minor: d.Minor,
			ReadBps: uint64(c.IOLimit), WriteBps: uint64(c.IOLimit),
			ReadIOPS: uint64(c.IOPSLimit), WriteIOPS: uint64(c.IOPSLimit),
		})
	}

	// Per-process limits, the nearest mainline has to OpenVZ's
	// container-wide NUMFILE and LOCKEDPAGES. A hard limit above the
	// host's own cannot be given (no CAP_SYS_RESOURCE is asked for).
	files := c.NumFile.Limit
	if h.NoFileMax > 0 && (files.IsUnlimited() || uint64(files) > h.NoFileMax) {
		if !files.IsUnlimited() {
			note("NUMFILE %d held to the host's hard open-file limit %d", files, h.NoFileMax)
		}
		files = Value(h.NoFileMax)
	}
	if !files.IsUnlimited() {
		soft := min(uint64(files), max(h.NoFileSoft, 1024))
		r.Rlimits = append(r.Rlimits, sandbox.Rlimit{Resource: unix.RLIMIT_NOFILE, Soft: soft, Hard: uint64(files)})
	}
	if locked := Pages.Bytes(c.LockedPages.Limit); !locked.IsUnlimited() {
		r.Rlimits = append(r.Rlimits, sandbox.Rlimit{Resource: unix.RLIMIT_MEMLOCK, Soft: uint64(locked), Hard: uint64(locked)})
	}

	// System V shared memory of the container's IPC namespace; unlimited
	// is the kernel's default, written so that a live set can lift a cap.
	shmall, shmmax := uint64(kernelShmMax), uint64(kernelShmMax)
	if !c.ShmPages.Limit.IsUnlimited() {
		shmall, shmmax = uint64(c.ShmPages.Limit), uint64(Pages.Bytes(c.ShmPages.Limit))
	}
	r.IPCSysctls = map[string]string{
		"kernel.shmall": strconv.FormatUint(shmall, 10),
		"kernel.shmmax": strconv.FormatUint(shmmax, 10),
	}

	// Devices: DEVICES rules, then DEVNODES' nodes with their rules.
	for _, d := range c.Devices {
		r.Devices = append(r.Devices, deviceRules(d.Type, d.Major, d.Minor, d.Access)...)
	}
	for _, n := range c.DevNodes {
		hn, ok := nodes[n.Name]
		if !ok {
			return sandbox.Resources{}, nil, fmt.Errorf("DEVNODES %s: no such device node on this host", n)
		}
		if n.Access != AccessNone {
			r.DeviceNodes = append(r.DeviceNodes, sandbox.DeviceNode{
				Path: "/dev/" + n.Name, Type: hn.Type, Major: hn.Major, Minor: hn.Minor, Mode: 0o600,
			})
		}
		r.Devices = append(r.Devices, deviceRules(hn.Type, hn.Major, hn.Minor, n.Access)...)
	}
	return r, notes, nil
}

// kernelShmMax is the kernel's default kernel.shmall and kernel.shmmax
// (ULONG_MAX - 2^24).
const kernelShmMax = math.MaxUint64 - 1<<24

// deviceRules are the cgroup rules giving exactly access a to a device:
// what it allows, and a deny of the rest (so that a rule can also take
// access away from runc's defaults).
func deviceRules(t rune, major, minor int64, a Access) []sandbox.DeviceRule {
	var allow, deny string
	switch a {
	case AccessRead:
		allow, deny = "r", "w"
	case AccessWrite:
		allow, deny = "w", "r"
	case AccessReadWrite:
		allow = "rw"
	default:
		// Read and write, not mknod: runc's defaults allow mknod of
		// every device ("a *:* m", harmless where opening is refused),
		// and libcontainer's rule emulator cannot cut a hole in a
		// wildcard rule, so "rwm" fails a live set on cgroup v2.
		deny = "rw"
	}
	var out []sandbox.DeviceRule
	if allow != "" {
		out = append(out, sandbox.DeviceRule{Type: t, Major: major, Minor: minor, Access: allow})
	}
	if deny != "" {
		out = append(out, sandbox.DeviceRule{Type: t, Major: major, Minor: minor, Access: deny, Deny: true})
	}
	return out
}
