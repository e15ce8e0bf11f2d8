#!/bin/sh
# vzkit set_ip (Red Hat and SUSE families): write the container's complete
# static address set into the distro's network configuration. Declarative:
# the caller passes every address the container should have.
#   IP_ADDR   space-separated addresses, each with an optional /prefix
#             (bare: /32 or /128); empty removes vzkit's configuration
#   GATEWAY   IPv4 default gateway (optional; routed mode: 169.254.0.1)
#   GATEWAY6  IPv6 default gateway (optional; routed mode: fe80::1)
#   NETIF     interface inside the container (default eth0)
# Backend, first match:
#   NetworkManager installed: keyfile
#     /etc/NetworkManager/system-connections/vzkit-IF.nmconnection (0600);
#     an ifcfg file vzkit wrote earlier for IF is removed.
#   /etc/sysconfig/network is a directory (SUSE, wicked):
#     /etc/sysconfig/network/ifcfg-IF and ifroute-IF
#   otherwise (Red Hat network-scripts): /etc/sysconfig/network-scripts/
#     ifcfg-IF and route-IF.
# When every IPv4 address is a /32 (routed mode) the IPv4 gateway lies
# outside them, so a device route to the gateway is written before the
# default route; IPv6 gateways are link-local and need none.
set -eu
ifname=${NETIF:-eth0}
case $ifname in
'' | *[!A-Za-z0-9._-]*) echo "set_ip: invalid NETIF '$ifname'" >&2; exit 2 ;;
esac
gw=${GATEWAY:-}
gw6=${GATEWAY6:-}
v4=
v6=
all32=yes
for a in ${IP_ADDR:-}; do
	case $a in
	*[!0-9A-Fa-f:./]*) echo "set_ip: invalid address '$a'" >&2; exit 2 ;;
	*/*) ;;
	*:*) a=$a/128 ;;
	*) a=$a/32 ;;
	esac
	case $a in
	*:*) v6="$v6 $a" ;;
	*/32) v4="$v4 $a" ;;
	*) v4="$v4 $a"; all32=no ;;
	esac
done
for g in $gw $gw6; do
	case $g in
	*[!0-9A-Fa-f:.]*) echo "set_ip: invalid gateway '$g'" >&2; exit 2 ;;
	esac
done
[ -n "$v4" ] || gw=
[ -n "$v6" ] || gw6=
onlink=no
[ -n "$gw" ] && [ $all32 = yes ] && onlink=yes
marker="# Written by vzkit set_ip; changes here are overwritten."

# put FILE MODE: replace FILE with stdin, atomically.
put() {
	cat >"$1.vzkit-tmp"
	chmod "$2" "$1.vzkit-tmp"
	mv -f "$1.vzkit-tmp" "$1"
}
# ours FILE: FILE exists and vzkit wrote it.
ours() { [ -f "$1" ] && grep -q -F "$marker" "$1"; }

if command -v NetworkManager >/dev/null 2>&1 || [ -x /usr/sbin/NetworkManager ]; then
	d=/etc/NetworkManager/system-connections
	f=$d/vzkit-$ifname.nmconnection
	for old in /etc/sysconfig/network-scripts/ifcfg-$ifname /etc/sysconfig/network/ifcfg-$ifname; do
		if ours "$old"; then rm -f "$old"; fi
	done
	if [ -z "$v4$v6" ]; then
		rm -f "$f"
		exit 0
	fi
	mkdir -p $d
	{
		echo "$marker"
		printf '[connection]\nid=vzkit-%s\ntype=ethernet\ninterface-name=%s\nautoconnect=true\n\n' "$ifname" "$ifname"
		echo "[ipv4]"
		if [ -n "$v4" ]; then
			echo "method=manual"
			i=1
			for a in $v4; do echo "address$i=$a"; i=$((i + 1)); done
			[ -n "$gw" ] && echo "gateway=$gw"
			[ $onlink = yes ] && echo "route1=$gw/32"
		else
			echo "method=disabled"
		fi
		printf '\n[ipv6]\n'
		if [ -n "$v6" ]; then
			echo "method=manual"
			i=1
			for a in $v6; do echo "address$i=$a"; i=$((i + 1)); done
			[ -n "$gw6" ] && echo "gateway=$gw6"
		else
			echo "method=ignore"
		fi
	} | put "$f" 600
	exit 0
fi

if [ -d /etc/sysconfig/network ]; then
	d=/etc/sysconfig/network
	if [ -z "$v4$v6" ]; then
		if ours $d/ifcfg-$ifname; then rm -f $d/ifcfg-$ifname; fi
		if ours $d/ifroute-$ifname; then rm -f $d/ifroute-$ifname; fi
		exit 0
	fi
	{
		echo "$marker"
		echo "BOOTPROTO='static'"
		echo "STARTMODE='auto'"
		i=0
		for a in $v4 $v6; do
			if [ $i = 0 ]; then echo "IPADDR='$a'"; else echo "IPADDR_$i='$a'"; fi
			i=$((i + 1))
		done
	} | put $d/ifcfg-$ifname 644
	{
		echo "$marker"
		[ $onlink = yes ] && echo "$gw/32 - - $ifname"
		[ -n "$gw" ] && echo "default $gw - $ifname"
		[ -n "$gw6" ] && echo "default $gw6 - $ifname"
		true
	} | put $d/ifroute-$ifname 644
	exit 0
fi

d=/etc/sysconfig/network-scripts
mkdir -p $d
if [ -z "$v4$v6" ]; then
	for x in ifcfg route; do
		if ours $d/$x-$ifname; then rm -f $d/$x-$ifname; fi
	done
	exit 0
fi
{
	echo "$marker"
	printf 'DEVICE=%s\nONBOOT=yes\nBOOTPROTO=none\n' "$ifname"
	i=0
	for a in $v4; do
		echo "IPADDR$i=${a%/*}"
		echo "PREFIX$i=${a#*/}"
		i=$((i + 1))
	done
	[ -n "$gw" ] && [ $onlink = no ] && echo "GATEWAY=$gw"
	if [ -n "$v6" ]; then
		echo "IPV6INIT=yes"
		first=yes
		rest=
		for a in $v6; do
			if [ $first = yes ]; then echo "IPV6ADDR=$a"; first=no; else rest="$rest $a"; fi
		done
		[ -n "$rest" ] && echo "IPV6ADDR_SECONDARIES=\"${rest# }\""
		[ -n "$gw6" ] && echo "IPV6_DEFAULTGW=$gw6%$ifname"
	fi
	true
} | put $d/ifcfg-$ifname 644
if [ $onlink = yes ]; then
	printf '%s\n%s dev %s\ndefault via %s dev %s\n' "$marker" "$gw" "$ifname" "$gw" "$ifname" | put $d/route-$ifname 644
elif ours $d/route-$ifname; then
	rm -f $d/route-$ifname
fi
