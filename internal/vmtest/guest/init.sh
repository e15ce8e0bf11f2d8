# The init of one vmtest run, from the run disk (mounted on /vzkit-vm):
# makes the VM a pure cgroup v2 host with no init system, copies the test's
# files into the root, runs the test's script between markers on the
# console, and powers off. The markers carry this run's nonce, so that no
# output of the script can fake the trailer that holds its exit status.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
HOME=/root
LANG=C.UTF-8
export PATH HOME LANG
say() { echo "vzkit-vm-init: $*"; }
mnt() { # mnt TYPE DIR OPTIONS: mount unless the initrd already did
	mountpoint -q "$2" || mount -t "$1" -o "$3" "$1" "$2" || say "cannot mount $1 on $2"
}

mnt proc /proc nosuid,nodev,noexec
mnt sysfs /sys nosuid,nodev,noexec
mnt devtmpfs /dev nosuid,mode=755
mkdir -p /dev/pts /dev/shm
mnt devpts /dev/pts nosuid,noexec,gid=5,mode=620,ptmxmode=666
mnt tmpfs /dev/shm nosuid,nodev,mode=1777
mnt tmpfs /run nosuid,nodev,mode=755
mnt tmpfs /tmp nosuid,nodev,mode=1777
# As systemd mounts it on a pure v2 host: nsdelegate makes a cgroup
# namespace a delegation boundary.
mnt cgroup2 /sys/fs/cgroup nosuid,nodev,noexec,nsdelegate
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
	echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || say "cannot enable cgroup controller $c"
done
for m in $(cat /vzkit-vm/modules); do
	modprobe "$m" || say "cannot load module $m"
done
ip link set lo up
hostname vzkit-vm
cp -a /vzkit-vm/files/. / || say "cannot copy the test's files into the root"

nonce=$(cat /vzkit-vm/nonce)
read -r up _ </proc/uptime
echo "vzkit-vm-begin $nonce uptime=$up"
(cd /root && exec /bin/sh /vzkit-vm/script </dev/null 2>&1)
rc=$?
# The newline ends a last line the script left open; the host drops it.
printf '\nvzkit-vm-end %s %d\n' "$nonce" "$rc"
sync
echo o >/proc/sysrq-trigger
sleep 60
