#!/bin/sh
# vzpkg build debian-12-minimal vs mmdebstrap --variant=minbase bookworm OUT.tar.zst
#
#   cold: empty package store and index cache for vzpkg; mmdebstrap downloads too
#   warm: vzpkg's store and index cache filled; mmdebstrap pointed at a local
#         file:// mirror holding exactly the same .debs
#
# Runs alternate (vzpkg, mmdebstrap, vzpkg, ...) RUNS times each per mode and
# print the medians and their ratio. Usage: bench/build-vs-mmdebstrap.sh [RUNS]
. "$(dirname "$0")/lib.sh"
need_root
RUNS=${1:-3}
SUITE=bookworm
MIRROR=$(host_mirror $SUITE)
WORK=$(mktemp -d /var/tmp/vzkit-bench-build.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
build_bins
echo "mirror: $MIRROR (from the host's apt sources); work dir $WORK; $RUNS runs per tool and mode"

vzpkg_build() { # $1 = VZKIT_ROOT
	VZKIT_ROOT=$1 "$BIN/vzpkg" build debian-12-minimal --mirror "$MIRROR" >"$WORK/vzpkg.log" 2>&1 ||
		{ cat "$WORK/vzpkg.log"; exit 1; }
}
mmdebstrap_build() { # $1 = mirror line
	mmdebstrap --quiet --variant=minbase $SUITE "$WORK/mm.tar.zst" "$1" >"$WORK/mm.log" 2>&1 ||
		{ cat "$WORK/mm.log"; exit 1; }
	# A run that installed nothing would make a meaningless figure.
	n=$(tar --zstd -xOf "$WORK/mm.tar.zst" ./var/lib/dpkg/status | grep -c '^Package: ')
	[ "$n" -ge 90 ] || { echo "mmdebstrap installed only $n packages" >&2; cat "$WORK/mm.log"; exit 1; }
	rm -f "$WORK/mm.tar.zst"
}

# Cold: every vzpkg run starts from an empty VZKIT_ROOT (no store, no indexes).
cold_vz=""; cold_mm=""
i=0
while [ $i -lt "$RUNS" ]; do
	i=$((i + 1))
	rm -rf "$WORK/cold"
	t=$(now_ns); vzpkg_build "$WORK/cold"; cold_vz="$cold_vz $(elapsed_ms "$t")"
	t=$(now_ns); mmdebstrap_build "deb $MIRROR $SUITE main"; cold_mm="$cold_mm $(elapsed_ms "$t")"
	echo "cold run $i: vzpkg $(echo $cold_vz | awk '{print $NF}') ms, mmdebstrap $(echo $cold_mm | awk '{print $NF}') ms"
done

# Warm: keep $WORK/cold's store and index cache. mmdebstrap gets a local
# mirror of the same .debs whose Packages index is the real one filtered to
# those .debs (a Packages made from the .debs alone would lack the archive's
# Priority overrides, and minbase would then pick fewer packages).
LOCAL="$WORK/localmirror"
STORE="$WORK/cold/var/cache/vzkit/packages"
INDEX=$(find "$WORK/cold/var/cache/vzkit/indexes" -type f -size +10M | head -n 1)
find "$STORE" -type f ! -name '.*' -printf '%f\n' > "$WORK/shas"
mkdir -p "$LOCAL/dists/$SUITE/main/binary-amd64"
awk -v shas="$WORK/shas" 'BEGIN { while ((getline l < shas) > 0) keep[l] = 1; RS = ""; ORS = "\n\n" }
	{ if (match($0, /\nSHA256: [0-9a-f]+/) && keep[substr($0, RSTART + 9, RLENGTH - 9)]) print }' "$INDEX" \
	> "$LOCAL/dists/$SUITE/main/binary-amd64/Packages"
grep '^Filename: \|^SHA256: ' "$LOCAL/dists/$SUITE/main/binary-amd64/Packages" | paste - - | while read -r _ file _ sha; do
	mkdir -p "$LOCAL/$(dirname "$file")"
	ln -sf "$STORE/$(echo "$sha" | cut -c1-2)/$sha" "$LOCAL/$file"
done
(cd "$LOCAL" && apt-ftparchive -o APT::FTPArchive::Release::Suite=$SUITE -o APT::FTPArchive::Release::Codename=$SUITE \
	-o APT::FTPArchive::Release::Architectures=amd64 -o APT::FTPArchive::Release::Components=main \
	release "dists/$SUITE" > "$LOCAL/dists/$SUITE/Release")
echo "local mirror: $(grep -c '^Package: ' "$LOCAL/dists/$SUITE/main/binary-amd64/Packages") packages"

warm_vz=""; warm_mm=""
i=0
while [ $i -lt "$RUNS" ]; do
	i=$((i + 1))
	rm -rf "$WORK/cold/var/lib/vzkit/template/cache"
	t=$(now_ns); vzpkg_build "$WORK/cold"; warm_vz="$warm_vz $(elapsed_ms "$t")"
	t=$(now_ns); mmdebstrap_build "deb [trusted=yes] copy://$LOCAL $SUITE main"; warm_mm="$warm_mm $(elapsed_ms "$t")"
	echo "warm run $i: vzpkg $(echo $warm_vz | awk '{print $NF}') ms, mmdebstrap $(echo $warm_mm | awk '{print $NF}') ms"
done

cv=$(median $cold_vz); cm=$(median $cold_mm); wv=$(median $warm_vz); wm=$(median $warm_mm)
echo
echo "cold: vzpkg median ${cv} ms, mmdebstrap median ${cm} ms, ratio $(ratio "$cv" "$cm") (target <= 0.5)"
echo "warm: vzpkg median ${wv} ms, mmdebstrap median ${wm} ms, ratio $(ratio "$wv" "$wm") (target <= 0.4)"
echo "where vzpkg's time went (last warm run):"
grep '^time:' "$WORK/vzpkg.log"
