#!/bin/sh
# vzctl start + exec /bin/true vs `runc run` of the same root running /bin/true
# (Debian's runc package). Both from a debian-12-minimal cache; runs alternate.
# Also reports vzctl's full cycle (start + exec + stop --fast), since runc run
# includes the teardown.
#
# Usage: bench/start-vs-runc.sh [RUNS]   (CACHE=path/to/NAME.tar.zst reuses a cache)
. "$(dirname "$0")/lib.sh"
need_root
RUNS=${1:-20}
WORK=$(mktemp -d /var/tmp/vzkit-bench-start.XXXXXX)
export VZKIT_ROOT="$WORK/vz"
CT=101
cleanup() {
	"$BIN/vzctl" stop $CT --fast >/dev/null 2>&1 || true
	"$BIN/vzctl" destroy $CT >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
build_bins
CACHEDIR="$VZKIT_ROOT/var/lib/vzkit/template/cache"
mkdir -p "$CACHEDIR"
if [ -n "${CACHE:-}" ]; then
	cp "$CACHE" "$CACHEDIR/debian-12-minimal.tar.zst"
	cp "${CACHE%.tar.zst}.json" "$CACHEDIR/debian-12-minimal.json" 2>/dev/null || true
else
	"$BIN/vzpkg" build debian-12-minimal >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
fi
"$BIN/vzctl" create $CT --ostemplate debian-12-minimal >/dev/null

# The runc bundle gets a copy of the very same root.
mkdir -p "$WORK/bundle"
cp -a "$VZKIT_ROOT/var/lib/vzkit/private/$CT/." "$WORK/bundle/rootfs/" 2>/dev/null ||
	{ mkdir -p "$WORK/bundle/rootfs"; tar --zstd -xf "$CACHEDIR/debian-12-minimal.tar.zst" -C "$WORK/bundle/rootfs"; }
(cd "$WORK/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"\/bin\/true"/' config.json)
grep -q '"/bin/true"' "$WORK/bundle/config.json" || { echo "could not set runc args" >&2; exit 1; }
echo "runc: $(runc --version | head -1); $RUNS runs each, alternating"

vz=""; vzfull=""; rc=""
i=0
while [ $i -lt "$RUNS" ]; do
	i=$((i + 1))
	t=$(now_ns)
	"$BIN/vzctl" start $CT >/dev/null
	"$BIN/vzctl" exec $CT /bin/true
	vz="$vz $(elapsed_ms "$t")"
	"$BIN/vzctl" stop $CT --fast >/dev/null
	vzfull="$vzfull $(elapsed_ms "$t")"
	t=$(now_ns)
	runc run --bundle "$WORK/bundle" "vzkit-bench-$$-$i" </dev/null
	rc="$rc $(elapsed_ms "$t")"
done
mv=$(median $vz); mf=$(median $vzfull); mr=$(median $rc)
echo "vzctl start + exec /bin/true: median ${mv} ms"
echo "vzctl start + exec + stop --fast: median ${mf} ms"
echo "runc run /bin/true: median ${mr} ms"
echo "ratio start+exec / runc run: $(ratio "$mv" "$mr"); full cycle / runc run: $(ratio "$mf" "$mr")"
