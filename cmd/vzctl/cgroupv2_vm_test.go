package main

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/internal/vmtest"
)

// These tests run vzctl in a qemu VM that is a pure cgroup v2 host
// (internal/vmtest), since the machines the other tests run on have a
// hybrid hierarchy. The VM's script prints "KEY: VALUE" lines that the
// tests read with vmValue; the container's cgroup files come out as
// "cgroup-file NAME:LINE" lines, read with vmCgroupFile.

// vmVzctl is the part of a VM's options every vzctl test needs: the vzctl
// binary TestMain built, and the Debian cache the other tests use,
// installed as debian-12-minimal where vzctl looks without a VZKIT_ROOT
// (the VM is a host of its own, so vzctl runs with its real paths).
func vmVzctl(t testing.TB) vmtest.Options {
	t.Helper()
	testenv.NeedRoot(t, "the VM's root is built by vzpkg, and TestMain builds vzctl only as root")
	if vzctlBin == "" {
		t.Fatal("TestMain did not build vzctl")
	}
	cacheDir := t.TempDir()
	installCache(t, rootfsCache(t), filepath.Join(cacheDir, "debian-12-minimal.tar.zst"))
	return vmtest.Options{Files: map[string]string{
		"/usr/local/bin/vzctl":          vzctlBin,
		"/var/lib/vzkit/template/cache": cacheDir,
	}}
}

// vmCgroupScript starts container 101 and prints what shows where it runs:
// the host's cgroup file system, the container's view of its cgroup, and
// every readable file of its cgroup on the host, then checks that stop
// removes that cgroup.
const vmCgroupScript = `set -e
# IOPRIO is a BFQ weight: give the disk the BFQ scheduler.
modprobe bfq
echo bfq >/sys/block/vda/queue/scheduler
echo "vda-scheduler: $(cat /sys/block/vda/queue/scheduler)"
vzctl create 101 --ostemplate debian-12-minimal >/dev/null
vzctl start 101
echo "host-cgroup-fs: $(stat -fc %T /sys/fs/cgroup)"
echo "host-v1-hierarchies: $(awk '$3 == "cgroup"' /proc/mounts | wc -l)"
echo "ct-self-cgroup: $(vzctl exec 101 cat /proc/self/cgroup | tr '\n' ';')"
echo "ct-cgroup-fs: $(vzctl exec 101 stat -fc %T /sys/fs/cgroup)"
pid=$(vzctl status 101 -o json | sed -n 's/.*"init_pid": *\([0-9][0-9]*\).*/\1/p')
cg=$(sed -n 's/^0:://p' /proc/$pid/cgroup)
echo "ct-init-cgroup: $cg"
dir=/sys/fs/cgroup$cg
# /dev/full (c 1:7) denied: opening it then fails with EPERM.
full() { vzctl exec 101 'dd if=/dev/full of=/dev/null bs=1 count=1' 2>&1 | head -n 1; }
echo "before-dev-full: $(full)"
set -- --ram 256M --swap 128M --numproc 100 --cpuunits 3000 --cpulimit 50 --cpumask 0 \
	--iolimit 10M --iopslimit 500 --ioprio 5 --devices c:1:7:none
vzctl set 101 "$@"
for f in memory.max memory.swap.max pids.max cpu.weight cpu.max cpuset.cpus io.max io.bfq.weight; do
	echo "live-$f: $(cat "$dir/$f" | tr '\n' ';' | sed 's/;$//')"
done
echo "live-dev-full: $(full)"
vzctl set 101 "$@" --save >/dev/null
vzctl restart 101 >/dev/null
pid=$(vzctl status 101 -o json | sed -n 's/.*"init_pid": *\([0-9][0-9]*\).*/\1/p')
cg=$(sed -n 's/^0:://p' /proc/$pid/cgroup)
dir=/sys/fs/cgroup$cg
echo "restarted-dev-full: $(full)"
# One "cgroup-file NAME:LINE" per line of each readable file, in two
# processes: a fork costs a good part of a second under TCG.
(cd "$dir" && grep -H '' -- * 2>/dev/null | sed 's/^/cgroup-file /')
vzctl stop 101
if [ -d "$dir" ]; then echo "cgroup-after-stop: left"; else echo "cgroup-after-stop: removed"; fi
# The overlay layout on Debian 12's kernel, which clones only attached
# layers.
vzctl create 103 --ostemplate debian-12-minimal --layout overlay >/dev/null
vzctl start 103 >/dev/null
echo "overlay-exec: $(vzctl exec 103 cat /etc/debian_version)"
vzctl stop 103 >/dev/null
vzctl destroy 103 >/dev/null
echo "overlay-leftovers: $(ls -A /var/lib/vzkit/root | tr '\n' ' ')"
`

