package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// These tests boot Debian roots whose /sbin/init is systemd or sysvinit
// through the built vzctl, as an admin would, and check that they come up,
// run services and shut down through their own init.

// initRootfsCache returns a zstd tarball of `mmdebstrap --variant=minbase
// --include=PKG,procps bookworm` (procps for ps), built once per machine.
func initRootfsCache(t *testing.T, pkg string) string {
	return mmdebstrapCache(t, "debian-bookworm-"+pkg, pkg, "procps")
}

// newInitEnv is a VZKIT_ROOT with the cache of pkg installed as template.
func newInitEnv(t *testing.T, pkg, template string) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: containers need namespaces, mounts and cgroups")
	}
	e := &env{t: t, root: testRoot(t)}
	installCache(t, initRootfsCache(t, pkg), e.path("var/lib/vzkit/template/cache/"+template+".tar.zst"))
	t.Cleanup(e.cleanup)
	return e
}

// running checks that ctid runs and returns its init's host PID and the
// host cgroup directories it lives in.
func (e *env) running(ctid string) (pid int, cgroupDirs []string) {
	e.t.Helper()
	var st struct {
		Running bool `json:"running"`
		InitPID int  `json:"init_pid"`
	}
	out := e.ok("status", ctid, "-o", "json")
	if err := json.Unmarshal([]byte(out), &st); err != nil || !st.Running || st.InitPID <= 0 {
		e.t.Fatalf("status -o json: %q %v", out, err)
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(st.InitPID), "cgroup"))
	if err != nil {
		e.t.Fatal(err)
	}
	// "4:memory:/vzkit/..." on v1, "0::/vzkit/..." on v2 (hybrid: both).
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(l, ":", 3)
		// The container's own cgroup, not the init.scope below it where
		// systemd moves itself.
		name := "vzkit-" + ctid
		i := strings.Index(f[len(f)-1]+"/", name+"/")
		if len(f) != 3 || i < 0 {
			continue
		}
		f[2] = f[2][:i+len(name)]
		var mnt string
		switch {
		case f[1] == "" && isDir("/sys/fs/cgroup/unified"):
			mnt = "/sys/fs/cgroup/unified"
		case f[1] == "":
			mnt = "/sys/fs/cgroup"
		default:
			name := strings.TrimPrefix(f[1], "name=")
			if strings.Contains(name, ",") || !isDir("/sys/fs/cgroup/"+name) {
				continue
			}
			mnt = "/sys/fs/cgroup/" + name
		}
		d := filepath.Join(mnt, f[2])
		if !isDir(d) {
			e.t.Fatalf("cgroup %s of %s's init %d is no directory", d, ctid, st.InitPID)
		}
		cgroupDirs = append(cgroupDirs, d)
	}
	if len(cgroupDirs) == 0 {
		e.t.Fatalf("init %d of %s is in no vzkit cgroup:\n%s", st.InitPID, ctid, b)
	}
	return st.InitPID, cgroupDirs
}

func isDir(p string) bool { fi, err := os.Stat(p); return err == nil && fi.IsDir() }

// stopClean stops ctid and checks that its init shut down by itself (vzctl
// warns "timed out, killing" otherwise) and left no process or cgroup.
func (e *env) stopClean(ctid string, pid int, cgroupDirs []string) {
	e.t.Helper()
	out, stderr, code := e.run("stop", ctid)
	if code != 0 || out != "Container "+ctid+" stopped\n" {
		e.t.Fatalf("stop %s: exit %d\nstdout: %s\nstderr: %s", ctid, code, out, stderr)
	}
	if strings.Contains(stderr, "timed out") || strings.Contains(stderr, "killing") {
		e.t.Errorf("stop %s was not clean, the init had to be killed:\n%s", ctid, stderr)
	}
	if got := e.ok("status", ctid); got != "CTID "+ctid+" exist unmounted down\n" {
		e.t.Errorf("status after stop: %q", got)
	}
	// Gone, or a zombie that the host's init has yet to reap.
	if b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); err == nil {
		if _, after, _ := strings.Cut(string(b), ") "); !strings.HasPrefix(after, "Z") {
			e.t.Errorf("init %d of %s still runs on the host: %s", pid, ctid, b)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		e.t.Error(err)
	}
	for _, d := range cgroupDirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			e.t.Errorf("cgroup %s left behind: %v", d, err)
		}
	}
}

