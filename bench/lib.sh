# Shared helpers for the benchmark scripts (sourced, not run).
# Every script prints its figures and the ratio to the peer, from one run.

set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$REPO/bin}

need_root() {
	if [ "$(id -u)" != 0 ]; then echo "$0: must run as root" >&2; exit 1; fi
}

# now_ns prints a monotonic-enough timestamp in nanoseconds.
now_ns() { date +%s%N; }

# elapsed_ms START_NS prints the milliseconds since START_NS.
elapsed_ms() { echo $(( ($(now_ns) - $1) / 1000000 )); }

# median prints the median of its arguments (integers).
median() {
	printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}

# ratio A B prints A/B with three decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# host_mirror SUITE prints the host's apt mirror URI for SUITE (deb822
# .sources first, then one-line lists), so no mirror name is written here.
host_mirror() {
	suite=$1
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		awk -v suite="$suite" '
			/^[[:space:]]*$/ { if (uris != "" && found && !disabled) { print uris; exit } uris = ""; found = 0; disabled = 0; next }
			tolower($1) == "uris:" { uris = $2 }
			tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) found = 1 }
			tolower($1) == "enabled:" && tolower($2) == "no" { disabled = 1 }
			END { if (uris != "" && found && !disabled) print uris }' "$f"
	done | head -n 1 | grep . && return 0
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v suite="$suite" '$1 == "deb" { u = $2; s = $3; if ($2 ~ /^\[/) { for (i = 2; i <= NF; i++) if ($i ~ /\]$/) break; u = $(i + 1); s = $(i + 2) } if (s == suite) { print u; exit } }' | grep .
}

build_bins() { [ -n "${NOBUILD:-}" ] || make -C "$REPO" build >/dev/null; }
