package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/cache"
)

// These tests drive a built vzctl binary as an admin would, against a real
// Debian minbase root made by mmdebstrap from the host's apt sources.

var vzctlBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		if os.Geteuid() != 0 {
			// Each test skips with its own message.
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "vzctl-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		vzctlBin = filepath.Join(dir, "vzctl")
		// Linked as `make build` links it, so --version can be checked.
		build := exec.Command("go", "build", "-tags", "seccomp",
			"-ldflags", "-X main.linkedVersion="+testVersion, "-o", vzctlBin, ".")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build vzctl:", err)
			return 1
		}
		return m.Run()
	}())
}

// rootfsCache returns a zstd tarball of `mmdebstrap --variant=minbase
// bookworm`, built once per machine under os.TempDir (behind a lock) from
// the host's own apt sources, which mmdebstrap takes as MIRROR files.
func rootfsCache(t testing.TB) string {
	return mmdebstrapCache(t, "debian-bookworm-minbase")
}

// mmdebstrapCache builds (once per machine) the minbase bookworm tarball
// named name, with extra packages included.
func mmdebstrapCache(t testing.TB, name string, include ...string) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "vzkit-runtime-test")
	out := filepath.Join(dir, name+".tar.zst")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lk, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Close()
	if err := unix.Flock(int(lk.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); err == nil {
		return out
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		t.Skip("mmdebstrap is not installed (apt-get install mmdebstrap)")
	}
	sources, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	if b, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "deb ") {
				sources = append(sources, "/etc/apt/sources.list")
				break
			}
		}
	}
	if len(sources) == 0 {
		t.Skip("the host has no apt sources to build a Debian root from")
	}
	tmp := out + ".tmp.tar.zst"
	args := []string{"--variant=minbase"}
	if len(include) > 0 {
		args = append(args, "--include="+strings.Join(include, ","))
	}
	args = append(append(args, "bookworm", tmp), sources...)
	cmd := exec.Command("mmdebstrap", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		t.Fatalf("mmdebstrap %v: %v\n%s", args, err, stderr.String())
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// env is one VZKIT_ROOT with the Debian cache installed as "debian-12-minimal".
type env struct {
	t    *testing.T
	root string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: containers need namespaces, mounts and cgroups")
	}
	e := &env{t: t, root: testRoot(t)}
	installCache(t, rootfsCache(t), e.path("var/lib/vzkit/template/cache/debian-12-minimal.tar.zst"))
	t.Cleanup(e.cleanup)
	return e
}

// testRoot is a t.TempDir for VZKIT_ROOT that unprivileged containers'
// roots (host uids of their ranges) can walk through to reach STATEDIR, as
// they can on a host (/run is 0755).
func testRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// installCache puts the cache file src in place as dst (a hard link when it
// can) with a manifest beside it, as vzpkg build leaves a cache: vzctl
// create refuses a cache without one.
func installCache(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(src, dst); err != nil {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	m := &cache.Manifest{
		Name:    strings.TrimSuffix(filepath.Base(dst), ".tar.zst"),
		Archive: cache.Archive{Compression: "zstd", Size: n, SHA256: hex.EncodeToString(h.Sum(nil))},
	}
	if err := cache.WriteManifest(cache.ManifestPath(dst), m); err != nil {
		t.Fatal(err)
	}
}

// cleanup stops whatever a failed test left running and unmounts roots, so
// that TempDir removal works and no container outlives the test.
func (e *env) cleanup() {
	var list []struct{ CTID, Status string }
	out, _, _ := e.run("list", "-a", "-o", "json")
	json.Unmarshal([]byte(out), &list)
	for _, c := range list {
		if c.Status == "running" {
			e.run("stop", "--fast", c.CTID)
		}
		if c.Status != "stopped" {
			e.run("umount", c.CTID)
		}
	}
}

func (e *env) command(args ...string) *exec.Cmd {
	cmd := exec.Command(vzctlBin, args...)
	cmd.Env = append(os.Environ(), "VZKIT_ROOT="+e.root)
	return cmd
}

// run returns stdout, stderr and the exit code.
func (e *env) run(args ...string) (string, string, int) {
	cmd := e.command(args...)
	var o, s bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &s
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return o.String(), s.String(), ee.ExitCode()
	case err != nil:
		e.t.Fatalf("vzctl %v: %v", args, err)
	}
	return o.String(), s.String(), 0
}

