#!/bin/sh
# CPU controls against their ideal:
#   - two containers with --cpuunits 1000 and 3000, each spinning on every
#     CPU for SECONDS: each one's share of the CPU time both got, against
#     the ideal 25/75 (target within 3 points);
#   - one container with --cpulimit 50 spinning alone on every CPU for
#     SECONDS: the CPUs it used, against the set 0.5 (target within 5%).
# CPU time is read from the containers' own cgroups (v1 cpuacct.usage, v2
# cpu.stat usage_usec), over the same window for both, after a second of
# warm-up. Host load from other processes shrinks what the containers get,
# not their split; uptime is printed beside each figure.
#
# Usage: bench/cpu-fair.sh [SECONDS]   (CACHE=path/to/NAME.tar.zst reuses a cache)
. "$(dirname "$0")/lib.sh"
need_root
SECS=${1:-20}
WORK=$(mktemp -d /var/tmp/vzkit-bench-cpu.XXXXXX)
chmod 711 "$WORK" # unprivileged containers reach their roots through it
export VZKIT_ROOT="$WORK/vz"
cleanup() {
	for ct in 401 402; do
		"$BIN/vzctl" stop $ct --fast >/dev/null 2>&1 || true
		"$BIN/vzctl" destroy $ct >/dev/null 2>&1 || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
build_bins
install_cache "$WORK"
NCPU=$(nproc)
for ct in 401 402; do
	"$BIN/vzctl" create $ct --ostemplate debian-12-minimal --layout overlay >/dev/null
done

# cpu_ns CTID prints the CPU time the container has used, in nanoseconds.
cpu_ns() {
	d=$(ct_cgroup "$1" cpuacct)
	if [ -r "$d/cpuacct.usage" ]; then cat "$d/cpuacct.usage"
	else awk '$1 == "usage_usec" { printf "%d\n", $2 * 1000 }' "$d/cpu.stat"; fi
}

# spin CTID SECONDS runs one busy loop per host CPU in the container, for
# SECONDS (in the background; the container's shell kills its group).
spin() {
	"$BIN/vzctl" exec "$1" "for i in \$(seq $NCPU); do (while :; do :; done) & done; sleep $2; kill 0" >/dev/null 2>&1 &
}

# Split: 1000 vs 3000 cpuunits, both started, then a window of SECS.
"$BIN/vzctl" set 401 --cpuunits 1000 --save >/dev/null
"$BIN/vzctl" set 402 --cpuunits 3000 --save >/dev/null
"$BIN/vzctl" start 401 >/dev/null
"$BIN/vzctl" start 402 >/dev/null
spin 401 $((SECS + 3)); spin 402 $((SECS + 3))
sleep 1
a0=$(cpu_ns 401); b0=$(cpu_ns 402); t=$(now_ns)
sleep "$SECS"
a1=$(cpu_ns 401); b1=$(cpu_ns 402); ms=$(elapsed_ms "$t")
load=$(uptime | sed 's/.*load average: //')
wait
awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v ms="$ms" -v n="$NCPU" -v load="$load" 'BEGIN {
	pa = 100 * a / (a + b); pb = 100 * b / (a + b); d = pb - 75; if (d < 0) d = -d
	printf "cpuunits 1000 vs 3000 (%d CPUs, %.1f s): %.1f%% / %.1f%% of %.2f CPUs used; ideal 25/75; off by %.1f points (target <= 3: %s); load %s\n",
		n, ms / 1000, pa, pb, (a + b) / (ms * 1e6), d, d <= 3 ? "met" : "missed", load }'
"$BIN/vzctl" stop 402 --fast >/dev/null

# Limit: --cpulimit 50 on 401, alone, spinning on every CPU.
"$BIN/vzctl" set 401 --cpulimit 50 --save >/dev/null
spin 401 $((SECS + 3))
sleep 1
a0=$(cpu_ns 401); t=$(now_ns)
sleep "$SECS"
a1=$(cpu_ns 401); ms=$(elapsed_ms "$t")
load=$(uptime | sed 's/.*load average: //')
wait
awk -v a=$((a1 - a0)) -v ms="$ms" -v n="$NCPU" -v load="$load" 'BEGIN {
	c = a / (ms * 1e6); d = 100 * (c - 0.5) / 0.5
	printf "cpulimit 50 (%d busy loops, %.1f s): %.3f CPUs used; set 0.5; ratio %.3f, off by %+.1f%% (target within 5%%: %s); load %s\n",
		n, ms / 1000, c, c / 0.5, d, (d <= 5 && d >= -5) ? "met" : "missed", load }'
