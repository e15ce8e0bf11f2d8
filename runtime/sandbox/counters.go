package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Counters are what the kernel counts of a sandbox's cgroup, read from
// whichever hierarchy holds each controller (v1 memory and pids, or the
// v2 unified one). Bytes are bytes; a counter the host's kernel lacks is
// zero and its Has flag false, never guessed.
type Counters struct {
	Memory     uint64 // RAM in use (page cache and kernel memory included)
	MemoryPeak uint64 // the most Memory has been
	// MemoryFail counts allocations that hit the memory limit (v1
	// memory.failcnt, v2 memory.events max); OOMKills the processes the
	// OOM killer killed for it (v1 memory.oom_control, v2 memory.events).
	MemoryFail, OOMKills uint64

	HasSwap            bool // swap accounting is on
	Swap, SwapPeak     uint64
	HasSwapPeak        bool   // the kernel keeps a swap peak (v2 memory.swap.peak)
	Kernel             uint64 // kernel memory (v1 memory.kmem.usage_in_bytes, v2 memory.stat kernel)
	KernelPeak         uint64 // v1 only; v2 keeps no kernel peak (then Kernel)
	KernelFail         uint64 // v1 memory.kmem.failcnt
	Shmem              uint64 // shared memory and tmpfs (memory.stat shmem)
	Pids, PidsPeak     uint64 // processes and threads (pids.current, pids.peak)
	PidsFail           uint64 // forks refused by pids.max (pids.events max)
	HasMemory, HasPids bool
}

// Counters reads the sandbox's cgroup counters.
func (s *Sandbox) Counters() (Counters, error) {
	st, err := s.c.State()
	if err != nil {
		return Counters{}, fmt.Errorf("sandbox %s: state: %w", s.ID(), err)
	}
	c, err := ReadCounters(st.CgroupPaths)
	if err != nil {
		return Counters{}, fmt.Errorf("sandbox %s: %w", s.ID(), err)
	}
	return c, nil
}

// ReadCounters reads the counters of the cgroup whose directories are
// paths: controller name to directory on v1 ("memory", "pids"), "" to the
// unified directory on v2, as libcontainer records them.
func ReadCounters(paths map[string]string) (Counters, error) {
	var c Counters
	if d, ok := paths["memory"]; ok && d != "" {
		if err := c.readMemoryV1(d); err != nil {
			return Counters{}, err
		}
	} else if d := paths[""]; d != "" {
		if err := c.readMemoryV2(d); err != nil {
			return Counters{}, err
		}
	}
	d, ok := paths["pids"]
	if !ok || d == "" {
		d = paths[""]
	}
	if d != "" {
		if err := c.readPids(d); err != nil {
			return Counters{}, err
		}
	}
	return c, nil
}

// cgroupFile reads one number from dir/name; a file the kernel does not
// have is ok=false, "max" is ok with no number.
func cgroupFile(dir, name string) (v uint64, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cgroup counter: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, true, nil
	}
	v, err = strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("cgroup counter %s: %q is not a number", filepath.Join(dir, name), s)
	}
	return v, true, nil
}

// keyed reads a flat keyed file ("KEY VALUE" lines: memory.stat,
// memory.events, pids.events, memory.oom_control); a missing file is an
// empty map.
func keyed(dir, name string) (map[string]uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]uint64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cgroup counter: %w", err)
	}
	m := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			m[k] = n
		}
	}
	return m, nil
}

// reader collects the first error of a run of reads.
type reader struct {
	dir string
	err error
}

func (r *reader) num(name string) (uint64, bool) {
	if r.err != nil {
		return 0, false
	}
	v, ok, err := cgroupFile(r.dir, name)
	r.err = err
	return v, ok
}

func (r *reader) keyed(name string) map[string]uint64 {
	if r.err != nil {
		return map[string]uint64{}
	}
	m, err := keyed(r.dir, name)
	if err != nil {
		r.err = err
		return map[string]uint64{}
	}
	return m
}

func (c *Counters) readMemoryV1(dir string) error {
	r := &reader{dir: dir}
	c.Memory, c.HasMemory = r.num("memory.usage_in_bytes")
	c.MemoryPeak, _ = r.num("memory.max_usage_in_bytes")
	c.MemoryFail, _ = r.num("memory.failcnt")
	c.OOMKills = r.keyed("memory.oom_control")["oom_kill"]
	// memory.memsw counts RAM and swap together, and only with swap
	// accounting on (swapaccount=1).
	// A hit of the RAM+swap limit is one of the memory limit too.
	swfail, _ := r.num("memory.memsw.failcnt")
	c.MemoryFail += swfail
	if memsw, ok := r.num("memory.memsw.usage_in_bytes"); ok {
		c.HasSwap = true
		if memsw > c.Memory {
			c.Swap = memsw - c.Memory
		}
		c.SwapPeak = c.Swap
	}
	c.Kernel, _ = r.num("memory.kmem.usage_in_bytes")
	c.KernelPeak, _ = r.num("memory.kmem.max_usage_in_bytes")
	c.KernelFail, _ = r.num("memory.kmem.failcnt")
	// total_shmem is the hierarchy's (the container's cgroup and those
	// its init made below it), as usage_in_bytes is.
	st := r.keyed("memory.stat")
	c.Shmem = st["total_shmem"]
	return r.err
}

func (c *Counters) readMemoryV2(dir string) error {
	r := &reader{dir: dir}
	c.Memory, c.HasMemory = r.num("memory.current")
	var ok bool
	if c.MemoryPeak, ok = r.num("memory.peak"); !ok {
		c.MemoryPeak = c.Memory // kernels before 5.19 keep no peak
	}
	ev := r.keyed("memory.events")
	c.MemoryFail, c.OOMKills = ev["max"], ev["oom_kill"]
	c.Swap, c.HasSwap = r.num("memory.swap.current")
	if c.SwapPeak, c.HasSwapPeak = r.num("memory.swap.peak"); !c.HasSwapPeak {
		c.SwapPeak = c.Swap
	}
	st := r.keyed("memory.stat")
	c.Kernel, ok = st["kernel"]
	if !ok { // before 5.18: the parts of it memory.stat has
		c.Kernel = st["kernel_stack"] + st["slab"] + st["percpu"] + st["sock"] + st["pagetables"]
	}
	c.KernelPeak = c.Kernel
	c.Shmem = st["shmem"]
	return r.err
}

func (c *Counters) readPids(dir string) error {
	r := &reader{dir: dir}
	c.Pids, c.HasPids = r.num("pids.current")
	var ok bool
	if c.PidsPeak, ok = r.num("pids.peak"); !ok {
		c.PidsPeak = c.Pids // pids.peak is new in 6.1
	}
	c.PidsFail = r.keyed("pids.events")["max"]
	return r.err
}
