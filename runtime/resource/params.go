package resource

import (
	"fmt"
	"strings"
)

// Enforcement says how a parameter is held on a mainline kernel.
type Enforcement int

// How parameters are enforced.
const (
	// Enforced: a cgroup limit of the container as a whole, as OpenVZ's.
	Enforced Enforcement = iota
	// Approximated: held by a mainline mechanism that differs from
	// OpenVZ's; the parameter's Mapping says how.
	Approximated
	// Accounted: accepted, stored and shown, with no mainline limit to
	// apply; the Mapping says what counts instead.
	Accounted
)

func (e Enforcement) String() string {
	switch e {
	case Approximated:
		return "approximated"
	case Accounted:
		return "not enforced"
	}
	return "enforced"
}

// Kind is the shape of a parameter's value.
type Kind int

// Kinds of values.
const (
	KindPair   Kind = iota // barrier[:limit]
	KindNumber             // one number
	KindList               // words (CPUMASK's list, DEVICES, DEVNODES)
)

// Param is one resource parameter: its CTID.conf key, the vzctl set flag,
// what it counts and how it maps onto a mainline kernel. The table is
// Params; the mapping itself is Config.Sandbox.
type Param struct {
	Key     string // CTID.conf key, e.g. PHYSPAGES
	Flag    string // vzctl set flag without dashes, e.g. physpages
	Kind    Kind
	Unit    Unit
	Max     Value // largest value allowed (0: no bound but Unlimited)
	Help    string
	Mapping string // how it is held: cgroup v1 / v2 files, rlimit, ...
	Enforcement
	// Live: set changes it in a running container; otherwise it takes
	// effect at the next start.
	Live bool
}

