package sandbox

import (
	"errors"
	"fmt"
	"maps"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Resources are what a sandbox may use: cgroup limits, the rlimits of its
// processes and sysctls of its IPC namespace. A zero field means no limit
// (or, for the weights and the period, the kernel's default). Start and Set
// take the same value, so a sandbox started with r and one changed to r
// hold the same limits.
type Resources struct {
	MemoryBytes     int64  // memory limit
	MemoryLowBytes  int64  // memory reservation: v1 soft limit, v2 memory.low
	MemorySwapBytes int64  // memory+swap limit (OCI semantics), >= MemoryBytes
	CPUShares       uint64 // cgroup v1 cpu.shares, 2..262144
	CPUWeight       uint64 // cgroup v2 cpu.weight, 1..10000
	CPUQuotaMicros  int64  // CPU time allowed per period
	CPUPeriodMicros int64  // period for CPUQuotaMicros
	CPUSet          string // cpuset.cpus, e.g. "0-1"; "" every CPU
	PidsLimit       int64  // maximum number of tasks
	IOWeight        uint16 // proportional disk weight (BFQ), 1..1000
	IOThrottle      []IOThrottle
	Devices         []DeviceRule // beyond the default devices (/dev/null, ...)
	// DeviceNodes are host device nodes made in the sandbox's /dev at
	// start (Set cannot add nodes; their cgroup rules are in Devices).
	DeviceNodes []DeviceNode
	// Rlimits hold every process of the sandbox; Set changes the running
	// ones with prlimit(2). Raising a hard limit needs CAP_SYS_RESOURCE,
	// so without it a raise reaches only processes started afterwards.
	Rlimits []Rlimit
	// IPCSysctls are sysctls of the sandbox's IPC namespace (kernel.shm*).
	IPCSysctls map[string]string
}

// IOThrottle caps the I/O of the sandbox on one block device; zero rates
// are no cap.
type IOThrottle struct {
	Major, Minor        int64
	ReadBps, WriteBps   uint64
	ReadIOPS, WriteIOPS uint64
}

// DeviceRule allows (or, with Deny, refuses) access to devices: Type 'b'
// or 'c', Major/Minor -1 for every one, Access of "r", "w", "m".
type DeviceRule struct {
	Type         rune
	Major, Minor int64
	Access       string
	Deny         bool
}

// DeviceNode is a host device node made at Path in the sandbox.
type DeviceNode struct {
	Path         string // absolute, under /dev
	Type         rune   // 'b' or 'c'
	Major, Minor int64
	Mode         os.FileMode
}

// Rlimit is a resource limit (unix.RLIMIT_*) of every process.
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

var rlimitNames = map[int]string{
	unix.RLIMIT_NOFILE: "RLIMIT_NOFILE", unix.RLIMIT_MEMLOCK: "RLIMIT_MEMLOCK",
}

// rlimits are r's rlimits as libcontainer holds them: the init's and, by
// default, every process's it starts later.
func (r Resources) rlimits() ([]configs.Rlimit, error) {
	var out []configs.Rlimit
	for _, rl := range r.Rlimits {
		if _, ok := rlimitNames[rl.Resource]; !ok {
			return nil, fmt.Errorf("rlimit %d: not supported", rl.Resource)
		}
		out = append(out, configs.Rlimit{Type: rl.Resource, Soft: rl.Soft, Hard: rl.Hard})
	}
	return out, nil
}

// spec adds what r sets outside the cgroup and the rlimits (sysctls,
// device nodes) to the OCI spec the sandbox is built from.
func (r Resources) spec(s *specs.Spec) {
	if len(r.IPCSysctls) > 0 {
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		maps.Copy(s.Linux.Sysctl, r.IPCSysctls)
	}
	for _, d := range r.DeviceNodes {
		mode := d.Mode.Perm()
		zero := uint32(0)
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{
			Path: d.Path, Type: string(d.Type), Major: d.Major, Minor: d.Minor, FileMode: &mode, UID: &zero, GID: &zero,
		})
	}
}

