package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/testenv"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

func TestExitStatus(t *testing.T) {
	cfg := testConfig(t)
	if status, _, _ := sh(t, cfg, "exit 3"); status != 3 {
		t.Errorf("exit 3: status %d", status)
	}
	if status, _, _ := sh(t, cfg, "true"); status != 0 {
		t.Errorf("true: status %d", status)
	}
	// The state directory is gone after Run.
	if _, err := Load(cfg.StateDir, cfg.ID); !errors.Is(err, ErrNotExist) {
		t.Errorf("Load after Run: %v, want ErrNotExist", err)
	}
}

// readyWriter calls ready the first time "ready" is written to it.
type readyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	once  sync.Once
	ready func()
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), "ready") {
		w.once.Do(w.ready)
	}
	return len(p), nil
}

func TestRunKilledByContext(t *testing.T) {
	cfg := testConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &readyWriter{ready: cancel}
	status, err := Run(ctx, cfg, Process{
		Args:   []string{"/bin/sh", "-c", "echo ready; exec sleep 100000"},
		Stdout: out,
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run error %v, want context.Canceled", err)
	}
	if status != 128+9 {
		t.Errorf("status %d, want %d (SIGKILL)", status, 128+9)
	}
}

func TestStdio(t *testing.T) {
	cfg := testConfig(t)
	var out, errb bytes.Buffer
	status, err := Run(context.Background(), cfg, Process{
		Args:  []string{"/bin/sh", "-c", "tr a-z A-Z; echo to-stderr >&2"},
		Stdin: strings.NewReader("hello sandbox\n"), Stdout: &out, Stderr: &errb,
	})
	if err != nil || status != 0 {
		t.Fatalf("Run: status %d, %v", status, err)
	}
	if out.String() != "HELLO SANDBOX\n" {
		t.Errorf("stdout %q", out.String())
	}
	if errb.String() != "to-stderr\n" {
		t.Errorf("stderr %q", errb.String())
	}
}

func TestEnvCwdUser(t *testing.T) {
	cfg := testConfig(t)
	var out bytes.Buffer
	status, err := Run(context.Background(), cfg, Process{
		Args: []string{"/bin/sh", "-c", `echo "$FOO $(pwd) $(id -u):$(id -g)"`},
		Env:  []string{"PATH=/bin", "FOO=bar"}, Cwd: "/tmp", UID: 1000, GID: 1001,
		Stdout: &out,
	})
	if err != nil || status != 0 {
		t.Fatalf("Run: status %d, %v", status, err)
	}
	if got := strings.TrimSpace(out.String()); got != "bar /tmp 1000:1001" {
		t.Errorf("got %q, want %q", got, "bar /tmp 1000:1001")
	}
}

func TestPIDNamespace(t *testing.T) {
	cfg := testConfig(t)
	out := mustSh(t, cfg, `echo $$; cat /proc/1/comm; for d in /proc/[0-9]*; do echo "${d#/proc/}"; done`)
	lines := strings.Fields(out)
	if len(lines) < 3 || lines[0] != "1" || lines[1] != "sh" {
		t.Fatalf("init is not PID 1 sh: %q", out)
	}
	// Only the shell itself (the for loop runs in it, no fork) is visible.
	if pids := lines[2:]; !slices.Equal(pids, []string{"1"}) {
		t.Errorf("visible processes %v, want only [1]", pids)
	}
}

func TestHostMountsInvisible(t *testing.T) {
	cfg := testConfig(t)
	hostOnly := t.TempDir()
	if err := unix.Mount("tmpfs", hostOnly, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs on host: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(hostOnly, unix.MNT_DETACH) })
	out := mustSh(t, cfg, "cat /proc/self/mountinfo")
	if strings.Contains(out, hostOnly) {
		t.Errorf("host mount %s visible in sandbox:\n%s", hostOnly, out)
	}
}

func TestHostname(t *testing.T) {
	cfg := testConfig(t)
	cfg.Hostname = "box101"
	if got := strings.TrimSpace(mustSh(t, cfg, "hostname")); got != "box101" {
		t.Errorf("hostname %q, want box101", got)
	}
	host, _ := os.Hostname()
	if host == "box101" {
		t.Errorf("host's hostname changed to %q", host)
	}
	cfg.Hostname = ""
	if got := strings.TrimSpace(mustSh(t, cfg, "hostname")); got != cfg.ID {
		t.Errorf("default hostname %q, want the ID %q", got, cfg.ID)
	}
}