// ok runs vzctl and fails the test unless it exits 0; it returns stdout.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	o, s, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("vzctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, o, s)
	}
	return o
}

// code runs vzctl and checks its exit code.
func (e *env) code(want int, args ...string) string {
	e.t.Helper()
	o, s, code := e.run(args...)
	if code != want {
		e.t.Fatalf("vzctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, o, s)
	}
	return s
}

func (e *env) path(p string) string { return filepath.Join(e.root, p) }

type listEntry struct {
	CTID     string   `json:"ctid"`
	Name     string   `json:"name"`
	Hostname string   `json:"hostname"`
	IP       []string `json:"ip"`
	Status   string   `json:"status"`
	NumProc  int      `json:"numproc"`
	Layout   string   `json:"layout"`
}

func (e *env) list(args ...string) []listEntry {
	e.t.Helper()
	var l []listEntry
	out := e.ok(append([]string{"list", "-o", "json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		e.t.Fatalf("list -o json: %v\n%s", err, out)
	}
	return l
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "101", "--ostemplate", "debian-12-minimal", "--hostname", "first.example.org",
		"--name", "web", "--ipadd", "10.9.0.2")
	if got := e.ok("status", "101"); got != "CTID 101 exist unmounted down\n" {
		t.Errorf("status after create: %q", got)
	}
	e.ok("start", "web") // the name works in place of the CTID
	if got := e.ok("status", "101"); got != "CTID 101 exist mounted running\n" {
		t.Errorf("status after start: %q", got)
	}
	if got := e.ok("exec", "101", "cat", "/etc/os-release"); !strings.Contains(got, `VERSION_CODENAME=bookworm`) {
		t.Errorf("os-release in the container: %q", got)
	}
	if got := e.ok("exec", "101", "hostname"); got != "first.example.org\n" {
		t.Errorf("hostname: %q", got)
	}
	// A single argument goes through sh -c; the exit status comes back.
	e.code(7, "exec", "101", "echo hi >/tmp/x; exit 7")
	if got := e.ok("exec2", "101", "cat /tmp/x"); got != "hi\n" {
		t.Errorf("exec2 via sh -c: %q", got)
	}

	l := e.list()
	if len(l) != 1 || l[0].CTID != "101" || l[0].Status != "running" || l[0].Hostname != "first.example.org" ||
		l[0].Name != "web" || len(l[0].IP) != 1 || l[0].IP[0] != "10.9.0.2" {
		t.Fatalf("list -o json: %+v", l)
	}
	pids := strings.Fields(e.ok("exec", "101", "ls -d /proc/[0-9]*"))
	// The container's init plus the ls itself (and its shell): NPROC of
	// list counts the init alone while nothing else runs.
	if l[0].NumProc != 1 || len(pids) > 3 {
		t.Errorf("numproc %d, processes seen inside %v", l[0].NumProc, pids)
	}

	e.ok("set", "101", "--hostname", "second.example.org", "--nameserver", "192.0.2.53", "--searchdomain", "example.org", "--save")
	if got := e.ok("exec", "101", "hostname; cat /etc/hostname; grep -c '^127.0.1.1.*second.example.org second' /etc/hosts; grep -E '^(search|nameserver)' /etc/resolv.conf"); got !=
		"second.example.org\nsecond.example.org\n1\nsearch example.org\nnameserver 192.0.2.53\n" {
		t.Errorf("live set: %q", got)
	}
	conf, _ := os.ReadFile(e.path("etc/vzkit/conf/101.conf"))
	if !strings.Contains(string(conf), `HOSTNAME="second.example.org"`) || !strings.Contains(string(conf), `NAMESERVER="192.0.2.53"`) {
		t.Errorf("set --save did not save:\n%s", conf)
	}
	// Without --save a running container changes, its config does not.
	e.ok("set", "101", "--hostname", "third")
	if got := e.ok("exec", "101", "hostname"); got != "third\n" {
		t.Errorf("live set without --save: %q", got)
	}

	e.code(32, "start", "101")
	e.code(32, "destroy", "101")
	e.ok("stop", "101")
	if got := e.ok("status", "101"); got != "CTID 101 exist unmounted down\n" {
		t.Errorf("status after stop: %q", got)
	}
	if l := e.list(); len(l) != 0 {
		t.Errorf("list without -a shows stopped containers: %+v", l)
	}
	if l := e.list("-a"); len(l) != 1 || l[0].Status != "stopped" || l[0].NumProc != 0 {
		t.Errorf("list -a: %+v", l)
	}
	e.code(31, "stop", "101")
	e.code(31, "exec", "101", "true")
	e.code(31, "set", "101", "--hostname", "x") // nothing to apply without --save

	e.ok("start", "101")
	if got := e.ok("exec", "101", "hostname"); got != "second.example.org\n" {
		t.Errorf("hostname after restart: %q", got)
	}
	e.ok("restart", "101")
	if got := e.ok("exec", "101", "cat /etc/hostname"); got != "second.example.org\n" {
		t.Errorf("hostname after restart: %q", got)
	}
	e.ok("stop", "--fast", "101")
	e.ok("destroy", "web")
	if got := e.ok("status", "101"); got != "CTID 101 deleted unmounted down\n" {
		t.Errorf("status after destroy: %q", got)
	}
	if _, err := os.Stat(e.path("etc/vzkit/conf/101.conf.destroyed")); err != nil {
		t.Errorf("no 101.conf.destroyed: %v", err)
	}
	if _, err := os.Stat(e.path("var/lib/vzkit/private/101")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("private area left: %v", err)
	}
	e.code(14, "start", "101")
	e.code(14, "start", "web")
}

func TestExitCodes(t *testing.T) {
	e := newEnv(t)
	e.code(91, "create", "101", "--ostemplate", "no-such-template")
	e.ok("create", "102", "--ostemplate", "debian-12-minimal")
	// OpenVZ's 20 (invalid syntax) and 21 (invalid value).
	for _, c := range []struct {
		code int
		args []string
		says string
	}{
		{21, []string{"create", "101", "--layout", "zfs", "--ostemplate", "debian-12-minimal"}, `layout "zfs"`},
		{21, []string{"create", "0", "--ostemplate", "debian-12-minimal"}, `CTID "0"`},
		{21, []string{"status", "101", "-o", "nonsense"}, `"nonsense"`},
		{21, []string{"set", "102", "--onboot", "maybe", "--save"}, "--onboot"},
		{20, []string{"start"}, "CTID"},
		{20, []string{"frobnicate", "101"}, `unknown command "frobnicate"`},
		{20, []string{"strat", "101"}, "did you mean start"},
		{20, []string{"start", "101", "--no-such-flag"}, "--no-such-flag"},
		{20, []string{"create"}, "arg"},
	} {
		if s := e.code(c.code, c.args...); !strings.Contains(s, c.says) {
			t.Errorf("vzctl %s: stderr %q does not say %q", strings.Join(c.args, " "), s, c.says)
		}
	}
}

func TestExitCodesForState(t *testing.T) {
	e := newEnv(t)
	e.code(14, "stop", "101")
	e.code(14, "destroy", "101")
	e.ok("create", "101", "--ostemplate", "debian-12-minimal")
	e.code(44, "create", "101", "--ostemplate", "debian-12-minimal")
	// Another operation holds the container's lock: exit 9.
	lk, err := os.OpenFile(e.path("var/lib/vzkit/lock/101.lck"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(lk.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	e.code(9, "start", "101")
	e.code(9, "destroy", "101")
	lk.Close()
	os.RemoveAll(e.path("var/lib/vzkit/private/101"))
	e.code(43, "start", "101")
}

func TestStatusJSONAndUsage(t *testing.T) {
	e := newEnv(t)
	var st struct {
		CTID                    string
		Exist, Mounted, Running bool
	}
	out := e.ok("status", "101", "-o", "json")
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.CTID != "101" || st.Exist || st.Running {
		t.Errorf("status -o json of a missing container: %q %v", out, err)
	}
	if help := e.ok("--help"); !strings.Contains(help, "44  the container's private area already exists") {
		t.Errorf("--help lacks the exit codes:\n%s", help)
	}
}

func TestIsolation(t *testing.T) {
	e := newEnv(t)
	// A mount made on the host must not be visible in the container.
	hostMnt := filepath.Join(t.TempDir(), "host-only")
	os.Mkdir(hostMnt, 0o755)
	if err := unix.Mount("vzkit-test", hostMnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(hostMnt, unix.MNT_DETACH)

	e.ok("create", "102", "--ostemplate", "debian-12-minimal", "--hostname", "isolated")
	e.ok("start", "102")
	// No /sbin/init in minbase: PID 1 is vzkit's minimal init.
	if got := e.ok("exec", "102", "tr '\\0' ' ' </proc/1/cmdline"); !strings.Contains(got, "/.vzkit/init __init") {
		t.Errorf("PID 1 of the container: %q", got)
	}
	pids := strings.Fields(e.ok("exec", "102", "cd /proc && echo [0-9]*"))
	hostPids, _ := filepath.Glob("/proc/[0-9]*")
	if len(pids) > 3 || len(hostPids) <= len(pids) || pids[0] != "1" {
		t.Errorf("container sees processes %v (host has %d)", pids, len(hostPids))
	}
	mounts := e.ok("exec", "102", "cat /proc/self/mountinfo")
	if strings.Contains(mounts, hostMnt) || strings.Contains(mounts, "vzkit-test") {
		t.Errorf("host mount visible in the container:\n%s", mounts)
	}
	e.code(1, "exec", "102", "test -e "+hostMnt)
	hostName, _ := os.Hostname()
	if got := e.ok("exec", "102", "hostname"); got != "isolated\n" || hostName == "isolated" {
		t.Errorf("hostname %q (host %q)", got, hostName)
	}
	// No vzctl or other host process stays behind for the container.
	out, _ := exec.Command("pgrep", "-f", vzctlBin).Output()
	if len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("vzctl processes left on the host: %s", out)
	}
	e.ok("stop", "102")
	// The minimal init ended on SIGTERM and took the container with it.
	if got := e.ok("status", "102"); got != "CTID 102 exist unmounted down\n" {
		t.Errorf("status after stop: %q", got)
	}
}

func TestKilledCreateLeavesNothing(t *testing.T) {
	e := newEnv(t)
	parent := e.path("var/lib/vzkit/private")
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := e.command("create", "103", "--ostemplate", "debian-12-minimal")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// Wait until the unpack has begun (its temporary directory is
			// there), then kill: mid-create by construction.
			killed := false
			for !killed {
				select {
				case err := <-done:
					t.Fatalf("create finished (%v) before it could be interrupted", err)
				default:
				}
				if m, _ := filepath.Glob(filepath.Join(parent, ".vzkit-create-103-*")); len(m) > 0 {
					cmd.Process.Signal(sig)
					killed = true
				}
			}
			if err := <-done; err == nil {
				t.Fatal("interrupted create exited 0")
			}
			if _, err := os.Stat(e.path("etc/vzkit/conf/103.conf")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("CTID.conf exists after an interrupted create")
			}
			if _, err := os.Stat(filepath.Join(parent, "103")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("private area exists after an interrupted create")
			}
			if got := e.ok("status", "103"); got != "CTID 103 deleted unmounted down\n" {
				t.Errorf("status: %q", got)
			}
			if l := e.list("-a"); len(l) != 0 {
				t.Errorf("list -a: %+v", l)
			}
			if sig == syscall.SIGINT {
				// A signal is handled: even the temporary directory is gone.
				if m, _ := filepath.Glob(filepath.Join(parent, ".vzkit-create-*")); len(m) > 0 {
					t.Errorf("SIGINT left %v", m)
				}
			}
			// The next create removes what a kill left and succeeds.
			e.ok("create", "103", "--ostemplate", "debian-12-minimal")
			if m, _ := filepath.Glob(filepath.Join(parent, ".vzkit-create-*")); len(m) > 0 {
				t.Errorf("debris after the next create: %v", m)
			}
			e.ok("destroy", "103")
		})
	}
}

// pty is the master side of a pseudo-terminal with its output collected.
type pty struct {
	master *os.File
	mu     sync.Mutex
	cond   *sync.Cond
	buf    bytes.Buffer
	eof    bool
}

func openPty(t *testing.T, rows, cols uint16) (*pty, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &pty{master: m}
	p.cond = sync.NewCond(&p.mu)
	p.resize(t, rows, cols)
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := m.Read(b)
			p.mu.Lock()
			p.buf.Write(b[:n])
			if err != nil {
				p.eof = true
			}
			p.cond.Broadcast()
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return p, s
}

func (p *pty) resize(t *testing.T, rows, cols uint16) {
	if err := unix.IoctlSetWinsize(int(p.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
}

// waitFor blocks until the output holds s (the test's own timeout bounds it).
func (p *pty) waitFor(t *testing.T, s string) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for !strings.Contains(p.buf.String(), s) {
		if p.eof {
			t.Fatalf("terminal closed before %q appeared; output:\n%s", s, p.buf.String())
		}
		p.cond.Wait()
	}
	return p.buf.String()
}

func TestEnterThroughPty(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "104", "--ostemplate", "debian-12-minimal")
	e.ok("start", "104")
	p, slave := openPty(t, 50, 132)
	cmd := e.command("enter", "104")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	// The typed line is echoed as typed; only the shell's output has "M42".
	p.master.WriteString("stty size; echo M$((6*7)); id -u\n")
	out := p.waitFor(t, "M42")
	if !strings.Contains(out, "50 132") {
		t.Errorf("initial window size not passed on:\n%s", out)
	}
	// A resize of the terminal reaches the shell (SIGWINCH to vzctl).
	p.resize(t, 40, 100)
	p.master.WriteString(`while [ "$(stty size)" != "40 100" ]; do sleep 0.05; done; echo RE""SIZED` + "\n")
	p.waitFor(t, "RESIZED")
	p.master.WriteString("exit 3\n")
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("enter exit: %v, want status 3", err)
	}
	p.master.Close()
	e.ok("stop", "104")
}

func TestSetRunscriptCloneOnboot(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "105", "--ostemplate", "debian-12-minimal", "--name", "src", "--ipadd", "10.9.0.5")
	// Passwords on a stopped container: applied to its files, not saved.
	e.ok("set", "105", "--userpasswd", "root:s3cret")
	e.ok("set", "105", "--onboot", "yes", "--save")
	e.ok("clone", "src", "106", "--name", "copy", "--hostname", "copy.example.org")
	c := e.list("-a", "-s", "-ctid")
	if len(c) != 2 || c[0].CTID != "106" || c[0].Name != "copy" || len(c[0].IP) != 0 || c[1].Name != "src" {
		t.Fatalf("after clone (sorted by -ctid): %+v", c)
	}
	e.ok("set", "106", "--onboot", "no", "--save")
	out := e.ok("start", "--all-onboot")
	if out != "Container 105 started\n" {
		t.Errorf("start --all-onboot: %q", out)
	}
	if got := e.ok("exec", "105", "grep -c '^root:\\$' /etc/shadow"); got != "1\n" {
		t.Errorf("root has no password hash: %q", got)
	}
	e.ok("set", "105", "--userpasswd", "alice:pw1")
	if got := e.ok("exec", "105", "id -u alice >/dev/null && grep -c '^alice:\\$' /etc/shadow"); got != "1\n" {
		t.Errorf("alice: %q", got)
	}
	if strings.Contains(string(must(os.ReadFile(e.path("etc/vzkit/conf/105.conf")))), "pw1") {
		t.Error("a password was saved to CTID.conf")
	}
	script := filepath.Join(t.TempDir(), "hello.sh")
	os.WriteFile(script, []byte("echo \"script in $(hostname) pid1=$(tr '\\0' ' ' </proc/1/cmdline | cut -c1-12)\"\nexit 5\n"), 0o644)
	cmd := e.command("runscript", "105", script)
	o, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 || !strings.HasPrefix(string(o), "script in ct105 pid1=/.vzkit/lib") {
		t.Errorf("runscript: %q %v", o, err)
	}
	if got := e.ok("exec", "105", "ls /tmp"); strings.Contains(got, "runscript") {
		t.Errorf("runscript left its copy: %q", got)
	}
	e.code(32, "clone", "105", "107")
	e.ok("stop", "105")
	e.ok("start", "106")
	if got := e.ok("exec", "106", "hostname; grep -c '^root:\\$' /etc/shadow"); got != "copy.example.org\n1\n" {
		t.Errorf("clone's files: %q", got)
	}
	e.ok("stop", "106")
}