// applyResources writes r's cgroup limits into dst. With update set, a
// zero field resets the limit (unlimited or the kernel default) instead of
// leaving it untouched, so that a live Set can lift a limit; base are the
// device rules every sandbox has, which r.Devices extend.
func applyResources(dst *cgroups.Resources, r Resources, update bool, base []*config.Rule) {
	unlimited := func(v int64) int64 {
		if v == 0 && update {
			return -1
		}
		return v
	}
	v2 := cgroups.IsCgroup2UnifiedMode()
	dst.Memory = unlimited(r.MemoryBytes)
	dst.MemorySwap = unlimited(r.MemorySwapBytes)
	if r.MemorySwapBytes == 0 && !swapAccounting() {
		// No memsw file on this v1 host: no swap limit to set or lift.
		dst.MemorySwap = 0
	}
	dst.MemoryReservation = unlimited(r.MemoryLowBytes)
	if v2 && dst.MemoryReservation < 0 {
		dst.MemoryReservation = 0 // libcontainer writes memory.low only when > 0
		setUnified(dst, "memory.low", "0", update)
	}
	dst.CpuQuota = unlimited(r.CPUQuotaMicros)
	dst.CpuPeriod = uint64(max(r.CPUPeriodMicros, 0))
	if update && dst.CpuPeriod == 0 {
		dst.CpuPeriod = 100000 // the kernel default, so that the quota's period is known
	}
	dst.CpuShares, dst.CpuWeight = r.CPUShares, r.CPUWeight
	if update {
		if dst.CpuShares == 0 {
			dst.CpuShares = 1024
		}
		if dst.CpuWeight == 0 {
			dst.CpuWeight = 100
		}
	}
	if v2 {
		dst.CpuShares = 0 // libcontainer would convert it over CpuWeight
	} else {
		dst.CpuWeight = 0
	}
	dst.CpusetCpus = r.CPUSet
	if update && dst.CpusetCpus == "" {
		dst.CpusetCpus = onlineCPUs()
	}
	dst.PidsLimit = nil
	if r.PidsLimit > 0 {
		v := r.PidsLimit
		dst.PidsLimit = &v
	} else if update {
		v := int64(-1) // "max"
		dst.PidsLimit = &v
	}
	dst.BlkioWeight = r.IOWeight
	if update && dst.BlkioWeight == 0 && ioWeightFile(v2) {
		dst.BlkioWeight = 100
	}
	if !ioWeightFile(v2) {
		dst.BlkioWeight = 0 // no BFQ here: nothing to weigh (the caller says so)
	}
	applyThrottle(dst, r.IOThrottle, v2, update)
	dst.Devices = slices.Clone(base)
	for _, d := range r.Devices {
		dst.Devices = append(dst.Devices, &config.Rule{
			Type: config.Type(d.Type), Major: d.Major, Minor: d.Minor,
			Permissions: config.Permissions(d.Access), Allow: !d.Deny,
		})
	}
}

// applyThrottle sets the I/O caps. v1's throttle files take "MAJ:MIN 0" to
// drop a cap; v2's io.max takes "max", which libcontainer's v2 manager
// cannot write, so v2 gets the io.max lines directly.
func applyThrottle(dst *cgroups.Resources, ts []IOThrottle, v2, update bool) {
	dst.BlkioThrottleReadBpsDevice, dst.BlkioThrottleWriteBpsDevice = nil, nil
	dst.BlkioThrottleReadIOPSDevice, dst.BlkioThrottleWriteIOPSDevice = nil, nil
	if v2 {
		var lines []string
		rate := func(v uint64) string {
			if v == 0 {
				return "max"
			}
			return strconv.FormatUint(v, 10)
		}
		for _, t := range ts {
			lines = append(lines, fmt.Sprintf("%d:%d rbps=%s wbps=%s riops=%s wiops=%s",
				t.Major, t.Minor, rate(t.ReadBps), rate(t.WriteBps), rate(t.ReadIOPS), rate(t.WriteIOPS)))
		}
		if len(lines) > 0 {
			// One line per write is what io.max takes; libcontainer
			// writes a unified value at once, so one device per sandbox.
			setUnified(dst, "io.max", lines[0], true)
		}
		return
	}
	for _, t := range ts {
		if !update && t == (IOThrottle{Major: t.Major, Minor: t.Minor}) {
			continue
		}
		dst.BlkioThrottleReadBpsDevice = append(dst.BlkioThrottleReadBpsDevice, cgroups.NewThrottleDevice(t.Major, t.Minor, t.ReadBps))
		dst.BlkioThrottleWriteBpsDevice = append(dst.BlkioThrottleWriteBpsDevice, cgroups.NewThrottleDevice(t.Major, t.Minor, t.WriteBps))
		dst.BlkioThrottleReadIOPSDevice = append(dst.BlkioThrottleReadIOPSDevice, cgroups.NewThrottleDevice(t.Major, t.Minor, t.ReadIOPS))
		dst.BlkioThrottleWriteIOPSDevice = append(dst.BlkioThrottleWriteIOPSDevice, cgroups.NewThrottleDevice(t.Major, t.Minor, t.WriteIOPS))
	}
}

func setUnified(dst *cgroups.Resources, file, value string, set bool) {
	if !set {
		return
	}
	if dst.Unified == nil {
		dst.Unified = map[string]string{}
	}
	dst.Unified[file] = value
}

func swapAccounting() bool {
	if cgroups.IsCgroup2UnifiedMode() {
		return true
	}
	mnt, err := cgroups.FindCgroupMountpoint("", "memory")
	if err != nil {
		return false
	}
	_, err = os.Stat(mnt + "/memory.memsw.limit_in_bytes")
	return err == nil
}