func TestNetworkNone(t *testing.T) {
	cfg := testConfig(t)
	out := mustSh(t, cfg, "ls /sys/class/net; cat /sys/class/net/lo/flags")
	f := strings.Fields(out)
	if len(f) != 2 || f[0] != "lo" {
		t.Fatalf("interfaces+flags %q, want only lo", out)
	}
	flags, err := strconv.ParseUint(f[1], 0, 32)
	if err != nil || flags&unix.IFF_UP == 0 {
		t.Errorf("lo flags %q: not up", f[1])
	}
}

func TestNetworkHost(t *testing.T) {
	cfg := testConfig(t)
	cfg.Network = Network{Mode: NetHost}
	// The namespace's identity, not its interface list, which other tests
	// on this host may be changing right now.
	host, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(mustSh(t, cfg, "readlink /proc/self/ns/net")); got != host {
		t.Errorf("network namespace %s, want the host's %s", got, host)
	}
	if got := strings.TrimSpace(mustSh(t, cfg, "test -e /sys/class/net/lo && echo ok")); got != "ok" {
		t.Errorf("/sys/class/net in host network mode: %q", got)
	}
	cfg.Network = Network{}
	if got := strings.TrimSpace(mustSh(t, cfg, "readlink /proc/self/ns/net")); got == host {
		t.Errorf("NetNone shares the host's network namespace %s", got)
	}
}

func TestNetworkNamespacePath(t *testing.T) {
	cfg := testConfig(t)
	testenv.NeedTool(t, "ip", "iproute2")
	name := fmt.Sprintf("vzkit-sbx-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	run("netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	// A veth pair with one end in the namespace, as runtime/net prepares.
	host := fmt.Sprintf("vzh%d", os.Getpid())
	run("link", "add", host, "type", "veth", "peer", "name", "vzpeer0", "netns", name)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", host).Run() })
	cfg.Network = Network{Mode: NetNamespace, NSPath: "/run/netns/" + name}
	got := strings.Fields(mustSh(t, cfg, "ls /sys/class/net"))
	slices.Sort(got)
	if want := []string{"lo", "vzpeer0"}; !slices.Equal(got, want) {
		t.Errorf("interfaces %v, want %v", got, want)
	}
}

func TestReadOnlySysAndMaskedPaths(t *testing.T) {
	cfg := testConfig(t)
	status, out, _ := sh(t, cfg, `
		awk '$2 == "/sys" { print $4 }' /proc/mounts | cut -d, -f1
		if mkdir /sys/vzkit-probe 2>/dev/null; then echo sys-writable; fi
		wc -c < /proc/timer_list
		if echo b > /proc/sysrq-trigger 2>/dev/null; then echo sysrq-writable; fi
		awk '$2 == "/proc/sys" { print $4 }' /proc/mounts | cut -d, -f1
	`)
	if status != 0 {
		t.Fatalf("status %d, out %q", status, out)
	}
	if want := "ro\n0\nro\n"; out != want {
		t.Errorf("got %q, want %q (ro /sys, masked /proc/timer_list, ro /proc/sys)", out, want)
	}
}

func TestDev(t *testing.T) {
	cfg := testConfig(t)
	out := mustSh(t, cfg, `
		for n in null zero full random urandom tty; do test -c /dev/$n && echo $n; done
		test -c /dev/ptmx -o -L /dev/ptmx && echo ptmx
		awk '{ print $2 " " $3 }' /proc/mounts | grep -E '^/dev/(pts|shm|mqueue) '
		echo x > /dev/null && head -c 3 /dev/zero | wc -c
		ls /dev | wc -l
	`)
	want := "null\nzero\nfull\nrandom\nurandom\ntty\nptmx\n/dev/pts devpts\n/dev/shm tmpfs\n/dev/mqueue mqueue\n3\n"
	if !strings.HasPrefix(out, want) {
		t.Fatalf("got %q, want prefix %q", out, want)
	}
	// Minimal: the listed nodes, the pts/shm/mqueue directories and the
	// fd/stdin/stdout/stderr/core links; nothing from the host.
	n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(out, want)))
	if n > 15 {
		t.Errorf("%d entries in /dev, want a minimal /dev", n)
	}
	if status, _, _ := sh(t, cfg, "test -e /dev/sda -o -e /dev/vda -o -e /dev/kmsg"); status == 0 {
		t.Error("a host disk or /dev/kmsg is visible")
	}
}

