package sandbox

import (
	"os"
	"path/filepath"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The same counters from a v1 pair of hierarchies and from a v2 cgroup,
// as the kernel writes the files.
func TestReadCounters(t *testing.T) {
	mem, pids, unified := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, mem, map[string]string{
		"memory.usage_in_bytes":          "8192000\n",
		"memory.max_usage_in_bytes":      "67108864\n",
		"memory.failcnt":                 "12\n",
		"memory.oom_control":             "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
		"memory.memsw.usage_in_bytes":    "8196096\n",
		"memory.kmem.usage_in_bytes":     "1000\n",
		"memory.kmem.max_usage_in_bytes": "3000\n",
		"memory.kmem.failcnt":            "0\n",
		"memory.stat":                    "cache 4096\nshmem 0\ntotal_shmem 8192\n",
	})
	writeFiles(t, pids, map[string]string{
		"pids.current": "3\n", "pids.peak": "100\n", "pids.max": "100\n", "pids.events": "max 57\n",
	})
	writeFiles(t, unified, map[string]string{
		"memory.current":      "8192000\n",
		"memory.peak":         "67108864\n",
		"memory.events":       "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n",
		"memory.swap.current": "4096\n",
		"memory.stat":         "anon 100\nfile 200\nkernel 1000\nshmem 8192\n",
		"pids.current":        "3\n", "pids.peak": "100\n", "pids.max": "max\n", "pids.events": "max 57\n",
	})
	v1, err := ReadCounters(map[string]string{"memory": mem, "pids": pids, "cpu": "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	want := Counters{
		Memory: 8192000, MemoryPeak: 67108864, MemoryFail: 12, OOMKills: 2,
		HasSwap: true, Swap: 4096, SwapPeak: 4096,
		Kernel: 1000, KernelPeak: 3000, Shmem: 8192,
		Pids: 3, PidsPeak: 100, PidsFail: 57, HasMemory: true, HasPids: true,
	}
	if v1 != want {
		t.Errorf("v1 counters\n got %+v\nwant %+v", v1, want)
	}
	v2, err := ReadCounters(map[string]string{"": unified})
	if err != nil {
		t.Fatal(err)
	}
	want.KernelPeak = 1000 // v2 keeps no kernel peak
	if v2 != want {
		t.Errorf("v2 counters\n got %+v\nwant %+v", v2, want)
	}

	// A kernel without a counter leaves it unset rather than failing.
	os.Remove(filepath.Join(unified, "memory.swap.current"))
	os.Remove(filepath.Join(unified, "pids.peak"))
	v2, err = ReadCounters(map[string]string{"": unified})
	if err != nil || v2.HasSwap || v2.PidsPeak != 3 {
		t.Errorf("without swap and pids.peak: %+v, %v", v2, err)
	}
	// A counter that is not a number is an error naming the file.
	writeFiles(t, pids, map[string]string{"pids.current": "lots\n"})
	if _, err := ReadCounters(map[string]string{"pids": pids}); err == nil {
		t.Error("a garbled pids.current read without error")
	}
}
