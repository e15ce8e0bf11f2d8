package vmtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/testenv"
)

// Options shape one run. The zero value is a 2 GiB, 2-CPU VM with the
// loop, overlay and quota_v2 modules loaded and a 10-minute deadline.
type Options struct {
	// MemoryMiB is the VM's memory (default 2048).
	MemoryMiB int
	// CPUs is the number of virtual CPUs (default 2).
	CPUs int
	// Files are copied into the VM's root before the script runs: guest
	// absolute path -> host file or directory (copied with cp -a, so
	// modes and owners are kept).
	Files map[string]string
	// Modules are loaded before the script runs (default loop, overlay
	// and quota_v2: what vzkit's layouts and quotas use). A script may
	// modprobe more itself.
	Modules []string
	// Timeout bounds the whole run, boot included (default 10 minutes, or
	// less when the test's own deadline is nearer); a guard against a hung
	// VM, not a speed check: a loaded 2-core TCG host takes minutes.
	Timeout time.Duration
}

var defaultModules = []string{"loop", "overlay", "quota_v2"}

// Result is what a run left.
type Result struct {
	// Output is everything the script wrote (stdout and stderr), with the
	// console's \r\n turned back into \n.
	Output string
	// ExitCode is the script's exit status.
	ExitCode int
	// Console is the whole serial console, boot included.
	Console string
	// Boot is the host time from starting qemu to the script's start,
	// Total the time until qemu exited.
	Boot, Total time.Duration
}

// ExitError is Run's error when the script ran and exited non-zero.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("the VM's script exited %d", e.Code) }

// Run boots the VM image (building it first if this machine has none),
// runs script as root with /bin/sh in it and returns what it printed. The
// error is an *ExitError when the script exited non-zero, another error
// when the VM did not run it to the end (boot failure, timeout); in both
// cases the console is in the test log and the Result holds what was
// seen. Missing root or tools skip t (fail it under CI).
func Run(t testing.TB, script string, opts Options) (*Result, error) {
	t.Helper()
	if testing.Short() {
		t.Skip("VM test: skipped with -short")
	}
	qemu := testenv.NeedTool(t, "qemu-system-x86_64", "qemu-system-x86")
	img := BuildImage(t)
	disk, nonce, err := runDisk(t, script, opts)
	if err != nil {
		t.Fatalf("vmtest: the run disk: %v", err)
	}

	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := dt.Deadline(); ok {
			// Leave the test time to report.
			var c2 context.CancelFunc
			ctx, c2 = context.WithDeadline(ctx, d.Add(-10*time.Second))
			defer c2()
		}
	}
	accel, why := accelerator()
	args := qemuArgs(img, disk, accel, opts)
	cmd := exec.CommandContext(ctx, qemu, args...)
	cmd.WaitDelay = 10 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	con := newConsole("vzkit-vm-begin " + nonce)
	if os.Getenv("VZKIT_VM_CONSOLE") != "" {
		con.live = os.Stderr
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("vmtest: start qemu: %v", err)
	}
	con.read(stdout)
	waitErr := cmd.Wait()
	res := &Result{Console: con.String(), Total: time.Since(start)}
	if !con.begun.IsZero() {
		res.Boot = con.begun.Sub(start)
	}
	out, code, perr := parseConsole(res.Console, nonce)
	res.Output, res.ExitCode = out, code
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("the VM did not finish within %s (%s): %w", timeout, accel, ctx.Err())
	case perr != nil && waitErr != nil:
		err = fmt.Errorf("qemu: %v; %v", waitErr, perr)
	case perr != nil:
		err = perr
	case code != 0:
		err = &ExitError{Code: code}
	}
	if err != nil {
		t.Logf("vmtest: %s (%s), qemu %s\nconsole:\n%s", err, accel, strings.Join(args, " "), res.Console)
		return res, err
	}
	t.Logf("vmtest: %s (%s): booted in %s, done in %s", accel, why, res.Boot.Round(100*time.Millisecond),
		res.Total.Round(100*time.Millisecond))
	return res, nil
}

// MustRun is Run for a script that must exit 0: it fails t otherwise and
// returns the output.
func MustRun(t testing.TB, script string, opts Options) string {
	t.Helper()
	res, err := Run(t, script, opts)
	if err != nil {
		t.Fatalf("vmtest: %v\noutput:\n%s", err, res.Output)
	}
	return res.Output
}

