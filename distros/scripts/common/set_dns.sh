#!/bin/sh
# vzkit set_dns: set name servers and search domains in /etc/resolv.conf.
#   NAMESERVER    space-separated IPv4/IPv6 addresses; replaces every
#                 nameserver line (unset or empty: nameservers are kept)
#   SEARCHDOMAIN  space-separated domains; replaces the search and domain
#                 lines (unset or empty: kept)
# Other lines (options, comments) are kept. A symlinked resolv.conf (a
# resolver daemon's stub) is replaced by a plain file, because the admin
# asked for fixed servers.
set -eu
ns=${NAMESERVER:-}
sd=${SEARCHDOMAIN:-}
[ -n "$ns$sd" ] || exit 0
for a in $ns; do
	case $a in
	*[!0-9A-Fa-f:.]* | '') echo "set_dns: invalid name server '$a'" >&2; exit 2 ;;
	esac
done
for d in $sd; do
	case $d in
	-* | *[!A-Za-z0-9.-]*) echo "set_dns: invalid search domain '$d'" >&2; exit 2 ;;
	esac
done

f=/etc/resolv.conf
old=
[ -r $f ] && old=$(cat $f)
drop='^$'
[ -n "$ns" ] && drop="$drop|^[[:space:]]*nameserver([[:space:]]|\$)"
[ -n "$sd" ] && drop="$drop|^[[:space:]]*(search|domain)([[:space:]]|\$)"
{
	printf '%s\n' "$old" | grep -v -E "$drop" || true
	# shellcheck disable=SC2086 # word splitting wanted
	[ -n "$sd" ] && echo search $sd
	for a in $ns; do echo "nameserver $a"; done
} >$f.vzkit-tmp
chmod 644 $f.vzkit-tmp
[ -L $f ] && rm -f $f
mv -f $f.vzkit-tmp $f
