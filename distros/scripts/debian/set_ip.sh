#!/bin/sh
# vzkit set_ip (Debian family): write the container's complete static
# address set into the distro's network configuration, so it survives a
# restart of the container's own network setup. Declarative: the caller
# passes every address the container should have, not a change.
#   IP_ADDR   space-separated addresses, each with an optional /prefix
#             (bare: /32 or /128); empty removes vzkit's configuration
#   GATEWAY   IPv4 default gateway (optional; routed mode: 169.254.0.1)
#   GATEWAY6  IPv6 default gateway (optional; routed mode: fe80::1)
#   NETIF     interface inside the container (default eth0)
# Backend: systemd-networkd when its binary is there and ifupdown is not
# (e.g. Ubuntu with netplan), written as /etc/systemd/network/05-vzkit-IF.network
# (sorting before netplan's files) with GatewayOnLink=yes; otherwise
# /etc/network/interfaces (ifupdown adds "onlink" to its default route, so
# the routed-mode gateway outside the /32 works), in a block between
# "# BEGIN vzkit IF" and "# END vzkit IF" that replaces any other stanza
# for IF, with one "iface" stanza per address as interfaces(5) allows.
set -eu
ifname=${NETIF:-eth0}
case $ifname in
'' | *[!A-Za-z0-9._-]*) echo "set_ip: invalid NETIF '$ifname'" >&2; exit 2 ;;
esac
gw=${GATEWAY:-}
gw6=${GATEWAY6:-}
v4=
v6=
for a in ${IP_ADDR:-}; do
	case $a in
	*[!0-9A-Fa-f:./]*) echo "set_ip: invalid address '$a'" >&2; exit 2 ;;
	*/*) ;;
	*:*) a=$a/128 ;;
	*) a=$a/32 ;;
	esac
	case $a in
	*:*) v6="$v6 $a" ;;
	*) v4="$v4 $a" ;;
	esac
done
for g in $gw $gw6; do
	case $g in
	*[!0-9A-Fa-f:.]*) echo "set_ip: invalid gateway '$g'" >&2; exit 2 ;;
	esac
done

# put FILE MODE: replace FILE with stdin, atomically.
put() {
	cat >"$1.vzkit-tmp"
	chmod "$2" "$1.vzkit-tmp"
	mv -f "$1.vzkit-tmp" "$1"
}

networkd=no
if ! command -v ifup >/dev/null 2>&1 && [ ! -x /sbin/ifup ] &&
	{ [ -x /lib/systemd/systemd-networkd ] || [ -x /usr/lib/systemd/systemd-networkd ]; }; then
	networkd=yes
fi

if [ $networkd = yes ]; then
	f=/etc/systemd/network/05-vzkit-$ifname.network
	if [ -z "$v4$v6" ]; then
		rm -f "$f"
		exit 0
	fi
	mkdir -p /etc/systemd/network
	{
		echo "# Written by vzkit set_ip; changes here are overwritten."
		echo "[Match]"
		echo "Name=$ifname"
		echo
		echo "[Network]"
		for a in $v4 $v6; do echo "Address=$a"; done
		if [ -n "$gw" ] && [ -n "$v4" ]; then
			printf '\n[Route]\nGateway=%s\nGatewayOnLink=yes\n' "$gw"
		fi
		if [ -n "$gw6" ] && [ -n "$v6" ]; then
			printf '\n[Route]\nGateway=%s\nGatewayOnLink=yes\n' "$gw6"
		fi
	} | put "$f" 644
	exit 0
fi

f=/etc/network/interfaces
mkdir -p /etc/network
old=
[ -f $f ] && old=$(cat $f)
# Drop vzkit's previous block and every other stanza for the interface,
# and take it out of "auto"/"allow-*" lines.
rest=$(printf '%s\n' "$old" | awk -v ifn="$ifname" '
	/^# BEGIN vzkit / { blk = 1; next }
	blk { if (/^# END vzkit /) blk = 0; next }
	$1 ~ /^(iface|mapping|auto|allow-.*|source|source-directory|rename)$/ { skip = 0 }
	($1 == "iface" || $1 == "mapping") && $2 == ifn { skip = 1; next }
	skip { next }
	$1 == "auto" || $1 ~ /^allow-/ {
		line = $1; n = 0
		for (i = 2; i <= NF; i++) if ($i != ifn) { line = line " " $i; n++ }
		if (n > 0) print line
		next
	}
	{ print }')
{
	if ! printf '%s\n' "$rest" | grep -q -E '^[[:space:]]*iface[[:space:]]+lo[[:space:]]'; then
		printf 'auto lo\niface lo inet loopback\n\n'
	fi
	[ -n "$rest" ] && printf '%s\n' "$rest"
	if [ -n "$v4$v6" ]; then
		echo
		echo "# BEGIN vzkit $ifname (written by vzkit set_ip; changes here are overwritten)"
		echo "auto $ifname"
		first=yes
		for a in $v4; do
			printf 'iface %s inet static\n\taddress %s\n' "$ifname" "$a"
			[ $first = yes ] && [ -n "$gw" ] && printf '\tgateway %s\n' "$gw"
			first=no
		done
		first=yes
		for a in $v6; do
			printf 'iface %s inet6 static\n\taddress %s\n' "$ifname" "$a"
			[ $first = yes ] && [ -n "$gw6" ] && printf '\tgateway %s\n' "$gw6"
			first=no
		done
		echo "# END vzkit $ifname"
	fi
} | put $f 644
