#!/bin/sh
# Plain create on btrfs (one run, medians of RUNS alternating runs), all on
# one loop-mounted btrfs, the same cache:
#   vzctl create --layout plain (a snapshot of the cache unpacked once)
#       vs  tar -I 'zstd -d -T0' -xf of the cache into an empty directory
#   vzctl create --layout plain with FAST_PLAIN_CREATE="no" (the unpack)
#       vs  the same tar
#
# Usage: bench/create-plain.sh [RUNS]   (CACHE=path/to/NAME.tar.zst reuses a
# cache, with its NAME.json beside it)
. "$(dirname "$0")/lib.sh"
need_root
RUNS=${1:-5}
WORK=$(mktemp -d /var/tmp/vzkit-bench-plain.XXXXXX)
MNT="$WORK/btrfs"
export VZKIT_ROOT="$MNT/vz"
cleanup() {
	for c in $(seq 300 $((300 + RUNS))) $(seq 400 $((400 + RUNS))); do
		"$BIN/vzctl" destroy $c >/dev/null 2>&1 || true
	done
	umount "$MNT" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
build_bins
truncate -s 8G "$WORK/btrfs.img"
mkfs.btrfs -q "$WORK/btrfs.img"
mkdir "$MNT"
mount -o loop "$WORK/btrfs.img" "$MNT"
CACHEDIR="$VZKIT_ROOT/var/lib/vzkit/template/cache"
mkdir -p "$CACHEDIR" "$VZKIT_ROOT/etc/vzkit"
if [ -n "${CACHE:-}" ]; then
	cp "$CACHE" "$CACHEDIR/debian-12-minimal.tar.zst"
	cp "${CACHE%.tar.zst}.json" "$CACHEDIR/debian-12-minimal.json"
else
	"$BIN/vzpkg" build debian-12-minimal >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
fi
C="$CACHEDIR/debian-12-minimal.tar.zst"
VZCONF="$VZKIT_ROOT/etc/vzkit/vz.conf"

# settle: what a step wrote and deleted is on disk (btrfs deletes
# subvolumes in the background) before the next one is timed.
settle() { sync; btrfs subvolume sync "$MNT" >/dev/null 2>&1 || true; sync; }

# The first fast create unpacks the cache once into TEMPLATE/unpacked.
settle
t=$(now_ns); "$BIN/vzctl" create 300 --ostemplate debian-12-minimal >/dev/null 2>&1; first=$(elapsed_ms "$t")
"$BIN/vzctl" destroy 300 >/dev/null 2>&1

fast=""; unpack=""; tarx=""
i=0
while [ $i -lt "$RUNS" ]; do
	i=$((i + 1))
	rm -f "$VZCONF"
	settle
	t=$(now_ns); "$BIN/vzctl" create $((300 + i)) --ostemplate debian-12-minimal >/dev/null 2>&1; fast="$fast $(elapsed_ms "$t")"
	"$BIN/vzctl" destroy $((300 + i)) >/dev/null 2>&1
	mkdir "$MNT/tar$i"
	settle
	t=$(now_ns); tar -I 'zstd -d -T0' -xf "$C" -C "$MNT/tar$i"; tarx="$tarx $(elapsed_ms "$t")"
	rm -rf "$MNT/tar$i"
	echo 'FAST_PLAIN_CREATE="no"' >"$VZCONF"
	settle
	t=$(now_ns); "$BIN/vzctl" create $((400 + i)) --ostemplate debian-12-minimal >/dev/null 2>&1; unpack="$unpack $(elapsed_ms "$t")"
	"$BIN/vzctl" destroy $((400 + i)) >/dev/null 2>&1
done
mf=$(median $fast); mu=$(median $unpack); mt=$(median $tarx)
echo "vzctl create plain on btrfs (snapshot): median ${mf} ms (the first, which unpacks the cache once: ${first} ms)"
echo "vzctl create plain on btrfs, FAST_PLAIN_CREATE=no (unpack): median ${mu} ms"
echo "tar -I 'zstd -d -T0' -xf into the same btrfs: median ${mt} ms"
echo "ratios: snapshot/tar $(ratio "$mf" "$mt"), unpack/tar $(ratio "$mu" "$mt"), snapshot/unpack $(ratio "$mf" "$mu")"
