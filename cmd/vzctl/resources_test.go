package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// cgroupValue reads a file of ctid's cgroup, from whichever hierarchy of
// dirs (running's) has it.
func (e *env) cgroupValue(dirs []string, file string) string {
	e.t.Helper()
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, file)); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	e.t.Fatalf("no %s in the cgroups %v", file, dirs)
	return ""
}

// limitOf is a "Max ..." line of /proc/PID/limits: soft and hard.
func limitOf(t *testing.T, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name) {
			return strings.Join(strings.Fields(strings.TrimPrefix(l, name))[:2], " ")
		}
	}
	t.Fatalf("no %q in /proc/%d/limits:\n%s", name, pid, b)
	return ""
}

// Each resource parameter, as an admin checks it: set live on a running
// container, read back where the kernel holds it, saved, and still held
// after a restart.
func TestResourceParamsLiveAndSaved(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "101", "--ostemplate", "debian-12-minimal")
	e.ok("start", "101")
	v2 := cgroups.IsCgroup2UnifiedMode()
	pick := func(v1, v2file string) string {
		if v2 {
			return v2file
		}
		return v1
	}
	dev, err := privateDevice(e.path("vz/private/101"))
	if err != nil {
		t.Fatal(err)
	}
	type check struct {
		name string
		read func(pid int, dirs []string) string
		want string
	}
	cg := func(file, want string) check {
		return check{file, func(_ int, dirs []string) string { return e.cgroupValue(dirs, file) }, want}
	}
	limit := func(name, want string) check {
		return check{name, func(pid int, _ []string) string { return limitOf(t, pid, name) }, want}
	}
	inside := func(path, want string) check {
		return check{path, func(int, []string) string { return strings.TrimSpace(e.ok("exec", "101", "cat", path)) }, want}
	}
	cases := []struct {
		args   []string
		checks []check
	}{
		{[]string{"--ram", "256M"}, []check{cg(pick("memory.limit_in_bytes", "memory.max"), "268435456")}},
		{[]string{"--swap", "128M"}, []check{pick2(v2, cg("memory.memsw.limit_in_bytes", "402653184"), cg("memory.swap.max", "134217728"))}},
		{[]string{"--physpages", "64M:256M"}, []check{cg(pick("memory.soft_limit_in_bytes", "memory.low"), "67108864")}},
		{[]string{"--numproc", "100"}, []check{cg("pids.max", "100")}},
		{[]string{"--cpuunits", "3000"}, []check{pick2(v2, cg("cpu.shares", "3072"), cg("cpu.weight", "300"))}},
		{[]string{"--cpulimit", "50"}, []check{pick2(v2, cg("cpu.cfs_quota_us", "50000"), cg("cpu.max", "50000 100000"))}},
		{[]string{"--cpus", "1", "--cpulimit", "150"}, []check{pick2(v2, cg("cpu.cfs_quota_us", "100000"), cg("cpu.max", "100000 100000"))}},
		{[]string{"--cpumask", "0"}, []check{cg(pick("cpuset.cpus", "cpuset.cpus"), "0")}},
		{[]string{"--iolimit", "10M"}, []check{pick2(v2,
			cg("blkio.throttle.write_bps_device", dev+" 10485760"),
			cg("io.max", dev+" rbps=10485760 wbps=10485760 riops=max wiops=max"))}},
		{[]string{"--iopslimit", "300"}, []check{pick2(v2,
			cg("blkio.throttle.read_iops_device", dev+" 300"),
			cg("io.max", dev+" rbps=10485760 wbps=10485760 riops=300 wiops=300"))}},
		{[]string{"--ioprio", "7"}, []check{cg(pick("blkio.bfq.weight", "io.bfq.weight"), pick("800", "default 800"))}},
		{[]string{"--numfile", "1000"}, []check{limit("Max open files", "1000 1000")}},
		{[]string{"--lockedpages", "256"}, []check{limit("Max locked memory", "1048576 1048576")}},
		{[]string{"--shmpages", "1024"}, []check{inside("/proc/sys/kernel/shmall", "1024"), inside("/proc/sys/kernel/shmmax", "4194304")}},
	}
	// A device denied, on both hierarchies (v1's devices.deny, v2's BPF
	// program), and one allowed, read back from v1's devices.list (v2
	// has no file to read it from).
	devices := struct {
		args   []string
		checks []check
	}{[]string{"--devices", "c:1:7:none c:10:200:rw"}, []check{{"/dev/full", func(int, []string) string {
		return strings.TrimSpace(e.ok("exec", "101", "dd if=/dev/full of=/dev/null bs=1 count=1 2>&1 | head -n 1"))
	}, "dd: failed to open '/dev/full': Operation not permitted"}}}
	if !v2 {
		devices.checks = append(devices.checks, check{"devices.list", func(_ int, dirs []string) string {
			l := e.cgroupValue(dirs, "devices.list")
			if strings.Contains(l, "c 10:200 rw") {
				return "c 10:200 rw"
			}
			return l
		}, "c 10:200 rw"})
	}
	cases = append(cases, devices)
	verify := func(when string, args []string, checks []check) {
		t.Helper()
		pid, dirs := e.running("101")
		for _, c := range checks {
			if got := c.read(pid, dirs); got != c.want {
				t.Errorf("%s set %s: %s = %q, want %q", when, strings.Join(args, " "), c.name, got, c.want)
			}
		}
	}
	for _, c := range cases {
		e.ok(append([]string{"set", "101"}, c.args...)...)
		verify("live", c.args, c.checks)
		e.ok(append([]string{"set", "101", "--save"}, c.args...)...)
	}
	e.ok("restart", "101")
	// What the last set of each file saved holds after the restart.
	last := map[string]int{}
	for i, c := range cases {
		for _, ch := range c.checks {
			last[ch.name] = i
		}
	}
	for i, c := range cases {
		var checks []check
		for _, ch := range c.checks {
			if last[ch.name] == i {
				checks = append(checks, ch)
			}
		}
		verify("after restart,", c.args, checks)
	}
	conf, err := os.ReadFile(e.path("etc/vzkit/conf/101.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if v := confValue(string(conf), "PHYSPAGES"); v != "16384:65536" {
		t.Errorf("saved PHYSPAGES=%q, want pages 16384:65536", v)
	}

	// Lifting limits live gives back the kernel's defaults.
	e.ok("set", "101", "--ram", "unlimited", "--swap", "unlimited", "--numproc", "unlimited", "--cpulimit", "0",
		"--cpus", "0", "--cpuunits", "1000", "--cpumask", "all", "--iolimit", "0", "--iopslimit", "0")
	_, dirs := e.running("101")
	for file, want := range map[string]string{
		pick("cpu.shares", "cpu.weight"):            pick("1024", "100"),
		pick("cpu.cfs_quota_us", "cpu.max"):         pick("-1", "max 100000"),
		"pids.max":                                  "max",
		pick("cpuset.cpus", "cpuset.cpus"):          fmt.Sprintf("0-%d", runtime.NumCPU()-1),
		pick("memory.limit_in_bytes", "memory.max"): pick("9223372036854771712", "max"),
	} {
		if runtime.NumCPU() == 1 && strings.HasPrefix(file, "cpuset") {
			want = "0"
		}
		if got := e.cgroupValue(dirs, file); got != want {
			t.Errorf("after lifting: %s = %q, want %q", file, got, want)
		}
	}
}

