package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"
)

// The isolation suite: inside containers of every init kind, unprivileged
// (the default) and privileged, a probe run as the container's root tries
// what a hostile customer would (testdata/isoprobe) and every attempt must
// fail; its capability set must be exactly what the configuration grants.

var (
	probeOnce sync.Once
	probeBin  string
	probeErr  error
)

// isoProbe builds the probe, statically linked, once per test binary.
func isoProbe(t *testing.T) string {
	t.Helper()
	probeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vzkit-isoprobe-")
		if err != nil {
			probeErr = err
			return
		}
		probeBin = filepath.Join(dir, "isoprobe")
		cmd := exec.Command("go", "build", "-o", probeBin, "./testdata/isoprobe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			probeErr = fmt.Errorf("build isoprobe: %v\n%s", err, out)
		}
	})
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	return probeBin
}

// mustFail are the probe's attempts that are a way out of the container,
// or into the host or another container, when they succeed.
var mustFail = []string{
	"signal host process", "ptrace host process", "see host path",
	"load kernel module", "init_module",
	"read host disk", "mount host disk",
	"write core_pattern", "write kernel sysctl", "core_pattern through a new proc",
	"write core_pattern without the cover", "write /sys", "write /sys after remount",
	"new user namespace", "open_by_handle_at",
}

