#!/bin/sh
# The main job end to end, as a newcomer runs it with `make demo` (as root):
# build the debian-12-minimal template cache from Debian's archive (mirror
# taken from this host's apt sources), create a container from it, start it,
# run a command inside, stop and destroy it — printing the time of each step.
#
# Everything lives under VZKIT_ROOT (default /var/tmp/vzkit-demo) so the demo
# never touches a real vzkit installation.
set -eu
BIN=${BIN:-$(cd "$(dirname "$0")" && pwd)/bin}
TEMPLATE=${TEMPLATE:-debian-12-minimal}
CTID=${CTID:-101}
# A fixed prefix: a second run reuses the package store and index cache.
export VZKIT_ROOT=${VZKIT_ROOT:-/var/tmp/vzkit-demo}

if [ "$(id -u)" != 0 ]; then
	echo "demo: must run as root (containers need namespaces and cgroups)" >&2
	exit 1
fi

step() {
	label=$1; shift
	printf '\n== %s: %s\n' "$label" "$*"
	start=$(date +%s.%N)
	"$@"
	end=$(date +%s.%N)
	awk -v l="$label" -v s="$start" -v e="$end" 'BEGIN { printf "-- %s took %.2f s\n", l, e - s }'
}

cleanup() {
	"$BIN/vzctl" stop "$CTID" --fast >/dev/null 2>&1 || true
	"$BIN/vzctl" destroy "$CTID" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

echo "vzkit demo in VZKIT_ROOT=$VZKIT_ROOT"
cleanup # a previous run that was interrupted
step build   "$BIN/vzpkg" build "$TEMPLATE"
step create  "$BIN/vzctl" create "$CTID" --ostemplate "$TEMPLATE" --hostname demo
step start   "$BIN/vzctl" start "$CTID"
step exec    "$BIN/vzctl" exec "$CTID" cat /etc/os-release
step status  "$BIN/vzctl" status "$CTID"
step stop    "$BIN/vzctl" stop "$CTID"
step destroy "$BIN/vzctl" destroy "$CTID"
trap - EXIT INT TERM
echo
echo "demo: done. The cache is in $VZKIT_ROOT/var/lib/vzkit/template/cache/"