func TestOverlayLayout(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "110", "--ostemplate", "debian-12-minimal", "--layout", "overlay")
	e.ok("create", "111", "--ostemplate", "debian-12-minimal", "--layout", "overlay")
	lowers, _ := filepath.Glob(e.path("var/lib/vzkit/template/overlay/*"))
	if len(lowers) != 1 {
		t.Fatalf("want one shared lower, got %v", lowers)
	}
	e.ok("start", "110")
	e.ok("exec", "110", "echo changed > /etc/motd")
	e.ok("stop", "110")
	if b, _ := os.ReadFile(e.path("var/lib/vzkit/private/110/upper/etc/motd")); string(b) != "changed\n" {
		t.Errorf("upper/etc/motd = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(lowers[0], "etc/motd")); string(b) == "changed\n" {
		t.Error("the shared lower was written")
	}
	e.ok("start", "111")
	if got := e.ok("exec", "111", "cat /etc/motd"); got == "changed\n" {
		t.Error("a change of 110 shows in 111")
	}
	e.ok("stop", "111")
	e.ok("mount", "110")
	if got := e.ok("status", "110"); got != "CTID 110 exist mounted down\n" {
		t.Errorf("status after mount: %q", got)
	}
	if b, _ := os.ReadFile(e.path("var/lib/vzkit/root/110/etc/motd")); string(b) != "changed\n" {
		t.Errorf("mounted root: %q", b)
	}
	e.ok("umount", "110")
	e.ok("destroy", "110")
	e.ok("destroy", "111")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRoutedNetwork(t *testing.T) {
	e := newEnv(t)
	hostIf := (&network{root: e.root}).config("120").HostIfName
	e.ok("create", "120", "--ostemplate", "debian-12-minimal", "--ipadd", "10.9.120.2")
	e.ok("start", "120")
	// Routed mode: the host side of the veth carries 169.254.0.1, the
	// container's default gateway. A connection from the container to a
	// listener there must come from the container's address.
	connectFrom := func(want string) {
		t.Helper()
		ln, err := net.Listen("tcp4", "169.254.0.1:0")
		if err != nil {
			t.Fatalf("listen on the routed gateway address: %v", err)
		}
		defer ln.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		done := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				done <- err.Error()
				return
			}
			defer c.Close()
			b := make([]byte, 64)
			n, _ := c.Read(b)
			done <- c.RemoteAddr().(*net.TCPAddr).IP.String() + " " + strings.TrimSpace(string(b[:n]))
		}()
		e.ok("exec", "120", fmt.Sprintf("bash -c 'echo hello >/dev/tcp/169.254.0.1/%d'", port))
		if got := <-done; got != want+" hello" {
			t.Errorf("connection from the container: %q, want from %s", got, want)
		}
	}
	if _, err := net.InterfaceByName(hostIf); err != nil {
		t.Errorf("host side %s of the running container: %v", hostIf, err)
	}
	// The state record says how it is attached, and follows a live set.
	attached := func(want string) {
		t.Helper()
		n := e.runState("120").Network
		if n == nil || n.Mode != "routed" || n.HostIf != hostIf || n.ContainerIf != "eth0" || fmt.Sprint(n.Addrs) != want {
			t.Errorf("network in the state record: %+v, want routed on %s with %s", n, hostIf, want)
		}
	}
	attached("[10.9.120.2/32]")
	connectFrom("10.9.120.2")
	e.ok("set", "120", "--ipadd", "10.9.120.3", "--ipdel", "10.9.120.2", "--save")
	if l := e.list(); len(l) != 1 || strings.Join(l[0].IP, " ") != "10.9.120.3" {
		t.Errorf("list after set --ipadd/--ipdel: %+v", l)
	}
	attached("[10.9.120.3/32]")
	connectFrom("10.9.120.3")
	e.ok("stop", "120")
	if _, err := net.InterfaceByName(hostIf); err == nil {
		t.Errorf("host side %s left after stop", hostIf)
	}
	if _, err := os.Lstat(e.path("run/vzkit/ct/120.state")); !os.IsNotExist(err) {
		t.Errorf("state record left after stop: %v", err)
	}
}

// testVersion is linked into the test binary as make build links its
// version.
const testVersion = "1.2.3-test"

// TestVersion: --version prints the program, the version linked in and the
// Go release, and exits 0.
func TestVersion(t *testing.T) {
	e := &env{t: t, root: t.TempDir()}
	out := e.ok("--version")
	if want := "vzctl " + testVersion + " (" + runtime.Version(); !strings.HasPrefix(out, want) {
		t.Fatalf("vzctl --version = %q, want it to start with %q", out, want)
	}
}
