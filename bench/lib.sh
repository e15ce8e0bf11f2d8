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

# install_cache WORK puts debian-12-minimal into $VZKIT_ROOT's cache
# directory: a copy of $CACHE (and its .json) when set, else a vzpkg build
# (its log in WORK/build.log, shown on failure).
install_cache() {
	cachedir="$VZKIT_ROOT/var/lib/vzkit/template/cache"
	mkdir -p "$cachedir"
	if [ -n "${CACHE:-}" ]; then
		cp "$CACHE" "$cachedir/debian-12-minimal.tar.zst"
		cp "${CACHE%.tar.zst}.json" "$cachedir/debian-12-minimal.json"
	else
		"$BIN/vzpkg" build debian-12-minimal >"$1/build.log" 2>&1 || { cat "$1/build.log"; exit 1; }
	fi
}

# init_pid CTID prints the host PID of the running container's init (from
# vzctl status -o json).
init_pid() {
	"$BIN/vzctl" status "$1" -o json | sed -n 's/.*"init_pid": *\([0-9]*\).*/\1/p' | grep -v '^0$' | grep .
}

# ct_cgroup CTID CONTROLLER prints the host directory of the container's own
# cgroup for CONTROLLER (cpuacct, memory, ...) on cgroup v1, or of its v2
# cgroup when CONTROLLER is "" or has no v1 hierarchy. Found from its init's
# /proc/PID/cgroup, cut at "vzkit-CTID" (a systemd init moves itself into
# init.scope below it). Fails when the container does not run.
ct_cgroup() {
	pid=$(init_pid "$1") || { echo "container $1 does not run" >&2; return 1; }
	awk -F: -v want="$2" -v ct="vzkit-$1" '
		function cut(p,   i) { i = index(p "/", ct "/"); return i ? substr(p, 1, i + length(ct) - 1) : "" }
		FILENAME == "/proc/mounts" {
			if ($0 ~ /^[^ ]+ [^ ]+ cgroup2 /) { split($0, m, " "); if (v2mnt == "" || m[2] ~ /unified$/) v2mnt = m[2] }
			else if (want != "" && $0 ~ /^[^ ]+ [^ ]+ cgroup /) {
				split($0, m, " "); n = split(m[4], o, ",")
				for (i = 1; i <= n; i++) if (o[i] == want) v1mnt = m[2]
			}
			next
		}
		$2 == "" { v2 = cut($3); next }
		want != "" { n = split($2, c, ","); for (i = 1; i <= n; i++) if (c[i] == want) v1 = cut($3) }
		END {
			if (v1 != "" && v1mnt != "") print v1mnt v1
			else if (v2 != "" && v2mnt != "") print v2mnt v2
			else exit 1
		}' /proc/mounts "/proc/$pid/cgroup"
}
