package main

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/vzkit/vzkit/internal/vmtest"
)

// vmDensityScript starts N idle containers (the minimal init plus one
// sleeping service, overlay layout) in the VM after a first one has put
// the shared pieces in place (the unpacked lower, the init's copy, their
// page cache), and prints the host's MemAvailable before and after, with
// page cache dropped both times, and the containers' own unreclaimable
// memory from their cgroups (anon, kernel and shmem of memory.stat): the
// difference is what the host spends per container beyond the container.
const vmDensityScript = `set -e
mem() { sync; echo 3 >/proc/sys/vm/drop_caches; sleep 1; awk '$1 == "MemAvailable:" {print $2}' /proc/meminfo; }
meminfo() { awk '$1 ~ /^(Slab|SUnreclaim|PageTables|KernelStack|Percpu|Shmem):$/ {printf "%s%s ", $1, $2}' /proc/meminfo; }
up() {
	vzctl create $1 --ostemplate debian-12-minimal --layout overlay >/dev/null
	vzctl start $1 >/dev/null
	vzctl exec $1 'nohup sleep infinity >/dev/null 2>&1 &'
}
up 100
sleep 2
base=$(mem)
echo "meminfo-before: $(meminfo)"
i=1
while [ $i -le $N ]; do up $((100 + i)); i=$((i + 1)); done
sleep 5
after=$(mem)
echo "meminfo-after: $(meminfo)"
own=0
i=1
while [ $i -le $N ]; do
	pid=$(vzctl status $((100 + i)) -o json | sed -n 's/.*"init_pid": *\([0-9][0-9]*\).*/\1/p')
	cg=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$pid/cgroup)
	[ "$(wc -l <"$cg/cgroup.procs")" -ge 2 ] || { echo "container $((100 + i)): the sleeper is gone"; exit 1; }
	kib=$(awk '{v[$1] = $2} END {k = ("kernel" in v) ? v["kernel"] : v["kernel_stack"] + v["pagetables"] + v["percpu"] + v["sock"] + v["slab"]; printf "%d", (v["anon"] + k + v["shmem"]) / 1024}' "$cg/memory.stat")
	own=$((own + kib))
	i=$((i + 1))
done
echo "density-n: $N"
echo "memavailable-drop-kib: $((base - after))"
echo "own-kib: $own"
`

// BenchmarkVMDensity measures, in a VM that runs nothing else (a pure
// cgroup v2 host), the host memory an idle container costs beyond its own
// processes: the MemAvailable drop of starting VZKIT_DENSITY_N containers
// (default 40) less what their memory cgroups hold. The host-level
// bench/density.sh counts containers; on a machine shared with other work
// its MemAvailable figures drift with that work, which the VM rules out.
//
//	go test -tags seccomp -run '^$' -bench VMDensity -benchtime 1x ./cmd/vzctl
func BenchmarkVMDensity(b *testing.B) {
	n := 40
	if v, err := strconv.Atoi(os.Getenv("VZKIT_DENSITY_N")); err == nil && v > 0 {
		n = v
	}
	opts := vmVzctl(b)
	opts.MemoryMiB = 4096
	for range b.N {
		out := vmtest.MustRun(b, fmt.Sprintf("N=%d\n%s", n, vmDensityScript), opts)
		num := func(key string) float64 {
			v, err := strconv.ParseFloat(vmValue(b, out, key), 64)
			if err != nil {
				b.Fatalf("%s: %v", key, err)
			}
			return v
		}
		drop, own := num("memavailable-drop-kib"), num("own-kib")
		b.Logf("%d containers: MemAvailable drop %.0f KiB, their own %.0f KiB; meminfo before: %s; after: %s",
			n, drop, own, vmValue(b, out, "meminfo-before"), vmValue(b, out, "meminfo-after"))
		b.ReportMetric(drop/float64(n), "host-KiB/ct")
		b.ReportMetric(own/float64(n), "own-KiB/ct")
		b.ReportMetric((drop-own)/float64(n), "beyond-KiB/ct")
	}
}
