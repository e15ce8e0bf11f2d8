package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"

	"golang.org/x/sys/unix"
)

// testRoot is a busybox-static root filesystem shared by the tests, built
// once in TestMain ("" when not root).
var testRoot string

// starterEnv makes the test binary a short-lived process that Starts a
// detached sandbox and exits, to show that the sandbox outlives it.
const starterEnv = "VZKIT_SANDBOX_TEST_STARTER"

// runnerEnv makes the test binary Run a sandbox that sleeps until killed,
// to be killed itself: the sandbox must die with it.
const runnerEnv = "VZKIT_SANDBOX_TEST_RUNNER"

// probeEnv makes the test binary call probeSyscall and print the errno name.
const probeEnv = "VZKIT_SANDBOX_TEST_PROBE"

// probeSyscall calls get_mempolicy, harmless and allowed to anyone, but on
// the sandbox's deny list; it returns the errno (0 on success).
func probeSyscall() unix.Errno {
	_, _, errno := unix.Syscall6(unix.SYS_GET_MEMPOLICY, 0, 0, 0, 0, 0, 0)
	return errno
}

func TestMain(m *testing.M) {
	Init()
	if os.Getenv(probeEnv) != "" {
		// Inside a sandbox: report how a syscall on the deny list fares.
		fmt.Println(unix.ErrnoName(probeSyscall()))
		os.Exit(0)
	}
	if spec := os.Getenv(starterEnv); spec != "" {
		os.Exit(runStarter(spec))
	}
	if spec := os.Getenv(runnerEnv); spec != "" {
		f := strings.Split(spec, "|")
		_, err := Run(context.Background(), Config{ID: f[1], Root: f[2], StateDir: f[0]}, Process{
			Args: []string{"/bin/sh", "-c", "sleep 100000"},
		})
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Geteuid() == 0 {
		dir, err := os.MkdirTemp("", "vzkit-sandbox-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		testRoot = filepath.Join(dir, "root")
		if err := buildBusyboxRoot(testRoot); err != nil {
			fmt.Fprintln(os.Stderr, "busybox root:", err)
			return 1
		}
	}
	return m.Run()
}

// runStarter is the body of the starter process: spec is
// "stateDir|id|root|logfile"; the init is a shell that waits for
// SIGTERM and exits 7 on it.
func runStarter(spec string) int {
	f := strings.Split(spec, "|")
	if len(f) != 4 {
		fmt.Fprintln(os.Stderr, "bad starter spec")
		return 2
	}
	log, err := os.OpenFile(f[3], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer log.Close()
	cfg := Config{ID: f[1], Root: f[2], StateDir: f[0], Resources: Resources{PidsLimit: 8}}
	p := Process{
		Args:   []string{"/bin/sh", "-c", `trap "echo got-term; exit 7" TERM; echo started; sleep 100000 & wait`},
		Stdout: log, Stderr: log,
	}
	if _, err := Start(context.Background(), cfg, p); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// buildBusyboxRoot makes a root filesystem of the host's busybox-static
// binary and one symlink per applet.
func buildBusyboxRoot(root string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("%w (apt-get install busybox-static)", err)
	}
	if out, err := exec.Command("ldd", bb).CombinedOutput(); err == nil && !bytes.Contains(out, []byte("not a dynamic")) {
		return fmt.Errorf("%s is dynamically linked; install busybox-static", bb)
	}
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc", "mnt", "root"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		return err
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, name := range strings.Fields(string(list)) {
		if name == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", name)); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
}

func needRoot(t testing.TB) {
	t.Helper()
	testenv.NeedRoot(t, "namespaces, cgroups, mounts")
}

var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// testConfig is a sandbox config on the shared test root with a fresh state
// directory and an ID unique to the test.
func testConfig(t testing.TB) Config {
	t.Helper()
	needRoot(t)
	id := fmt.Sprintf("vzkit-test-%d-%s", os.Getpid(), idUnsafe.ReplaceAllString(t.Name(), "_"))
	return Config{ID: id, Root: testRoot, StateDir: t.TempDir()}
}

// sh runs script with busybox sh as the sandbox's init and returns its
// exit status, stdout and stderr.
func sh(t *testing.T, cfg Config, script string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	status, err := Run(context.Background(), cfg, Process{
		Args: []string{"/bin/sh", "-c", script}, Stdout: &out, Stderr: &errb,
	})
	if err != nil {
		t.Fatalf("Run %q: %v (stderr %q)", script, err, errb.String())
	}
	return status, out.String(), errb.String()
}

// mustSh is sh that requires exit status 0.
func mustSh(t *testing.T, cfg Config, script string) string {
	t.Helper()
	status, out, errs := sh(t, cfg, script)
	if status != 0 {
		t.Fatalf("%q: exit status %d, stdout %q, stderr %q", script, status, out, errs)
	}
	return out
}

// waitExit blocks until the (not necessarily child) process pid has exited.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1)
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				t.Fatalf("poll pidfd: %v", err)
			}
			return
		}
	}
}
