#!/bin/sh
# Template cache benchmarks (one run, medians of RUNS alternating runs):
#   vzctl create (plain)   vs  tar -I 'zstd -d -T0' -xf of the same cache into an empty dir
#   vzctl create --layout overlay  vs  vzctl create (plain)
#   cache size  vs  mmdebstrap --variant=minbase's tar.zst of the same package set
#
# Usage: bench/create-vs-tar.sh [RUNS]   (CACHE=path/to/NAME.tar.zst reuses a cache)
. "$(dirname "$0")/lib.sh"
need_root
RUNS=${1:-5}
WORK=$(mktemp -d /var/tmp/vzkit-bench-create.XXXXXX)
export VZKIT_ROOT="$WORK/vz"
trap 'for c in $(seq 200 $((200 + 2 * RUNS))); do "$BIN/vzctl" destroy $c >/dev/null 2>&1; done; rm -rf "$WORK"' EXIT
build_bins
CACHEDIR="$VZKIT_ROOT/var/lib/vzkit/template/cache"
mkdir -p "$CACHEDIR"
if [ -n "${CACHE:-}" ]; then
	cp "$CACHE" "$CACHEDIR/debian-12-minimal.tar.zst"
	cp "${CACHE%.tar.zst}.json" "$CACHEDIR/debian-12-minimal.json"
else
	"$BIN/vzpkg" build debian-12-minimal >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
fi
C="$CACHEDIR/debian-12-minimal.tar.zst"
sync

# Every timed step starts from a synced disk, and what a step wrote is
# removed (and synced) before the next one, so no step pays for another's
# writeback or for deletes (this disk may be mounted with discard).
plain=""; tarx=""; overlay=""
i=0
while [ $i -lt "$RUNS" ]; do
	i=$((i + 1))
	sync
	t=$(now_ns); "$BIN/vzctl" create $((200 + i)) --ostemplate debian-12-minimal >/dev/null; plain="$plain $(elapsed_ms "$t")"
	"$BIN/vzctl" destroy $((200 + i)) >/dev/null
	mkdir "$WORK/tar$i"
	sync
	t=$(now_ns); tar -I 'zstd -d -T0' -xf "$C" -C "$WORK/tar$i"; tarx="$tarx $(elapsed_ms "$t")"
	rm -rf "$WORK/tar$i"
	sync
	t=$(now_ns); "$BIN/vzctl" create $((200 + RUNS + i)) --ostemplate debian-12-minimal --layout overlay >/dev/null; overlay="$overlay $(elapsed_ms "$t")"
done
mp=$(median $plain); mt=$(median $tarx); mo=$(median $overlay)
echo "vzctl create plain: median ${mp} ms; tar -I 'zstd -d -T0' -xf: median ${mt} ms; ratio $(ratio "$mp" "$mt") (target <= 0.5)"
echo "vzctl create overlay: median ${mo} ms (first one included: $(echo $overlay | awk '{print $1}') ms); overlay/plain $(ratio "$mo" "$mp") (target <= 0.05)"

# Size: mmdebstrap's tar.zst of the same package set (same mirror).
MIRROR=$(host_mirror bookworm)
mmdebstrap --quiet --variant=minbase bookworm "$WORK/mm.tar.zst" "deb $MIRROR bookworm main" >/dev/null 2>&1
ours=$(stat -c %s "$C"); theirs=$(stat -c %s "$WORK/mm.tar.zst")
echo "cache size: vzpkg $ours bytes, mmdebstrap $theirs bytes, ratio $(ratio "$ours" "$theirs") (target <= 0.9)"