// Params are the resource parameters, in the order vzctl's help and the
// README table list them.
var Params = []*Param{
	{Key: "PHYSPAGES", Flag: "physpages", Kind: KindPair, Unit: Pages, Live: true,
		Help:    "RAM (vswap): barrier is a reservation, limit the cap",
		Mapping: "limit: memory.limit_in_bytes (v1), memory.max (v2); barrier: memory.soft_limit_in_bytes (v1), memory.low (v2)"},
	{Key: "SWAPPAGES", Flag: "swappages", Kind: KindPair, Unit: Pages, Live: true,
		Help:    "swap (vswap) beyond RAM",
		Mapping: "limit: memory.memsw.limit_in_bytes = RAM+swap (v1, needs swap accounting), memory.swap.max (v2)"},
	{Key: "PRIVVMPAGES", Flag: "privvmpages", Kind: KindPair, Unit: Pages, Live: true, Enforcement: Approximated,
		Help:    "allocated memory (pre-vswap configurations)",
		Mapping: "mainline does not count allocations, only use: when PHYSPAGES has no limit, the limit caps RAM+swap as vzcfgconvert's vswap conversion does"},
	{Key: "KMEMSIZE", Flag: "kmemsize", Kind: KindPair, Unit: Bytes, Live: true, Enforcement: Approximated,
		Help:    "kernel memory",
		Mapping: "no separate limit since the kernel dropped kmem limits: kernel memory is charged to the memory cgroup and held by PHYSPAGES; ubc shows its use"},
	{Key: "LOCKEDPAGES", Flag: "lockedpages", Kind: KindPair, Unit: Pages, Live: true, Enforcement: Approximated,
		Help:    "mlock()ed memory",
		Mapping: "RLIMIT_MEMLOCK of every process (per process, not per container); locked pages count in the memory cgroup"},
	{Key: "SHMPAGES", Flag: "shmpages", Kind: KindPair, Unit: Pages, Live: true, Enforcement: Approximated,
		Help:    "System V shared memory",
		Mapping: "kernel.shmall (pages) and kernel.shmmax (bytes) of the container's IPC namespace; shared memory counts in the memory cgroup"},
	{Key: "NUMPROC", Flag: "numproc", Kind: KindPair, Unit: Count, Live: true,
		Help:    "processes and threads",
		Mapping: "pids.max (v1 and v2)"},
	{Key: "NUMFILE", Flag: "numfile", Kind: KindPair, Unit: Count, Live: true, Enforcement: Approximated,
		Help:    "open files",
		Mapping: "RLIMIT_NOFILE of every process (per process, not per container), at most the host's own hard limit"},
	{Key: "NUMTCPSOCK", Flag: "numtcpsock", Kind: KindPair, Unit: Count, Enforcement: Accounted,
		Help:    "TCP sockets",
		Mapping: "mainline has no per-cgroup socket counter: sockets are open files (NUMFILE) and their buffers count in the memory cgroup"},
	{Key: "NUMOTHERSOCK", Flag: "numothersock", Kind: KindPair, Unit: Count, Enforcement: Accounted,
		Help:    "non-TCP sockets",
		Mapping: "as NUMTCPSOCK"},
	{Key: "CPUUNITS", Flag: "cpuunits", Kind: KindNumber, Unit: Count, Max: 500000, Live: true,
		Help:    "CPU weight against other containers (8..500000, default 1000)",
		Mapping: "cpu.shares = CPUUNITS*1024/1000 (v1), cpu.weight = CPUUNITS/10 (v2)"},
	{Key: "CPULIMIT", Flag: "cpulimit", Kind: KindNumber, Unit: Count, Live: true,
		Help:    "CPU cap in percent of one CPU (100 per CPU; 0 no cap)",
		Mapping: "cpu.cfs_quota_us/cpu.cfs_period_us (v1), cpu.max (v2), period 100 ms"},
	{Key: "CPUS", Flag: "cpus", Kind: KindNumber, Unit: Count, Live: true,
		Help:    "CPUs' worth of time (0 all)",
		Mapping: "a CPU-time cap of CPUS*100%, combined with CPULIMIT (the lower wins)"},
	{Key: "CPUMASK", Flag: "cpumask", Kind: KindList, Live: true,
		Help:    "CPUs the container may run on (e.g. 0-1,3, or all)",
		Mapping: "cpuset.cpus (v1 and v2)"},
	{Key: "IOPRIO", Flag: "ioprio", Kind: KindNumber, Unit: Count, Max: 7, Live: true, Enforcement: Approximated,
		Help:    "disk I/O priority 0..7 (default 4)",
		Mapping: "a proportional weight 100*2^(IOPRIO-4): blkio.bfq.weight (v1), io.bfq.weight (v2); only devices using the BFQ scheduler honour it"},
	{Key: "IOLIMIT", Flag: "iolimit", Kind: KindNumber, Unit: Bytes, Live: true,
		Help:    "disk bandwidth per second, K/M/G (a bare number on the command line is MB/s, in CTID.conf bytes; 0 none)",
		Mapping: "blkio.throttle.{read,write}_bps_device (v1), io.max rbps/wbps (v2) on the private area's block device; v1 throttles direct and synchronous writes only (no cgroup writeback)"},
	{Key: "IOPSLIMIT", Flag: "iopslimit", Kind: KindNumber, Unit: Count, Live: true,
		Help:    "disk operations per second (0 none)",
		Mapping: "blkio.throttle.{read,write}_iops_device (v1), io.max riops/wiops (v2), as IOLIMIT"},
	{Key: "DISKSPACE", Flag: "diskspace", Kind: KindPair, Unit: KBlocks, Live: true,
		Help:    "disk space soft:hard (1K blocks, or K/M/G/T)",
		Mapping: "the layout's: a btrfs qgroup (plain on btrfs), the image size (image)"},
	{Key: "DISKINODES", Flag: "diskinodes", Kind: KindPair, Unit: Count, Live: true,
		Help:    "inodes soft:hard",
		Mapping: "the image's inode count (image, fixed at create); btrfs qgroups count bytes only"},
	{Key: "QUOTAUGIDLIMIT", Flag: "quotaugidlimit", Kind: KindNumber, Unit: Count, Live: true, Enforcement: Approximated,
		Help:    "user and group ids with quota inside the container (0 off)",
		Mapping: "ext4 usrquota/grpquota in an image container; the host sets each user's limits with setquota on VE_ROOT, in the container's own uids (quotactl needs CAP_SYS_ADMIN over the host's user namespace, so the container's root gets EPERM); the number of ids is not limited; needs the kernel's quota formats (QFMT_V2)"},
	{Key: "DEVICES", Flag: "devices", Kind: KindList, Live: true,
		Help:    "device access: b|c:MAJOR:MINOR|all:r|w|rw|none",
		Mapping: "the devices cgroup (v1 devices.allow/deny, v2 a BPF program), on top of runc's default devices; none denies reading and writing (mknod stays allowed, as runc allows it for every device)"},
	{Key: "DEVNODES", Flag: "devnodes", Kind: KindList,
		Help:    "host device nodes in the container: NAME:r|w|rw|none (NAME under /dev)",
		Mapping: "the node is made in the container's /dev at start and allowed in the devices cgroup"},
}

// Lookup finds a parameter by CTID.conf key or by flag name.
func Lookup(name string) (*Param, bool) {
	for _, p := range Params {
		if strings.EqualFold(p.Key, name) || p.Flag == name {
			return p, true
		}
	}
	return nil, false
}

// RangeError is a value outside what a parameter allows.
type RangeError struct {
	Param *Param
	Value string
	Want  string // the allowed range, e.g. "0..200"
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("%s %q out of range: want %s", e.Param.Key, e.Value, e.Want)
}