// Capability sets by profile (runtime/security.go), as the admin would
// check them against `vzctl create --help`.
var (
	defaultCaps = []string{"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
		"SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}
	sysvCaps    = append(append([]string{}, defaultCaps...), "SYS_BOOT", "NET_ADMIN")
	systemdCaps = append(append([]string{}, sysvCaps...), "SYS_NICE")
)

func capMask(t *testing.T, names []string) string {
	t.Helper()
	var m uint64
	for _, n := range names {
		found := false
		for _, c := range capability.ListKnown() {
			if strings.EqualFold(c.String(), n) {
				m |= 1 << uint(c)
				found = true
			}
		}
		if !found {
			t.Fatalf("unknown capability %s", n)
		}
	}
	return fmt.Sprintf("%016x", m)
}

// hostDisk is "major:minor" of the block device holding the host's /.
func hostDisk(t *testing.T) string {
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
}

type probeResult struct {
	Attempts map[string]string `json:"attempts"`
	CapEff   string            `json:"cap_eff"`
	CapBnd   string            `json:"cap_bnd"`
	UIDMap   string            `json:"uid_map"`
	Procs    int               `json:"procs"`
}

func TestIsolationSuite(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: containers need namespaces, mounts and cgroups")
	}
	probe := isoProbe(t)
	for _, img := range []struct {
		init, pkg string
		caps      []string
	}{
		{"minimal", "", defaultCaps},
		{"sysvinit", "sysvinit-core", sysvCaps},
		{"systemd", "systemd-sysv", systemdCaps},
	} {
		for _, privileged := range []bool{false, true} {
			mode := "unprivileged"
			if privileged {
				mode = "privileged"
			}
			t.Run(img.init+"/"+mode, func(t *testing.T) {
				var e *env
				template := "debian-12-" + img.init
				if img.pkg == "" {
					e = newEnv(t)
					template = "debian-12-minimal"
				} else {
					e = newInitEnv(t, img.pkg, template)
				}
				// A neighbour with a secret, whose files must stay out of reach.
				e.ok("create", "501", "--ostemplate", template)
				secret := e.path("var/lib/vzkit/private/501/root/secret")
				if err := os.WriteFile(secret, []byte("neighbour's\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				args := []string{"create", "500", "--ostemplate", template}
				if privileged {
					args = append(args, "--privileged")
				}
				e.ok(args...)
				dst := e.path("var/lib/vzkit/private/500/usr/local/bin/isoprobe")
				copyFile(t, probe, dst, 0o755)
				e.ok("start", "500")
				e.ok("start", "501")
				env := fmt.Sprintf("HOST_PID=%d HOST_PATH=%s DISK=%s", os.Getpid(), secret, hostDisk(t))
				out := e.ok("exec", "500", env+" /usr/local/bin/isoprobe")
				var r probeResult
				if err := json.Unmarshal([]byte(out), &r); err != nil {
					t.Fatalf("probe output %q: %v", out, err)
				}
				for _, a := range mustFail {
					got, ok := r.Attempts[a]
					if !ok {
						t.Errorf("probe did not try %q", a)
					} else if got == "" {
						t.Errorf("%s: succeeded inside the container", a)
					} else if strings.Contains(got, "no such file") && a != "see host path" {
						t.Errorf("%s: the probe's target is missing on this host (%s): it proves nothing", a, got)
					}
				}
				want := append([]string{}, img.caps...)
				if !privileged && img.init == "systemd" {
					want = append(want, "SYS_ADMIN") // inside its own user namespace only
				}
				if r.CapEff != capMask(t, want) || r.CapBnd != r.CapEff {
					t.Errorf("capabilities: effective %s, bounding %s; want %s (%s)", r.CapEff, r.CapBnd, capMask(t, want), strings.Join(want, " "))
				}
				conf := readFile(t, e.path("etc/vzkit/conf/500.conf"))
				switch {
				case privileged:
					if r.UIDMap != "0 0 4294967295" {
						t.Errorf("privileged container's uid_map %q, want the host's", r.UIDMap)
					}
				default:
					uid := confValue(conf, "LOCAL_UID")
					if n, err := strconv.Atoi(uid); err != nil || n < 100000 || r.UIDMap != "0 "+uid+" 65536" {
						t.Errorf("unprivileged container's uid_map %q, LOCAL_UID %q", r.UIDMap, uid)
					}
				}
				if hostProcs, _ := filepath.Glob("/proc/[0-9]*"); r.Procs >= len(hostProcs) || r.Procs > 40 {
					t.Errorf("the container sees %d processes (host %d)", r.Procs, len(hostProcs))
				}
				if b, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); strings.Contains(string(b), "pwned") {
					t.Errorf("host core_pattern changed: %q", b)
				}
				e.ok("stop", "500")
				e.ok("stop", "501")
			})
		}
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// confValue is KEY's value in CTID.conf text.
func confValue(conf, key string) string {
	for _, l := range strings.Split(conf, "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// TestConsoleLogBounded: whatever a container writes to its console, the
// log on the host (STATEDIR is /run, memory) stays within its bound, and
// vzctl rotates it.
func TestConsoleLogBounded(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "510", "--ostemplate", "debian-12-minimal")
	e.ok("start", "510")
	// The init's stdout is the console log; the container's root can
	// write to it through /proc/1/fd/1.
	_, stderr, code := e.run("exec", "510", "dd if=/dev/zero of=/proc/1/fd/1 bs=64k count=320 status=none")
	if code == 0 {
		t.Errorf("20 MiB written to the console log without an error")
	} else if !strings.Contains(stderr, "No space left") {
		t.Errorf("the write stopped with %q, want no space left", stderr)
	}
	log := e.path("run/vzkit/ct/510/console.log")
	fi, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 3<<20 {
		t.Errorf("console log holds %d bytes, over its 3 MiB bound", fi.Size())
	}
	e.ok("status", "510")
	if fi, err := os.Stat(log); err != nil || fi.Size() != 0 {
		t.Errorf("console log after status: %v %v, want rotated to empty", fi, err)
	}
	if fi, err := os.Stat(log + ".1"); err != nil || fi.Size() != 1<<20 {
		t.Errorf("rotated log: %v %v, want the newest 1 MiB", fi, err)
	}
	e.ok("exec", "510", "echo after rotation >/proc/1/fd/1")
	if b, _ := os.ReadFile(log); string(b) != "after rotation\n" {
		t.Errorf("console log after rotation: %q", b)
	}
	e.ok("stop", "510")
	if _, err := os.Stat(filepath.Dir(log)); !os.IsNotExist(err) {
		t.Errorf("console log directory left after stop: %v", err)
	}
}

// TestPrivilegesFromConfiguration: a container that makes its /sbin/init
// look like systemd gets nothing for it: its init kind and capabilities
// are what its CTID.conf recorded at create.
func TestPrivilegesFromConfiguration(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "511", "--ostemplate", "debian-12-minimal")
	conf := e.path("etc/vzkit/conf/511.conf")
	if got := confValue(readFile(t, conf), "INIT_KIND"); got != "minimal" {
		t.Fatalf("INIT_KIND = %q after create from a cache without /sbin/init", got)
	}
	e.ok("start", "511")
	before := e.ok("exec", "511", "grep ^CapBnd: /proc/self/status")
	e.ok("exec", "511", "mkdir -p /usr/lib/systemd && cp /bin/sh /usr/lib/systemd/systemd && ln -sf /usr/lib/systemd/systemd /sbin/init")
	e.ok("stop", "511")
	e.ok("start", "511")
	if got := e.ok("exec", "511", "tr '\\0' ' ' </proc/1/cmdline"); !strings.Contains(got, "/.vzkit/init __init") {
		t.Errorf("PID 1 after the image changed its /sbin/init: %q, want vzkit's minimal init", got)
	}
	if after := e.ok("exec", "511", "grep ^CapBnd: /proc/self/status"); after != before {
		t.Errorf("capabilities changed with the image's /sbin/init: %q, then %q", before, after)
	}
	if got := confValue(readFile(t, conf), "INIT_KIND"); got != "minimal" {
		t.Errorf("INIT_KIND = %q after the image changed its /sbin/init", got)
	}
	e.ok("stop", "511")
	// The admin decides: --init is configuration too.
	e.ok("set", "511", "--init", "sysvinit", "--save")
	if got := confValue(readFile(t, conf), "INIT_KIND"); got != "sysvinit" {
		t.Errorf("INIT_KIND = %q after set --init sysvinit", got)
	}
}

// TestUnwalkableStateDirExplained: when a directory above STATEDIR stops
// unprivileged containers' roots (a VZKIT_ROOT under a 0700 directory),
// start says which one and what to do, instead of runc's bare EACCES.
func TestUnwalkableStateDirExplained(t *testing.T) {
	e := newEnv(t)
	closed := filepath.Dir(e.root)
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(closed, 0o711)
	e.ok("create", "512", "--ostemplate", "debian-12-minimal")
	msg := e.code(1, "start", "512")
	if !strings.Contains(msg, closed+" (mode 0700)") || !strings.Contains(msg, "chmod o+x") {
		t.Errorf("start under a closed directory:\n%s", msg)
	}
	e.lockFree("512")
	if got := e.ok("status", "512"); got != "CTID 512 exist unmounted down\n" {
		t.Errorf("status after the refused start: %q", got)
	}
}

// TestFailedStartKeepsConsole: an init that dies while booting fails the
// start, and what it wrote to its console is kept for the admin, outside
// the gate that the failed start removed.
func TestFailedStartKeepsConsole(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "513", "--ostemplate", "debian-12-minimal")
	init := e.path("var/lib/vzkit/private/513/usr/sbin/init")
	if err := os.WriteFile(init, []byte("#!/bin/sh\necho init gives up >/dev/console\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.ok("set", "513", "--init", "sysvinit", "--save")
	msg := e.code(1, "start", "513")
	kept := e.path("run/vzkit/ct/513.log")
	if !strings.Contains(msg, "init exited while booting") || !strings.Contains(msg, kept) {
		t.Errorf("failed start: %s", msg)
	}
	if b, err := os.ReadFile(kept); err != nil || !strings.Contains(string(b), "init gives up") {
		t.Errorf("kept console %s: %q %v", kept, b, err)
	}
	if _, err := os.Stat(e.path("run/vzkit/ct/513")); !os.IsNotExist(err) {
		t.Errorf("the failed start left its gate: %v", err)
	}
	e.lockFree("513")
	e.ok("destroy", "513")
	if _, err := os.Stat(kept); !os.IsNotExist(err) {
		t.Errorf("destroy left the kept console: %v", err)
	}
}
