#!/bin/sh
# vzctl start + exec /bin/true vs `runc run` of the same root running /bin/true
# (Debian's runc package), for both kinds of container:
#   - unprivileged (vzkit's default: a user namespace, an idmapped root) vs
#     runc with a user namespace (its rootless spec, mapped to the same host
#     ids) on a bind of the very same idmapped root;
#   - privileged (vzctl create --privileged) vs runc's default spec on a copy
#     of the root.
# Runs alternate. Also reports vzctl's full cycle (start + exec + stop
# --fast), since runc run includes the teardown.
#
# Usage: bench/start-vs-runc.sh [RUNS]   (CACHE=path/to/NAME.tar.zst reuses a cache)
. "$(dirname "$0")/lib.sh"
need_root
RUNS=${1:-20}
WORK=$(mktemp -d /var/tmp/vzkit-bench-start.XXXXXX)
chmod 711 "$WORK" # the unprivileged runc peer walks to its root through it
export VZKIT_ROOT="$WORK/vz"
cleanup() {
	umount -l "$WORK/userns-root" 2>/dev/null || true
	for ct in 101 102 103; do
		"$BIN/vzctl" stop $ct --fast >/dev/null 2>&1 || true
		"$BIN/vzctl" umount $ct >/dev/null 2>&1 || true
		"$BIN/vzctl" destroy $ct >/dev/null 2>&1 || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
build_bins
CACHEDIR="$VZKIT_ROOT/var/lib/vzkit/template/cache"
mkdir -p "$CACHEDIR"
if [ -n "${CACHE:-}" ]; then
	cp "$CACHE" "$CACHEDIR/debian-12-minimal.tar.zst"
	cp "${CACHE%.tar.zst}.json" "$CACHEDIR/debian-12-minimal.json"
else
	"$BIN/vzpkg" build debian-12-minimal >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
fi
"$BIN/vzctl" create 101 --ostemplate debian-12-minimal >/dev/null
"$BIN/vzctl" create 102 --ostemplate debian-12-minimal --privileged >/dev/null

# Privileged peer: runc's default spec on a copy of the same root.
mkdir -p "$WORK/bundle"
cp -a "$VZKIT_ROOT/var/lib/vzkit/private/102/." "$WORK/bundle/rootfs/"
(cd "$WORK/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"\/bin\/true"/' config.json)
grep -q '"/bin/true"' "$WORK/bundle/config.json" || { echo "could not set runc args" >&2; exit 1; }

# Unprivileged peer: container 103's idmapped root (vzctl mount), bound where
# the mapped root can reach it, run by runc in a user namespace mapped to
# 103's host ids.
"$BIN/vzctl" create 103 --ostemplate debian-12-minimal >/dev/null
"$BIN/vzctl" mount 103
uid=$(sed -n 's/^LOCAL_UID="\(.*\)"/\1/p' "$VZKIT_ROOT/etc/vzkit/conf/103.conf")
mkdir -p "$WORK/userns-root" "$WORK/ubundle"
mount --bind "$VZKIT_ROOT/var/lib/vzkit/root/103" "$WORK/userns-root"
(cd "$WORK/ubundle" && runc spec --rootless &&
	sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"\/bin\/true"/; s/"hostID": 0,/"hostID": '"$uid"',/; s/"size": 1$/"size": 65536/; s|"path": "rootfs"|"path": "'"$WORK/userns-root"'"|' config.json)
grep -q "\"hostID\": $uid" "$WORK/ubundle/config.json" || { echo "could not set the runc user namespace" >&2; exit 1; }
echo "runc: $(runc --version | head -1); $RUNS runs each, alternating"

measure() { # CTID BUNDLE LABEL
	vz=""; vzfull=""; rc=""
	i=0
	while [ $i -lt "$RUNS" ]; do
		i=$((i + 1))
		t=$(now_ns)
		"$BIN/vzctl" start "$1" >/dev/null
		"$BIN/vzctl" exec "$1" /bin/true
		vz="$vz $(elapsed_ms "$t")"
		"$BIN/vzctl" stop "$1" --fast >/dev/null
		vzfull="$vzfull $(elapsed_ms "$t")"
		t=$(now_ns)
		runc run --bundle "$2" "vzkit-bench-$$-$1-$i" </dev/null
		rc="$rc $(elapsed_ms "$t")"
	done
	mv=$(median $vz); mf=$(median $vzfull); mr=$(median $rc)
	echo "$3: vzctl start + exec /bin/true: median ${mv} ms"
	echo "$3: vzctl start + exec + stop --fast: median ${mf} ms"
	echo "$3: runc run /bin/true: median ${mr} ms"
	echo "$3: ratio start+exec / runc run: $(ratio "$mv" "$mr"); full cycle / runc run: $(ratio "$mf" "$mr")"
}
measure 101 "$WORK/ubundle" unprivileged
measure 102 "$WORK/bundle" privileged
