#!/bin/sh
# Density of idle containers: containers (the minimal init plus one sleeping
# service, started by vzctl exec and left running after exec ends) are
# created and started one after another until MAX_COUNT run, or the host's
# MemAvailable has dropped by MEM_BUDGET_GIB, or MAX_SECONDS have passed.
# Reports the host memory used per container (the MemAvailable drop), the
# containers' own memory (the sum of their memory cgroups' usage), the host
# memory per container beyond that (namespaces, mounts, cgroups, page
# tables: target <= 1 MiB), and containers per GiB (target >= 1000
# containers). The first 20 are timed as a batch, and the time to MAX_COUNT
# extrapolated from it. Every container is stopped and destroyed at the end,
# also on interruption.
#
# The layout is overlay (one shared lower layer) unless plain copies of the
# cache fit on the disk MAX_COUNT times over (LAYOUT=plain|overlay forces one).
#
# Usage: bench/density.sh [MAX_COUNT [MEM_BUDGET_GIB [MAX_SECONDS]]]
#        (CACHE=path/to/NAME.tar.zst reuses a cache; MAX_SECONDS 0: no limit)
. "$(dirname "$0")/lib.sh"
need_root
MAX=${1:-1000}
BUDGET_KIB=$(( ${2:-16} * 1024 * 1024 ))
MAXSECS=${3:-0}
FIRST=1000 # CTIDs FIRST+1 .. FIRST+MAX
WORK=$(mktemp -d /var/tmp/vzkit-bench-density.XXXXXX)
chmod 711 "$WORK" # unprivileged containers reach their roots through it
export VZKIT_ROOT="$WORK/vz"
: >"$WORK/cts"
cleanup() {
	n=$(wc -l <"$WORK/cts")
	[ "$n" = 0 ] || echo "cleanup: stopping and destroying $n containers" >&2
	t=$(now_ns)
	while read -r ct; do
		"$BIN/vzctl" stop "$ct" --fast >/dev/null 2>&1 || true
		"$BIN/vzctl" destroy "$ct" >/dev/null 2>&1 || echo "cleanup: could not destroy $ct" >&2
	done <"$WORK/cts"
	[ "$n" = 0 ] || echo "cleanup: done in $(elapsed_ms "$t") ms" >&2
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
build_bins
install_cache "$WORK"

# mem_avail_kib prints the host's MemAvailable.
mem_avail_kib() { awk '$1 == "MemAvailable:" { print $2 }' /proc/meminfo; }

# Layout: plain copies only when MAX_COUNT of them fit (with a fifth spare).
unpacked=$(sed -n 's/^    "tar_size": *\([0-9]*\).*/\1/p' "$VZKIT_ROOT/var/lib/vzkit/template/cache/debian-12-minimal.json" | head -n 1)
avail=$(df -B1 --output=avail "$WORK" | tail -n 1 | tr -d ' ')
if [ -z "${LAYOUT:-}" ]; then
	LAYOUT=overlay
	[ -z "$unpacked" ] || [ $((avail / 6 * 5)) -lt $((MAX * unpacked)) ] || LAYOUT=plain
fi
echo "disk: $((avail >> 30)) GiB free, ${unpacked:-?} bytes unpacked per plain copy x $MAX; layout $LAYOUT; load $(uptime | sed 's/.*load average: //')"

sync
sleep 2
base=$(mem_avail_kib)
own_dirs="$WORK/memcg"
: >"$own_dirs"
: >"$WORK/steps"
n=0
t0=$(now_ns)
stop_reason="count $MAX reached"
while [ $n -lt "$MAX" ]; do
	ct=$((FIRST + n + 1))
	echo "$ct" >>"$WORK/cts"
	before=$(mem_avail_kib)
	"$BIN/vzctl" create "$ct" --ostemplate debian-12-minimal --layout "$LAYOUT" >/dev/null 2>"$WORK/err" ||
		{ cat "$WORK/err" >&2; exit 1; }
	"$BIN/vzctl" start "$ct" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
	"$BIN/vzctl" exec "$ct" 'nohup sleep infinity >/dev/null 2>&1 &'
	d=$(ct_cgroup "$ct" memory)
	# The sleeper outlives exec: the init and it are in the cgroup.
	procs=$(wc -l <"$d/cgroup.procs")
	[ "$procs" -ge 2 ] || { echo "container $ct: the sleeper did not survive exec ($procs processes)" >&2; exit 1; }
	echo "$d" >>"$own_dirs"
	echo $((before - $(mem_avail_kib))) >>"$WORK/steps"
	n=$((n + 1))
	if [ $n = 20 ]; then
		ms=$(elapsed_ms "$t0")
		echo "first 20: $ms ms ($((ms / 20)) ms per container: create + start + exec); $MAX would take about $((ms * MAX / 20 / 1000)) s at this rate; load $(uptime | sed 's/.*load average: //')"
	fi
	used=$((base - $(mem_avail_kib)))
	if [ $used -ge $BUDGET_KIB ]; then stop_reason="memory budget used"; break; fi
	if [ "$MAXSECS" -gt 0 ] && [ $(( $(elapsed_ms "$t0") / 1000 )) -ge "$MAXSECS" ]; then
		stop_reason="time limit of $MAXSECS s reached"; break
	fi
	[ $((n % 100)) != 0 ] || echo "$n running, $((used / 1024)) MiB used, $(( $(elapsed_ms "$t0") / 1000 )) s" >&2
done
ms=$(elapsed_ms "$t0")
sleep 5 # let the last starts settle (freed start-up memory back)
drop=$((base - $(mem_avail_kib)))
# The containers' own memory: v1 memory.usage_in_bytes, v2 memory.current.
own=$(while read -r d; do
	if [ -r "$d/memory.usage_in_bytes" ]; then cat "$d/memory.usage_in_bytes"; else cat "$d/memory.current"; fi
done <"$own_dirs" | awk '{ s += $1 } END { printf "%d", s / 1024 }')
step=$(median $(cat "$WORK/steps"))
load=$(uptime | sed 's/.*load average: //')
awk -v step="$step" -v n=$n -v max="$MAX" -v ms="$ms" -v drop="$drop" -v own="$own" -v why="$stop_reason" -v load="$load" 'BEGIN {
	per = drop / n; ownper = own / n; beyond = (drop - own) / n; pergib = 1048576 / per
	printf "density: %d idle containers running (%s) in %.0f s (%.0f ms each); load %s\n", n, why, ms / 1000, ms / n, load
	printf "density: host MemAvailable drop %.1f MiB, %.0f KiB per container; containers per GiB: %.0f (target >= 1000 containers: %s)\n",
		drop / 1024, per, pergib, (n >= 1000) ? "met" : sprintf("%d reached", n)
	printf "density: MemAvailable drop per start (median of %d, robust to the other processes of a shared host): %d KiB; containers per GiB: %.0f\n",
		n, step, 1048576 / step
	printf "density: containers own memory (cgroups) %.0f KiB each; host memory beyond it %.0f KiB per container from the whole drop, %.0f KiB from the median (target <= 1024 KiB: %s)\n",
		ownper, beyond, step - ownper, (step - ownper <= 1024) ? "met" : "missed"
	if (n < max) printf "density: extrapolation, not measured: %d containers at %.0f KiB each would use %.1f GiB of host memory and take %.0f s to start\n",
		max, per, max * per / 1048576, max * ms / n / 1000
}'