// TestVMCgroupV2 shows that a container runs on a pure cgroup v2 host: it
// starts, lives in a cgroup v2 of its own with the memory, pids and cpu
// controllers enabled, sees only cgroup v2, and its cgroup goes with stop.
// The cgroup's limit files are logged; an assertion per `vzctl set`
// parameter reads one with vmCgroupFile.
func TestVMCgroupV2(t *testing.T) {
	out := vmtest.MustRun(t, vmCgroupScript, vmVzctl(t))

	if got := vmValue(t, out, "host-cgroup-fs"); got != "cgroup2fs" {
		t.Errorf("the VM's /sys/fs/cgroup is %q, want cgroup2fs", got)
	}
	if got := vmValue(t, out, "host-v1-hierarchies"); got != "0" {
		t.Errorf("the VM has %s cgroup v1 hierarchies mounted, want none", got)
	}
	// A cgroup namespace rooted at the container's cgroup, and v2 alone:
	// one "0::" line.
	if got := vmValue(t, out, "ct-self-cgroup"); got != "0::/;" {
		t.Errorf("/proc/self/cgroup in the container: %q, want the single line 0::/", got)
	}
	if got := vmValue(t, out, "ct-cgroup-fs"); got != "cgroup2fs" {
		t.Errorf("the container's /sys/fs/cgroup is %q, want cgroup2fs", got)
	}
	if cg := vmValue(t, out, "ct-init-cgroup"); !strings.HasSuffix(cg, "/vzkit-101") {
		t.Errorf("the container's init is in cgroup %q on the host, want one of container 101", cg)
	}
	ctrl := strings.Fields(vmCgroupFile(t, out, "cgroup.controllers"))
	for _, c := range []string{"memory", "pids", "cpu"} {
		if !slices.Contains(ctrl, c) {
			t.Errorf("controller %s is not enabled for the container's cgroup (cgroup.controllers: %v)", c, ctrl)
		}
	}
	// The v2 mapping of vzctl set, live and after --save and a restart.
	for f, want := range map[string]string{
		"memory.max": "268435456", "memory.swap.max": "134217728", "pids.max": "100",
		"cpu.weight": "300", "cpu.max": "50000 100000", "cpuset.cpus": "0",
	} {
		if got := vmValue(t, out, "live-"+f); got != want {
			t.Errorf("v2, set live: %s = %q, want %q", f, got, want)
		}
		if got := vmCgroupFile(t, out, f); got != want {
			t.Errorf("v2, saved and restarted: %s = %q, want %q", f, got, want)
		}
	}
	// I/O: io.max on the disk of the private area (vda, 254:0 or as the
	// VM numbers it), a BFQ weight of 200 for IOPRIO 5.
	if got := vmValue(t, out, "vda-scheduler"); !strings.Contains(got, "[bfq]") {
		t.Fatalf("the VM's disk does not use BFQ: %q", got)
	}
	for _, when := range []string{"live", "saved and restarted"} {
		io, weight := vmValue(t, out, "live-io.max"), vmValue(t, out, "live-io.bfq.weight")
		if when != "live" {
			io, weight = vmCgroupFile(t, out, "io.max"), vmCgroupFile(t, out, "io.bfq.weight")
		}
		if f := strings.Fields(io); len(f) != 5 || !strings.Contains(f[0], ":") ||
			!slices.Equal(f[1:], []string{"rbps=10485760", "wbps=10485760", "riops=500", "wiops=500"}) {
			t.Errorf("v2, %s: io.max = %q, want one device at 10 MiB/s and 500 IOPS each way", when, io)
		}
		if !strings.Contains(weight, "default 200") {
			t.Errorf("v2, %s: io.bfq.weight = %q, want default 200 (IOPRIO 5)", when, weight)
		}
	}
	// DEVICES: the BPF device program of v2 refuses /dev/full.
	if got := vmValue(t, out, "before-dev-full"); got != "1+0 records in" {
		t.Errorf("reading /dev/full before --devices: %q, want one byte read", got)
	}
	for _, k := range []string{"live-dev-full", "restarted-dev-full"} {
		if got := vmValue(t, out, k); !strings.Contains(got, "Operation not permitted") {
			t.Errorf("%s: reading /dev/full with c:1:7:none: %q, want EPERM", k, got)
		}
	}
	if got := vmValue(t, out, "overlay-exec"); !strings.HasPrefix(got, "12.") {
		t.Errorf("an overlay container on the VM's kernel: /etc/debian_version %q", got)
	}
	if got := vmValue(t, out, "overlay-leftovers"); strings.Contains(got, "layers") {
		t.Errorf("the overlay's layer mountpoints were left in VE_ROOT's directory: %s", got)
	}
	if got := vmValue(t, out, "cgroup-after-stop"); got != "removed" {
		t.Errorf("after vzctl stop the container's cgroup is %s", got)
	}
}