// pick2 is the check of the host's cgroup version.
func pick2[T any](v2 bool, a, b T) T {
	if v2 {
		return b
	}
	return a
}

// privateDevice is the "MAJ:MIN" of the whole disk under path, as the
// throttle files list it.
func privateDevice(path string) (string, error) {
	out, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	best, dev := -1, ""
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(path, f[4]) && len(f[4]) > best {
			best, dev = len(f[4]), f[2]
		}
	}
	if dev == "" {
		return "", fmt.Errorf("no mount holds %s", path)
	}
	// A partition's whole disk.
	if real, err := filepath.EvalSymlinks("/sys/dev/block/" + dev); err == nil {
		if _, err := os.Stat(real + "/partition"); err == nil {
			b, err := os.ReadFile(filepath.Dir(real) + "/dev")
			if err != nil {
				return "", err
			}
			dev = strings.TrimSpace(string(b))
		}
	}
	return dev, nil
}

// Values out of range are refused naming the parameter and what it takes,
// with OpenVZ's exit code for a bad value; nothing is saved.
func TestResourceValuesRefused(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "101", "--ostemplate", "debian-12-minimal")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--cpuunits", "5"}, []string{"CPUUNITS", "8..500000"}},
		{[]string{"--cpulimit", fmt.Sprint(100*runtime.NumCPU() + 1)}, []string{"CPULIMIT", fmt.Sprintf("0..%d", 100*runtime.NumCPU())}},
		{[]string{"--cpus", fmt.Sprint(runtime.NumCPU() + 1)}, []string{"CPUS", fmt.Sprintf("0..%d", runtime.NumCPU())}},
		{[]string{"--ioprio", "9"}, []string{"IOPRIO", "0..7"}},
		{[]string{"--ram", "lots"}, []string{"--ram", "PHYSPAGES", "K, M, G or T"}},
		{[]string{"--numproc", "10:5"}, []string{"NUMPROC", "barrier exceeds limit"}},
		{[]string{"--numproc", "10K"}, []string{"NUMPROC", "no K suffix"}},
		{[]string{"--cpumask", "3-1"}, []string{"CPUMASK", "range"}},
		{[]string{"--devices", "x:1:2:rw"}, []string{"DEVICES", "b|c:MAJOR:MINOR"}},
		{[]string{"--devnodes", "../etc/passwd:rw"}, []string{"DEVNODES", "under /dev"}},
	} {
		stderr := e.code(21, append([]string{"set", "101", "--save"}, c.args...)...)
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("set %v: error %q does not say %q", c.args, stderr, w)
			}
		}
	}
	conf, err := os.ReadFile(e.path("etc/vzkit/conf/101.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"CPUUNITS=\"5\"", "IOPRIO", "DEVNODES", "CPUMASK"} {
		if strings.Contains(string(conf), k) {
			t.Errorf("a refused value was saved: %s in\n%s", k, conf)
		}
	}
}

// A host whose /run is noexec (Debian's) still starts minimal-init
// containers: the init vzctl copies under STATEDIR must be executable.
func TestMinimalInitOnNoexecRun(t *testing.T) {
	e := newEnv(t)
	state := e.path("run/vzkit")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", e.path("run"), "tmpfs", unix.MS_NOEXEC|unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(e.path("run"), unix.MNT_DETACH) })
	e.ok("create", "101", "--ostemplate", "debian-12-minimal")
	e.ok("start", "101")
	if out := e.ok("exec", "101", "echo", "ok"); strings.TrimSpace(out) != "ok" {
		t.Errorf("exec in a container started under a noexec /run: %q", out)
	}
	e.ok("stop", "101")
}