func TestCapabilities(t *testing.T) {
	cfg := testConfig(t)
	out := mustSh(t, cfg, "grep -E '^Cap(Eff|Bnd):' /proc/self/status")
	var want uint64
	for _, name := range DefaultCapabilities {
		for _, c := range capability.ListKnown() {
			if "CAP_"+strings.ToUpper(c.String()) == name {
				want |= 1 << uint(c)
			}
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		got, err := strconv.ParseUint(f[1], 16, 64)
		if err != nil || got != want {
			t.Errorf("%s %s, want %016x", f[0], f[1], want)
		}
		if got&(1<<uint(capability.CAP_SYS_RESOURCE)) != 0 {
			t.Errorf("%s includes CAP_SYS_RESOURCE", f[0])
		}
	}
	cfg.Capabilities = []string{"CAP_KILL"}
	out = mustSh(t, cfg, "grep '^CapEff:' /proc/self/status")
	if f := strings.Fields(out); len(f) != 2 || f[1] != fmt.Sprintf("%016x", 1<<uint(capability.CAP_KILL)) {
		t.Errorf("with only CAP_KILL: %q", out)
	}
}

func TestUnavailableCapabilityRefused(t *testing.T) {
	cfg := testConfig(t)
	cfg.Capabilities = []string{"CAP_NO_SUCH_THING"}
	if _, err := Run(context.Background(), cfg, Process{Args: []string{"/bin/true"}}); err == nil ||
		!strings.Contains(err.Error(), "CAP_NO_SUCH_THING") {
		t.Errorf("unknown capability: err %v", err)
	}
}

func TestNoNewPrivilegesOff(t *testing.T) {
	cfg := testConfig(t)
	out := mustSh(t, cfg, "grep '^NoNewPrivs:' /proc/self/status")
	if f := strings.Fields(out); len(f) != 2 || f[1] != "0" {
		t.Errorf("%q, want NoNewPrivs 0 (setuid tools must work)", out)
	}
}

func TestBindMounts(t *testing.T) {
	cfg := testConfig(t)
	ro, rw := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "in.txt"), []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Mounts = []Mount{
		{Source: ro, Destination: "/mnt/ro", ReadOnly: true},
		{Source: rw, Destination: "/mnt/rw"},
	}
	out := mustSh(t, cfg, `
		cat /mnt/ro/in.txt
		if touch /mnt/ro/new 2>/dev/null; then echo ro-writable; fi
		echo from sandbox > /mnt/rw/out.txt
	`)
	if out != "from host\n" {
		t.Errorf("stdout %q", out)
	}
	got, err := os.ReadFile(filepath.Join(rw, "out.txt"))
	if err != nil || string(got) != "from sandbox\n" {
		t.Errorf("file written through rw bind mount: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(ro, "new")); err == nil {
		t.Error("file created through read-only bind mount")
	}
}

func TestTTY(t *testing.T) {
	cfg := testConfig(t)
	var out bytes.Buffer
	status, err := Run(context.Background(), cfg, Process{
		Args: []string{"/bin/sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty; tty; stty size"},
		TTY:  true, ConsoleSize: &ConsoleSize{Rows: 40, Cols: 100}, Stdout: &out,
	})
	if err != nil || status != 0 {
		t.Fatalf("Run: status %d, %v, output %q", status, err, out.String())
	}
	got := strings.ReplaceAll(out.String(), "\r", "")
	if want := "is-a-tty\n/dev/pts/0\n40 100\n"; got != want {
		t.Errorf("tty output %q, want %q", got, want)
	}
	// Without TTY stdin is not a terminal.
	if status, _, _ := sh(t, cfg, "test -t 0"); status == 0 {
		t.Error("stdin is a terminal without TTY")
	}
}

func TestTTYInputAndResize(t *testing.T) {
	cfg := testConfig(t)
	inR, inW := io.Pipe()
	resize := make(chan ConsoleSize) // unbuffered: see below
	out := &readyWriter{}
	out.ready = func() {
		go func() {
			// The second send is received only after the first size has
			// been applied, so the shell reads "go" after the resize.
			resize <- ConsoleSize{Rows: 50, Cols: 120}
			resize <- ConsoleSize{Rows: 50, Cols: 120}
			_, _ = io.WriteString(inW, "go\n")
			_ = inW.Close()
		}()
	}
	status, err := Run(context.Background(), cfg, Process{
		Args: []string{"/bin/sh", "-c", "stty -echo; echo ready; read x; echo got-$x; stty size"},
		TTY:  true, ConsoleSize: &ConsoleSize{Rows: 24, Cols: 80},
		Stdin: inR, Stdout: out, Resize: resize,
	})
	if err != nil || status != 0 {
		t.Fatalf("Run: status %d, %v, output %q", status, err, out.buf.String())
	}
	got := strings.ReplaceAll(out.buf.String(), "\r", "")
	if want := "ready\ngot-go\n50 120\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

// hostCgroupFile is the host path of file in the cgroup of pid for
// controller (cgroup v1) or in its unified cgroup (v2).
func hostCgroupFile(t *testing.T, pid int, controller, file string) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v2 := cgroups.IsCgroup2UnifiedMode()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v2 && parts[0] == "0" {
			return filepath.Join("/sys/fs/cgroup", parts[2], file)
		}
		if !v2 && slices.Contains(strings.Split(parts[1], ","), controller) {
			return filepath.Join("/sys/fs/cgroup", controller, parts[2], file)
		}
	}
	t.Fatalf("no %s cgroup for pid %d", controller, pid)
	return ""
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestCgroupLimitsFromInside(t *testing.T) {
	cfg := testConfig(t)
	cfg.Resources = Resources{
		PidsLimit: 42, MemoryBytes: 96 << 20, MemorySwapBytes: 128 << 20,
		CPUShares: 2048, CPUWeight: 200, CPUQuotaMicros: 50000, CPUPeriodMicros: 100000,
	}
	var script, want string
	if cgroups.IsCgroup2UnifiedMode() {
		script = "cd /sys/fs/cgroup && cat pids.max memory.max memory.swap.max cpu.weight cpu.max"
		want = fmt.Sprintf("42\n%d\n%d\n200\n50000 100000\n", 96<<20, 32<<20)
	} else {
		script = `cd /sys/fs/cgroup && cat pids/pids.max memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes \
			cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us`
		want = fmt.Sprintf("42\n%d\n%d\n2048\n50000\n100000\n", 96<<20, 128<<20)
	}
	if out := mustSh(t, cfg, script); out != want {
		t.Errorf("limits seen inside %q, want %q", out, want)
	}
}

func TestPidsLimitEnforced(t *testing.T) {
	cfg := testConfig(t)
	cfg.Resources.PidsLimit = 10
	_, _, errs := sh(t, cfg, "for i in $(seq 20); do sleep 100000 & done; kill $(jobs -p)")
	if !strings.Contains(errs, "can't fork") {
		t.Errorf("20 forks under pids.max 10 did not fail: stderr %q", errs)
	}
}

func TestDetachedLifecycle(t *testing.T) {
	cfg := testConfig(t)
	log := filepath.Join(t.TempDir(), "console.log")

	// Start from another process that exits at once: nothing of it may be
	// needed by the sandbox afterwards.
	starter := exec.Command(os.Args[0])
	starter.Env = append(os.Environ(), starterEnv+"="+strings.Join([]string{cfg.StateDir, cfg.ID, cfg.Root, log}, "|"))
	if out, err := starter.CombinedOutput(); err != nil {
		t.Fatalf("starter: %v: %s", err, out)
	}

	s, err := Load(cfg.StateDir, cfg.ID)
	if err != nil {
		t.Fatalf("Load from a fresh handle: %v", err)
	}
	t.Cleanup(func() { _ = s.Destroy() })
	st, err := s.State()
	if err != nil || st.Status != Running || st.InitPID <= 0 {
		t.Fatalf("State %+v, %v; want running with an init PID", st, err)
	}
	if ppid := readStatusField(t, st.InitPID, "PPid"); ppid == strconv.Itoa(starter.Process.Pid) {
		t.Errorf("init's parent is still the exited starter %s", ppid)
	}

	var out bytes.Buffer
	status, err := s.Exec(context.Background(), Process{
		Args: []string{"/bin/sh", "-c", "echo $$ $(cat /proc/1/comm); hostname"}, Stdout: &out,
	})
	if err != nil || status != 0 {
		t.Fatalf("Exec: %d, %v", status, err)
	}
	if f := strings.Fields(out.String()); len(f) != 3 || f[0] == "1" || f[1] != "sh" || f[2] != cfg.ID {
		t.Errorf("Exec output %q: want a non-init PID, init sh, hostname %s", out.String(), cfg.ID)
	}

	// Exec'd process killed by a signal: 128+9.
	if status, err := s.Exec(context.Background(), Process{Args: []string{"/bin/sh", "-c", "kill -9 $$"}}); err != nil || status != 128+9 {
		t.Errorf("Exec killed: status %d, %v; want %d", status, err, 128+9)
	}

	// The exec'd process joined the sandbox's cgroup: Pids lists init, its
	// sleep, and the exec'd sleeper.
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	sleeper := make(chan int, 1)
	go func() {
		status, _ := s.Exec(ctx, Process{
			Args:   []string{"/bin/sh", "-c", "echo ready; exec sleep 100000"},
			Stdout: &readyWriter{ready: func() { close(ready) }},
		})
		sleeper <- status
	}()
	<-ready
	pids, err := s.Pids()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, st.InitPID) || len(pids) != 3 {
		t.Errorf("Pids %v: want init %d, its sleep and the exec'd sleep", pids, st.InitPID)
	}
	cancel()
	if status := <-sleeper; status != 128+9 {
		t.Errorf("Exec ended by its context: status %d, want %d", status, 128+9)
	}

	// Limits: the starter set pids.max 8; Set changes it live and can lift it.
	pidsMax := hostCgroupFile(t, st.InitPID, "pids", "pids.max")
	if got := readTrim(t, pidsMax); got != "8" {
		t.Errorf("pids.max %s, want 8", got)
	}
	if err := s.Set(Resources{PidsLimit: 4, MemoryBytes: 64 << 20}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if got := readTrim(t, pidsMax); got != "4" {
		t.Errorf("pids.max after Set %s, want 4", got)
	}
	memFile := "memory.max"
	if !cgroups.IsCgroup2UnifiedMode() {
		memFile = "memory.limit_in_bytes"
	}
	if got := readTrim(t, hostCgroupFile(t, st.InitPID, "memory", memFile)); got != strconv.Itoa(64<<20) {
		t.Errorf("%s after Set %s, want %d", memFile, got, 64<<20)
	}
	if err := s.Set(Resources{}); err != nil {
		t.Fatalf("Set (lift limits): %v", err)
	}
	if got := readTrim(t, pidsMax); got != "max" {
		t.Errorf("pids.max after lifting %s, want max", got)
	}

	// Signal the init: it traps TERM and exits 7.
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	waitExit(t, st.InitPID)
	if st, err := s.State(); err != nil || st.Status != Stopped {
		t.Errorf("State after init exit %+v, %v; want stopped", st, err)
	}
	if err := s.Signal(syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Signal to stopped sandbox: %v, want ErrNotRunning", err)
	}
	if _, err := s.Exec(context.Background(), Process{Args: []string{"/bin/true"}}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Exec in stopped sandbox: %v, want ErrNotRunning", err)
	}
	logged, _ := os.ReadFile(log)
	if string(logged) != "started\ngot-term\n" {
		t.Errorf("console log %q", logged)
	}

	cgDir := filepath.Dir(pidsMax)
	if err := s.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if _, err := Load(cfg.StateDir, cfg.ID); !errors.Is(err, ErrNotExist) {
		t.Errorf("Load after Destroy: %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(cgDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup %s left after Destroy: %v", cgDir, err)
	}
}

func readStatusField(t *testing.T, pid int, key string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return ""
}

func TestStartDestroyRunning(t *testing.T) {
	cfg := testConfig(t)
	s, err := Start(context.Background(), cfg, Process{Args: []string{"/bin/sh", "-c", "sleep 100000 & sleep 100000"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	st, err := s.State()
	if err != nil || st.Status != Running {
		t.Fatalf("State %+v, %v", st, err)
	}
	pids, err := s.Pids()
	if err != nil || len(pids) == 0 {
		t.Fatalf("Pids %v, %v", pids, err)
	}
	// A second sandbox with the same ID is refused while this one runs.
	if _, err := Start(context.Background(), cfg, Process{Args: []string{"/bin/true"}}); err == nil {
		t.Error("Start of a duplicate ID succeeded")
	}
	if err := s.Destroy(); err != nil {
		t.Fatalf("Destroy running: %v", err)
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, 0); err == nil {
			if readStatusField(t, pid, "State")[0] != 'Z' {
				t.Errorf("pid %d still alive after Destroy", pid)
			}
		}
	}
	if _, err := Load(cfg.StateDir, cfg.ID); !errors.Is(err, ErrNotExist) {
		t.Errorf("Load after Destroy: %v", err)
	}
}

func TestStartRejectsPipes(t *testing.T) {
	cfg := testConfig(t)
	if _, err := Start(context.Background(), cfg, Process{Args: []string{"/bin/true"}, Stdout: &bytes.Buffer{}}); err == nil {
		t.Error("Start with a non-file stdout succeeded")
	}
	if _, err := Start(context.Background(), cfg, Process{Args: []string{"/bin/true"}, TTY: true}); err == nil {
		t.Error("Start with TTY succeeded")
	}
}

func TestStoppedLeftoverReplaced(t *testing.T) {
	cfg := testConfig(t)
	// A sandbox whose init exited and that nobody destroyed, as after a
	// crash of the process that ran it.
	s, err := Start(context.Background(), cfg, Process{Args: []string{"/bin/true"}})
	if err != nil {
		t.Fatal(err)
	}
	<-s.initDone
	if st, err := s.State(); err != nil || st.Status != Stopped {
		t.Fatalf("State %+v, %v; want stopped", st, err)
	}
	if status, _, _ := sh(t, cfg, "exit 5"); status != 5 {
		t.Errorf("Run over a stopped leftover: status %d", status)
	}
}

func TestLoadMissing(t *testing.T) {
	needRoot(t)
	if _, err := Load(t.TempDir(), "nope"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Load: %v, want ErrNotExist", err)
	}
}

func BenchmarkRunTrue(b *testing.B) {
	cfg := testConfig(b)
	ctx := context.Background()
	for b.Loop() {
		status, err := Run(ctx, cfg, Process{Args: []string{"/bin/true"}})
		if err != nil || status != 0 {
			b.Fatalf("Run: %d, %v", status, err)
		}
	}
}

// TestRunDiesWithCaller: a foreground sandbox (a build's dpkg, say) does
// not outlive a caller killed with SIGKILL, which runs no cleanup.
func TestRunDiesWithCaller(t *testing.T) {
	cfg := testConfig(t)
	runner := exec.Command(os.Args[0])
	runner.Env = append(os.Environ(), runnerEnv+"="+strings.Join([]string{cfg.StateDir, cfg.ID, cfg.Root}, "|"))
	if err := runner.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for range 200 {
		if s, err := Load(cfg.StateDir, cfg.ID); err == nil {
			if st, err := s.State(); err == nil && st.Status == Running {
				pid = st.InitPID
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pid == 0 {
		runner.Process.Kill()
		runner.Wait()
		t.Fatal("the runner's sandbox never came up")
	}
	runner.Process.Kill()
	runner.Wait()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // already gone
	}
	defer unix.Close(fd)
	// A liveness bound, not a speed assertion.
	n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 30000)
	if err != nil || n == 0 {
		unix.Kill(pid, unix.SIGKILL)
		t.Fatalf("the sandbox's init %d outlived its killed caller", pid)
	}
	if s, err := Load(cfg.StateDir, cfg.ID); err == nil {
		s.Destroy()
	}
}

// TestRunLeaksNoDescriptor: the mark Run hands its init is gone before the
// payload runs.
func TestRunLeaksNoDescriptor(t *testing.T) {
	out := mustSh(t, testConfig(t), "ls /proc/$$/fd | tr '\\n' ' '")
	if out != "0 1 2 " {
		t.Errorf("the init's descriptors: %q, want only stdin, stdout and stderr", out)
	}
}