func TestSystemdContainer(t *testing.T) {
	e := newInitEnv(t, "systemd-sysv", "debian-12-systemd")
	e.ok("create", "201", "--ostemplate", "debian-12-systemd")
	out, stderr, code := e.run("start", "201")
	if code != 0 || out != "Container 201 started\n" {
		t.Fatalf("start: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	if got := e.ok("exec", "201", "ps", "-p", "1", "-o", "comm="); got != "systemd\n" {
		t.Fatalf("PID 1 is %q, want systemd", got)
	}
	// start waited for the boot to finish: no "starting" or "initializing".
	state, _, _ := e.run("exec", "201", "systemctl", "is-system-running")
	if state != "running\n" && state != "degraded\n" {
		failed, _, _ := e.run("exec", "201", "systemctl", "--failed", "--no-pager")
		t.Errorf("systemctl is-system-running: %q\n%s", state, failed)
	}
	if got, _, _ := e.run("exec", "201", "systemctl", "is-active", "systemd-journald"); got != "active\n" {
		t.Errorf("systemd-journald: %q", got)
	}
	// systemd manages its own cgroups: PID 1 sits in init.scope.
	if got := e.ok("exec", "201", "cat", "/proc/1/cgroup"); !strings.Contains(got, ":/init.scope\n") {
		t.Errorf("systemd did not move itself into init.scope:\n%s", got)
	}
	// A service whose ExecStop leaves a mark: a clean halt runs it.
	unit := "[Unit]\nDescription=vzkit stop mark\n[Service]\nType=oneshot\nRemainAfterExit=yes\n" +
		"ExecStart=/bin/rm -f /var/lib/vzkit-mark\nExecStop=/bin/sh -c 'echo stopped >/var/lib/vzkit-mark'\n" +
		"[Install]\nWantedBy=multi-user.target\n"
	e.ok("exec", "201", "cat >/etc/systemd/system/vzkit-mark.service <<'EOF'\n"+unit+"EOF\n"+
		"systemctl daemon-reload && systemctl enable --now vzkit-mark.service")
	if got, _, _ := e.run("exec", "201", "systemctl", "is-active", "vzkit-mark"); got != "active\n" {
		t.Errorf("vzkit-mark.service: %q", got)
	}
	pid, cgs := e.running("201")
	e.stopClean("201", pid, cgs)
	if b, err := os.ReadFile(e.path("var/lib/vzkit/private/201/var/lib/vzkit-mark")); string(b) != "stopped\n" {
		t.Errorf("ExecStop of vzkit-mark.service did not run at stop: %q %v", b, err)
	}

	// Booted again, the enabled service starts (and removes its mark).
	e.ok("start", "201")
	if got, _, _ := e.run("exec", "201", "systemctl", "is-active", "vzkit-mark"); got != "active\n" {
		t.Errorf("vzkit-mark.service after restart: %q", got)
	}
	e.code(1, "exec", "201", "test", "-e", "/var/lib/vzkit-mark")
	pid, cgs = e.running("201")
	e.stopClean("201", pid, cgs)
	e.ok("destroy", "201")
	if got := e.ok("status", "201"); got != "CTID 201 deleted unmounted down\n" {
		t.Errorf("status after destroy: %q", got)
	}
}

func TestSysVinitContainer(t *testing.T) {
	e := newInitEnv(t, "sysvinit-core", "debian-12-sysvinit")
	e.ok("create", "202", "--ostemplate", "debian-12-sysvinit")
	e.ok("start", "202")
	if got := e.ok("exec", "202", "ps", "-p", "1", "-o", "comm="); got != "init\n" {
		t.Fatalf("PID 1 is %q, want init", got)
	}
	// start waited until init left its boot scripts for runlevel 2.
	if got := e.ok("exec", "202", "runlevel"); got != "N 2\n" {
		t.Errorf("runlevel: %q", got)
	}
	// An LSB service: started by rc 2, queried with service(8), and its
	// stop action leaves a mark when rc 0 runs at a clean shutdown. It
	// needs $remote_fs, as real services declare, to be stopped before
	// sendsigs kills what is left.
	script := `#!/bin/sh
### BEGIN INIT INFO
# Provides:          vzkit-mark
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: vzkit stop mark
### END INIT INFO
case "$1" in
start) rm -f /var/lib/vzkit-mark; touch /run/vzkit-mark ;;
stop) rm -f /run/vzkit-mark; echo stopped >/var/lib/vzkit-mark ;;
status) test -e /run/vzkit-mark ;;
esac
`
	e.ok("exec", "202", "cat >/etc/init.d/vzkit-mark <<'EOF'\n"+script+"EOF\n"+
		"chmod 755 /etc/init.d/vzkit-mark && update-rc.d vzkit-mark defaults && service vzkit-mark start")
	e.ok("exec", "202", "service", "vzkit-mark", "status")
	pid, cgs := e.running("202")
	e.stopClean("202", pid, cgs)
	if b, err := os.ReadFile(e.path("var/lib/vzkit/private/202/var/lib/vzkit-mark")); string(b) != "stopped\n" {
		t.Errorf("rc 0 did not run the service's stop action: %q %v", b, err)
	}

	// Booted again, rc 2 starts the service: a fresh /run, a new mark.
	e.ok("start", "202")
	e.ok("exec", "202", "service", "vzkit-mark", "status")
	e.code(1, "exec", "202", "test", "-e", "/var/lib/vzkit-mark")
	pid, cgs = e.running("202")
	e.stopClean("202", pid, cgs)
	e.ok("destroy", "202")
	if got := e.ok("status", "202"); got != "CTID 202 deleted unmounted down\n" {
		t.Errorf("status after destroy: %q", got)
	}
}
