package resource

import "github.com/vzkit/vzkit/runtime/sandbox"

// Beancounter is one row of OpenVZ's /proc/user_beancounters: what a
// container holds of a resource, the most it held, its barrier and limit,
// and how often the limit was hit. Held, MaxHeld and FailCnt are in the
// resource's unit (kmemsize and the buffers in bytes, the *pages in
// pages, the rest a count).
type Beancounter struct {
	Resource       string
	Held, MaxHeld  uint64
	Barrier, Limit Value
	FailCnt        uint64
	// Counted: a mainline counter stands behind Held (when the container
	// runs); otherwise Held, MaxHeld and FailCnt stay 0.
	Counted bool
}

// UBCResource is a resource of OpenVZ's beancounter table and how vzkit
// fills its row.
type UBCResource struct {
	Name string
	// Counter says where held, maxheld and failcnt come from; empty for
	// a resource mainline does not count (held 0).
	Counter string
	// Approximate marks a counter that measures something near, not
	// the same as, OpenVZ's.
	Approximate bool
	param       string // the Params key of barrier and limit, if any
}

// UBCResources are the rows, in /proc/user_beancounters' order.
var UBCResources = []UBCResource{
	{Name: "kmemsize", param: "KMEMSIZE", Approximate: true,
		Counter: "kernel memory: memory.kmem.usage_in_bytes, max_usage_in_bytes, failcnt (v1); memory.stat kernel (v2, no peak: maxheld is held)"},
	{Name: "lockedpages", param: "LOCKEDPAGES"},
	{Name: "privvmpages", param: "PRIVVMPAGES", Approximate: true,
		Counter: "memory in use, as physpages: mainline does not count allocations"},
	{Name: "shmpages", param: "SHMPAGES", Approximate: true,
		Counter: "memory.stat shmem (v1 total_shmem): System V and POSIX shared memory and tmpfs; no peak, no failcnt"},
	{Name: "numproc", param: "NUMPROC",
		Counter: "pids.current, pids.peak, pids.events max (forks refused)"},
	{Name: "physpages", param: "PHYSPAGES",
		Counter: "memory.usage_in_bytes, max_usage_in_bytes, failcnt (v1); memory.current, memory.peak, memory.events max (v2); failcnt at least the OOM kills"},
	{Name: "vmguarpages"},
	{Name: "oomguarpages", Approximate: true,
		Counter: "RAM+swap in use, as physpages+swappages; failcnt: processes killed by the OOM killer (v1 memory.oom_control, v2 memory.events oom_kill)"},
	{Name: "numtcpsock", param: "NUMTCPSOCK"},
	{Name: "numflock"},
	{Name: "numpty"},
	{Name: "numsiginfo"},
	{Name: "tcpsndbuf"},
	{Name: "tcprcvbuf"},
	{Name: "othersockbuf"},
	{Name: "dgramrcvbuf"},
	{Name: "numothersock", param: "NUMOTHERSOCK"},
	{Name: "dcachesize"},
	{Name: "numfile", param: "NUMFILE"},
	{Name: "numiptent"},
	{Name: "swappages", param: "SWAPPAGES", Approximate: true,
		Counter: "memory.memsw.usage_in_bytes minus RAM (v1, with swap accounting; maxheld is held); memory.swap.current, memory.swap.peak (v2)"},
}

// pages is bytes in PageSize pages, rounded up as the kernel charges them.
func pages(b uint64) uint64 { return (b + PageSize - 1) / PageSize }

// Beancounters are c's rows of the beancounter table: barrier and limit
// from c (Unlimited for a resource c has no parameter of), held, maxheld
// and failcnt from n, the container's cgroup counters (nil: it does not
// run, and they are 0).
func (c Config) Beancounters(n *sandbox.Counters) []Beancounter {
	out := make([]Beancounter, 0, len(UBCResources))
	for _, r := range UBCResources {
		b := Beancounter{Resource: r.Name, Barrier: Unlimited, Limit: Unlimited}
		if r.param != "" {
			if p := c.field(mustLookup(r.param)).(*Pair); p != nil {
				b.Barrier, b.Limit = p.Barrier, p.Limit
			}
		}
		if n != nil {
			b.Counted = countersOf(&b, r.Name, n)
		}
		out = append(out, b)
	}
	return out
}

// countersOf fills b's held, maxheld and failcnt from n; false when
// mainline has no counter for the resource.
func countersOf(b *Beancounter, name string, n *sandbox.Counters) bool {
	switch name {
	case "kmemsize":
		b.Held, b.MaxHeld, b.FailCnt = n.Kernel, max(n.KernelPeak, n.Kernel), n.KernelFail
		return n.HasMemory
	case "privvmpages", "physpages":
		b.Held, b.MaxHeld = pages(n.Memory), pages(max(n.MemoryPeak, n.Memory))
		if name == "physpages" {
			// An OOM kill is the limit hit too, and on some v1 kernels
			// (6.18 here) it is the only trace: failcnt stays 0.
			b.FailCnt = max(n.MemoryFail, n.OOMKills)
		}
		return n.HasMemory
	case "shmpages":
		b.Held, b.MaxHeld = pages(n.Shmem), pages(n.Shmem)
		return n.HasMemory
	case "numproc":
		b.Held, b.MaxHeld, b.FailCnt = n.Pids, max(n.PidsPeak, n.Pids), n.PidsFail
		return n.HasPids
	case "oomguarpages":
		b.Held = pages(n.Memory + n.Swap)
		b.MaxHeld = max(pages(n.MemoryPeak+n.SwapPeak), b.Held)
		b.FailCnt = n.OOMKills
		return n.HasMemory
	case "swappages":
		b.Held, b.MaxHeld = pages(n.Swap), pages(max(n.SwapPeak, n.Swap))
		return n.HasSwap
	}
	return false
}