// runDisk writes the run's disk: init, script, nonce, modules, and files/
// laid out as they go into the root.
func runDisk(t testing.TB, script string, opts Options) (disk, nonce string, err error) {
	dir := t.TempDir()
	stage := filepath.Join(dir, "disk")
	files := filepath.Join(stage, "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		return "", "", err
	}
	var n [12]byte
	if _, err := rand.Read(n[:]); err != nil {
		return "", "", err
	}
	nonce = hex.EncodeToString(n[:])
	mods := opts.Modules
	if mods == nil {
		mods = defaultModules
	}
	for name, body := range map[string]string{
		"init": string(runInit), "script": script, "nonce": nonce + "\n",
		"modules": strings.Join(mods, "\n") + "\n",
	} {
		if err := os.WriteFile(filepath.Join(stage, name), []byte(body), 0o644); err != nil {
			return "", "", err
		}
	}
	for guest, host := range opts.Files {
		if !path.IsAbs(guest) || path.Clean(guest) != guest || guest == "/" {
			return "", "", fmt.Errorf("Files: guest path %q is not a clean absolute path", guest)
		}
		dst := filepath.Join(files, guest)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", "", err
		}
		if err := run(exec.Command("cp", "-a", "--", host, dst)); err != nil {
			return "", "", err
		}
	}
	var size int64
	err = filepath.WalkDir(stage, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if fi, err := d.Info(); err == nil {
			size += fi.Size() + 4096
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	// Room for ext4's own metadata; no journal: the VM only reads it.
	mib := size*5/4/(1<<20) + 16
	disk = filepath.Join(dir, "run.img")
	err = run(exec.Command("mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-L", "vzkit-run", "-d", stage,
		"-E", "root_owner=0:0", disk, strconv.FormatInt(mib, 10)+"M"))
	return disk, nonce, err
}

// kernelArgs: the initrd mounts the image read-write and starts its
// /vzkit-vm-init; cgroup_no_v1=all leaves cgroup v2 the only hierarchy
// (systemd.unified_cgroup_hierarchy=1 says the same to a systemd in a
// container); quiet and loglevel=3 keep the console for the script and
// the boot short; panic=-1 with -no-reboot ends qemu if PID 1 dies.
const kernelArgs = "root=/dev/vda rw rootfstype=ext4 fsck.mode=skip console=ttyS0 init=/vzkit-vm-init " +
	"cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 quiet loglevel=3 panic=-1"

func qemuArgs(img *Image, disk string, accel string, opts Options) []string {
	mem, cpus := opts.MemoryMiB, opts.CPUs
	if mem == 0 {
		mem = 2048
	}
	if cpus == 0 {
		cpus = 2
	}
	cpu := "max"
	if accel == "kvm" {
		cpu = "host"
	}
	// The root's writes go to a throw-away overlay (snapshot=on), so
	// cache=unsafe loses nothing: it only spares the guest's flushes,
	// which dpkg and vzctl create issue by the thousand.
	return []string{
		"-accel", accel, "-cpu", cpu, "-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
		"-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
		"-kernel", img.Kernel, "-initrd", img.Initrd, "-append", kernelArgs,
		"-drive", "file=" + img.Root + ",if=virtio,format=raw,snapshot=on,cache=unsafe",
		"-drive", "file=" + disk + ",if=virtio,format=raw,readonly=on",
	}
}

// accelerator picks kvm where the CPU has hardware virtualisation and
// /dev/kvm opens, else tcg. The CPU flags matter: a /dev/kvm without them
// (a paravirtual KVM such as PVM, as on the development machines) passes
// qemu's accelerator probe but cannot run a stock kernel, so qemu's own
// fallback (-accel kvm -accel tcg) would pick it and fail.
func accelerator() (accel, why string) {
	switch v := os.Getenv("VZKIT_VM_ACCEL"); v {
	case "kvm", "tcg":
		return v, "VZKIT_VM_ACCEL"
	}
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil || !regexp.MustCompile(`(?m)^flags\s*:.*\b(vmx|svm)\b`).Match(cpuinfo) {
		return "tcg", "no vmx or svm CPU flag"
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg", "no usable /dev/kvm"
	}
	f.Close()
	return "kvm", "hardware virtualisation"
}

// console collects qemu's output and notes when the begin marker came.
type console struct {
	begin string
	mu    sync.Mutex
	buf   strings.Builder
	begun time.Time
	live  io.Writer // VZKIT_VM_CONSOLE: a copy of the console as it comes
}

func newConsole(begin string) *console { return &console{begin: begin} }

func (c *console) read(r io.Reader) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if c.live != nil {
			io.WriteString(c.live, line)
		}
		c.mu.Lock()
		c.buf.WriteString(line)
		if c.begun.IsZero() && strings.Contains(line, c.begin) {
			c.begun = time.Now()
		}
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// parseConsole finds the script's output between this run's markers and
// its exit status in the closing one.
func parseConsole(con, nonce string) (output string, code int, err error) {
	con = strings.ReplaceAll(con, "\r\n", "\n")
	begin := "vzkit-vm-begin " + nonce + " "
	i := strings.Index(con, begin)
	if i < 0 {
		return "", -1, errors.New("the VM never started the script (no begin marker on its console)")
	}
	rest := con[i:]
	nl := strings.IndexByte(rest, '\n')
	if nl < 0 {
		return "", -1, errors.New("the console ends at the begin marker")
	}
	rest = rest[nl+1:]
	end := "\nvzkit-vm-end " + nonce + " "
	j := strings.Index(rest, end)
	if j < 0 {
		return rest, -1, errors.New("the VM stopped before the script ended (no end marker on its console)")
	}
	status := rest[j+len(end):]
	if k := strings.IndexByte(status, '\n'); k >= 0 {
		status = status[:k]
	}
	code, err = strconv.Atoi(strings.TrimSpace(status))
	if err != nil {
		return rest[:j], -1, fmt.Errorf("end marker with a bad exit status %q", status)
	}
	return rest[:j], code, nil
}