// vmExt4QuotaScript checks that the VM's kernel (Debian's) has ext4's
// quota formats and that a loop-mounted ext4 made with -O quota enforces
// a user's hard block limit, as the image layout's disk quota will need.
const vmExt4QuotaScript = `set -e
echo "kernel-config: $(grep -E '^CONFIG_(QUOTA|QFMT_V2)=' /boot/config-$(uname -r) | tr '\n' ' ')"
modprobe quota_v2
echo "quota_v2-loaded: $(awk '$1 == "quota_v2"' /proc/modules | wc -l)"
truncate -s 128M /var/tmp/q.img
mkfs.ext4 -q -O quota -E quotatype=usrquota:grpquota /var/tmp/q.img
mkdir -p /mnt/q
mount -o loop,usrquota,grpquota /var/tmp/q.img /mnt/q
setquota -u 1000 1024 2048 0 0 /mnt/q
mkdir /mnt/q/u
chown 1000:1000 /mnt/q/u
as1000() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
as1000 dd if=/dev/zero of=/mnt/q/u/small bs=1K count=512 status=none
echo "under-limit: written"
if as1000 dd if=/dev/zero of=/mnt/q/u/big bs=1M count=4 conv=fsync status=none 2>/tmp/dd.err; then
	echo "over-hard-limit: written"
else
	echo "over-hard-limit: $(tail -n 1 /tmp/dd.err)"
fi
sync
echo "repquota-1000: $(repquota -un /mnt/q | awk '$1 == "#1000"')"
umount /mnt/q
`

// TestVMExt4Quota: Debian's kernel can enforce ext4 user quotas on a loop
// image (mkfs.ext4 -O quota, mount -o usrquota, setquota, repquota).
func TestVMExt4Quota(t *testing.T) {
	out := vmtest.MustRun(t, vmExt4QuotaScript, vmtest.Options{})

	cfg := vmValue(t, out, "kernel-config")
	t.Logf("kernel: %s", cfg)
	if !strings.Contains(cfg, "CONFIG_QUOTA=y") || !(strings.Contains(cfg, "CONFIG_QFMT_V2=m") || strings.Contains(cfg, "CONFIG_QFMT_V2=y")) {
		t.Errorf("the kernel lacks quota support or the v2 quota format: %q", cfg)
	}
	if strings.Contains(cfg, "CONFIG_QFMT_V2=m") && vmValue(t, out, "quota_v2-loaded") != "1" {
		t.Errorf("modprobe quota_v2 left no quota_v2 in /proc/modules")
	}
	if got := vmValue(t, out, "under-limit"); got != "written" {
		t.Errorf("512 KiB under a 2 MiB hard limit: %s", got)
	}
	if got := vmValue(t, out, "over-hard-limit"); !strings.Contains(got, "Disk quota exceeded") {
		t.Errorf("4 MiB over a 2 MiB hard limit: %q, want dd to fail with EDQUOT", got)
	}
	// "#1000 +- USED SOFT HARD GRACE FILES ...": over the soft limit, at
	// most the hard one.
	f := strings.Fields(vmValue(t, out, "repquota-1000"))
	if len(f) < 5 {
		t.Fatalf("repquota has no line for uid 1000:\n%s", out)
	}
	used, _ := strconv.Atoi(f[2])
	if f[1][0] != '+' || f[3] != "1024" || f[4] != "2048" || used < 512 || used > 2048 {
		t.Errorf("repquota for uid 1000: %v, want over the 1024 KiB soft limit, at most the 2048 KiB hard one", f)
	}
}

// vmValue is VALUE of the script's "KEY: VALUE" line; the test fails when
// the script printed none.
func vmValue(t testing.TB, out, key string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("the VM's output has no %q line:\n%s", key, out)
	return ""
}

// vmCgroupFile is the content of file name in the container's cgroup, as
// vmCgroupScript printed it, its lines joined with ";" (memory.max: "max",
// cpu.max: "max 100000", memory.events: "low 0;high 0;..."). The test
// fails when the cgroup has no such readable file.
func vmCgroupFile(t *testing.T, out, name string) string {
	t.Helper()
	var lines []string
	found := false
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "cgroup-file "+name+":"); ok {
			lines, found = append(lines, v), true
		}
	}
	if !found {
		t.Fatalf("the container's cgroup has no readable %s:\n%s", name, out)
	}
	return strings.Join(lines, ";")
}