// ioWeightFile tells whether the host's cgroups have a BFQ weight file:
// without the BFQ scheduler loaded there is none, and writing one fails.
func ioWeightFile(v2 bool) bool {
	dir, file := "/sys/fs/cgroup", "io.bfq.weight"
	if !v2 {
		mnt, err := cgroups.FindCgroupMountpoint("", "blkio")
		if err != nil {
			return false
		}
		dir, file = mnt+"/vzkit", "blkio.bfq.weight"
		if _, err := os.Stat(dir); err != nil {
			dir = mnt
		}
	}
	_, err := os.Stat(dir + "/" + file)
	if err != nil && v2 {
		// The root cgroup has no weight file; a child does when BFQ is
		// there. The vzkit parent is made with the first sandbox.
		_, err = os.Stat("/sys/fs/cgroup/vzkit/" + file)
	}
	return err == nil
}

func onlineCPUs() string {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return fmt.Sprintf("0-%d", goruntime.NumCPU()-1)
	}
	return strings.TrimSpace(string(b))
}

// setLive applies what Set changes outside the cgroup: every running
// process's rlimits and the IPC namespace's sysctls. A raise the host
// cannot make (no CAP_SYS_RESOURCE) is returned as ErrRaiseLater, after
// everything else is applied.
func (s *Sandbox) setLive(r Resources, initPID int) error {
	pids, err := s.Pids()
	if err != nil {
		return err
	}
	var later []string
	for _, rl := range r.Rlimits {
		want := unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		for _, pid := range pids {
			err := unix.Prlimit(pid, rl.Resource, &want, nil)
			if errors.Is(err, unix.EPERM) {
				// Raising a hard limit: keep the old hard, raise the soft
				// as far as it goes.
				var old unix.Rlimit
				if unix.Prlimit(pid, rl.Resource, nil, &old) == nil {
					unix.Prlimit(pid, rl.Resource, &unix.Rlimit{Cur: min(rl.Soft, old.Max), Max: old.Max}, nil)
				}
				if !slices.Contains(later, rlimitNames[rl.Resource]) {
					later = append(later, rlimitNames[rl.Resource])
				}
				continue
			}
			if err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("sandbox %s: prlimit %s of %d: %w", s.ID(), rlimitNames[rl.Resource], pid, err)
			}
		}
	}
	if len(r.IPCSysctls) > 0 {
		rootUID := 0
		if m := s.c.Config().UIDMappings; len(m) > 0 {
			rootUID = int(m[0].HostID)
		}
		if err := setIPCSysctls(initPID, rootUID, r.IPCSysctls); err != nil {
			return fmt.Errorf("sandbox %s: %w", s.ID(), err)
		}
	}
	if len(later) > 0 {
		return fmt.Errorf("%w: %s", ErrRaiseLater, strings.Join(later, ", "))
	}
	return nil
}

// ErrRaiseLater is a raised rlimit that running processes cannot get: the
// host lacks CAP_SYS_RESOURCE. Processes started later have it.
var ErrRaiseLater = errors.New("raised limits reach new processes only (the host lacks CAP_SYS_RESOURCE)")

// setIPCSysctls writes sysctls of pid's IPC namespace from a thread that
// joins it and never runs anything else: it ends with its goroutine. The
// kernel lets only the namespace's root write them (by file mode, not by
// capability), so the thread takes its owner's uid, rootUID on the host,
// as its effective uid after joining.
func setIPCSysctls(pid, rootUID int, sysctls map[string]string) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // no Unlock: the thread dies with us
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/ipc", pid))
		if err != nil {
			errc <- fmt.Errorf("IPC namespace: %w", err)
			return
		}
		defer f.Close()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- err
			return
		}
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWIPC); err != nil {
			errc <- fmt.Errorf("join IPC namespace of %d: %w", pid, err)
			return
		}
		// This thread only: Go's Setresuid would change every thread.
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(rootUID), ^uintptr(0)); e != 0 {
			errc <- fmt.Errorf("take uid %d of the container's root: %w", rootUID, e)
			return
		}
		for _, k := range slices.Sorted(maps.Keys(sysctls)) {
			if !strings.HasPrefix(k, "kernel.shm") && !strings.HasPrefix(k, "kernel.msg") && !strings.HasPrefix(k, "kernel.sem") {
				errc <- fmt.Errorf("sysctl %s is not of the IPC namespace", k)
				return
			}
			// /proc/sys/kernel/shm* show the writer's IPC namespace.
			p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
			if err := os.WriteFile(p, []byte(sysctls[k]), 0); err != nil {
				errc <- fmt.Errorf("sysctl %s: %w", k, err)
				return
			}
		}
		errc <- nil
	}()
	return <-errc
}
