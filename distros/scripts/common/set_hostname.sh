#!/bin/sh
# vzkit set_hostname: set the container's host name (any distro family).
#   HOSTNAME  the name, short or fully qualified (required)
# Writes /etc/hostname (the name as given, as OpenVZ does), puts
# "127.0.1.1 <fqdn> <short>" in /etc/hosts (the Debian convention; harmless
# elsewhere since all of 127/8 is loopback), replacing earlier 127.0.1.1
# lines and adding a localhost line when the file lacks one, updates the
# legacy /etc/HOSTNAME (SUSE) and HOSTNAME= in /etc/sysconfig/network (old
# Red Hat) when they exist, and calls hostname(1) for the running system.
set -eu
name=${HOSTNAME:-}
case $name in
'') echo "set_hostname: HOSTNAME is empty" >&2; exit 2 ;;
-* | .* | *. | *..* | *[!A-Za-z0-9.-]*) echo "set_hostname: invalid host name '$name'" >&2; exit 2 ;;
esac
if [ ${#name} -gt 253 ]; then
	echo "set_hostname: host name longer than 253 characters" >&2
	exit 2
fi
short=${name%%.*}

# put FILE MODE: replace FILE with stdin, atomically.
put() {
	cat >"$1.vzkit-tmp"
	chmod "$2" "$1.vzkit-tmp"
	mv -f "$1.vzkit-tmp" "$1"
}

printf '%s\n' "$name" | put /etc/hostname 644
[ -f /etc/HOSTNAME ] && printf '%s\n' "$name" | put /etc/HOSTNAME 644

if [ "$short" = "$name" ]; then
	line=$(printf '127.0.1.1\t%s' "$name")
else
	line=$(printf '127.0.1.1\t%s %s' "$name" "$short")
fi
old=
[ -f /etc/hosts ] && old=$(grep -v -E '^[[:space:]]*127\.0\.1\.1([[:space:]]|$)' /etc/hosts || true)
{
	if ! printf '%s\n' "$old" | grep -q -E '^[[:space:]]*127\.0\.0\.1[[:space:]].*localhost'; then
		printf '127.0.0.1\tlocalhost\n'
	fi
	[ -n "$old" ] && printf '%s\n' "$old"
	printf '%s\n' "$line"
} | put /etc/hosts 644

if [ -f /etc/sysconfig/network ] && grep -q '^HOSTNAME=' /etc/sysconfig/network; then
	sed "s/^HOSTNAME=.*/HOSTNAME=$name/" /etc/sysconfig/network | put /etc/sysconfig/network 644
fi

if command -v hostname >/dev/null 2>&1; then
	hostname "$name" || echo "set_hostname: warning: hostname $name failed; the files are updated" >&2
fi