// vmUGIDQuotaScript makes an image container with QUOTAUGIDLIMIT in the
// VM (whose kernel has the quota formats this host lacks), tries
// setquota as the container's root, then sets a user's quota the way
// vzkit documents it: from the host, on VE_ROOT, for the container's uid
// 1000.
const vmUGIDQuotaScript = `set -e
mkdir -p /etc/vzkit/conf
printf 'VE_LAYOUT="image"\nDISKSPACE="400M:400M"\nQUOTAUGIDLIMIT="100"\n' >/etc/vzkit/conf/102.conf
vzctl create 102 --ostemplate debian-12-minimal >/dev/null
vzctl start 102
root=/var/lib/vzkit/root/102
echo "ve-root-mount: $(awk -v r=$root '$2 == r {print $3, $4}' /proc/mounts)"
vzctl exec 102 'mkdir /u && chown 1000:1000 /u'
# quotactl_fd(2) (443 on x86_64) as the container's root: Q_SETQUOTA for
# uid 1000, all limits valid; perl-base is in every Debian root.
vzctl exec 102 "perl -e 'open(my \$f, \"<\", \"/\") or die; my \$b = pack(\"QQQQQQQQI\", 1, 2, 0, 0, 0, 0, 0, 0, 15); print(syscall(443, fileno(\$f), 0x80000800, 1000, \$b) == 0 ? \"set\" : \"\$!\")'" >/tmp/inside.out 2>&1 || true
echo "inside-quotactl: $(tr '\n' ' ' </tmp/inside.out)"
# The image stores the container's own uids (VE_ROOT is an idmapped view
# of it): the host names the container's uid 1000 as 1000.
setquota -u 1000 1024 2048 0 0 "$root"
as1000='setpriv --reuid=1000 --regid=1000 --clear-groups'
vzctl exec 102 "$as1000 dd if=/dev/zero of=/u/small bs=1K count=512 status=none" && echo "under-limit: written"
if vzctl exec 102 "$as1000 dd if=/dev/zero of=/u/big bs=1M count=4 conv=fsync status=none" 2>/tmp/dd.err; then
	echo "over-hard-limit: written"
else
	echo "over-hard-limit: $(tail -n 1 /tmp/dd.err)"
fi
vzctl exec 102 "dd if=/dev/zero of=/root/rootfile bs=1M count=4 conv=fsync status=none" && echo "root-unlimited: written"
echo "repquota: $(repquota -un "$root" | awk -v u="#1000" '$1 == u')"
vzctl stop 102
`

// TestVMUGIDQuota: with QUOTAUGIDLIMIT an image container's ext4 carries
// user and group quotas; the host sets a limit for a user of the
// container, and a write past it fails inside with EDQUOT while root's
// does not. The container's own root cannot set it (the kernel's
// quotactl wants CAP_SYS_ADMIN over the initial user namespace): the
// test records what setquota says inside.
func TestVMUGIDQuota(t *testing.T) {
	out := vmtest.MustRun(t, vmUGIDQuotaScript, vmVzctl(t))

	if m := vmValue(t, out, "ve-root-mount"); !strings.HasPrefix(m, "ext4 ") || !strings.Contains(m, "usrquota") || !strings.Contains(m, "grpquota") {
		t.Errorf("VE_ROOT of an image container with QUOTAUGIDLIMIT is mounted %q, want ext4 with usrquota,grpquota", m)
	}
	// What the container's root gets from the kernel for its own quota.
	if got := vmValue(t, out, "inside-quotactl"); got != "Operation not permitted" {
		t.Errorf("quotactl_fd(Q_SETQUOTA) as the container's root: %q, want EPERM (the test's premise)", got)
	}
	if got := vmValue(t, out, "under-limit"); got != "written" {
		t.Errorf("512 KiB under a 2 MiB hard limit: %s", got)
	}
	if got := vmValue(t, out, "over-hard-limit"); !strings.Contains(got, "Disk quota exceeded") {
		t.Errorf("4 MiB over the user's 2 MiB hard limit: %q, want dd to fail with EDQUOT", got)
	}
	if got := vmValue(t, out, "root-unlimited"); got != "written" {
		t.Errorf("root's 4 MiB, without a quota of its own: %s", got)
	}
	f := strings.Fields(vmValue(t, out, "repquota"))
	if len(f) < 5 || f[3] != "1024" || f[4] != "2048" {
		t.Errorf("repquota on VE_ROOT for the container's uid 1000: %v, want soft 1024 and hard 2048", f)
	}
}
