package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/hostiletest"
)

// Hostile container roots: the container's root user (or a hostile cache)
// has planted symlinks, FIFOs and device nodes at every file that start,
// set, runscript and clone touch from the host. Every command must end
// within a bound, either succeed with the planted thing contained or fail
// saying why, leave the host canaries and the canary loop device as they
// were, and release the container's lock.

// touched are the names inside a container root that vzctl's host side
// reads or writes.
var touched = []string{
	"etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/os-release", "usr/lib/os-release", "tmp",
}

// commandBound is how long one vzctl command may take here: far above
// what any takes, far below forever.
const commandBound = 3 * time.Minute

// bounded runs vzctl args within commandBound and returns its outcome.
func (e *env) bounded(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	hostiletest.Within(e.t, commandBound, func() { stdout, stderr, code = e.run(args...) })
	return
}

// lockFree fails the test when ctid's lock is still held.
func (e *env) lockFree(ctid string) {
	e.t.Helper()
	f, err := os.OpenFile(e.path("var/lib/vzkit/lock/"+ctid+".lck"), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		e.t.Errorf("lock of %s still held after the command: %v", ctid, err)
	}
}

func TestHostileContainerRoot(t *testing.T) {
	e := newEnv(t)
	canaryName := func(name string) string { return strings.ReplaceAll(name, "/", "_") }
	var names []string
	for _, n := range touched {
		names = append(names, canaryName(n))
	}
	canaries := hostiletest.NewCanaries(t, names...)
	loop := hostiletest.NewLoopDevice(t)
	checkHost := func(what string) {
		t.Helper()
		canaries.Check(t)
		loop.Check(t)
		if t.Failed() {
			t.Fatalf("after %s", what)
		}
	}
	kinds := func(name string) []hostiletest.Thing {
		return []hostiletest.Thing{
			hostiletest.Link(canaries.Path(canaryName(name))),
			hostiletest.Link(hostiletest.Escaping(canaries.Path(canaryName(name)))),
			hostiletest.Fifo(),
			hostiletest.Zero(),
			loop.Node(),
		}
	}
	script := filepath.Join(t.TempDir(), "hello.sh")
	os.WriteFile(script, []byte("echo hello from the script\n"), 0o644)

	// Round r plants kind (i+r) mod 5 at the i-th name, so that every name
	// meets every kind.
	for r := range len(kinds("x")) {
		ctid := fmt.Sprint(520 + r)
		t.Run("round"+ctid, func(t *testing.T) {
			e := &env{t: t, root: e.root}
			e.ok("create", ctid, "--ostemplate", "debian-12-minimal", "--hostname", "hostile.example")
			e.ok("set", ctid, "--nameserver", "192.0.2.53", "--save")
			private := e.path("var/lib/vzkit/private/" + ctid)
			planted := map[string]hostiletest.Thing{}
			for i, name := range touched {
				th := kinds(name)[(i+r)%5]
				th.Plant(t, private, name)
				planted[name] = th
			}
			t.Logf("planted %v", planted)
			steps := [][]string{
				{"start", ctid},
				{"set", ctid, "--hostname", "hostile2.example"},
				{"set", ctid, "--nameserver", "192.0.2.54"},
				{"set", ctid, "--userpasswd", "root:s3cret"},
				{"runscript", ctid, script},
				{"stop", ctid},
				{"runscript", ctid, script}, // stopped: root mounted, no init
				{"set", ctid, "--userpasswd", "root:s3cret"},
				{"clone", ctid, fmt.Sprint(540 + r)},
				{"destroy", fmt.Sprint(540 + r)},
				{"destroy", ctid},
			}
			for _, step := range steps {
				out, stderr, code := e.bounded(step...)
				t.Logf("vzctl %s: exit %d\n%s%s", strings.Join(step, " "), code, out, stderr)
				// Failing is allowed (a FIFO as os-release leaves no distro
				// to set a password with); failing without saying why is not.
				if code != 0 && strings.TrimSpace(stderr) == "" {
					t.Errorf("vzctl %s failed silently (exit %d)", strings.Join(step, " "), code)
				}
				if step[0] == "start" && code != 0 {
					t.Fatalf("start failed: the planted files are to be replaced, not refused:\n%s", stderr)
				}
				checkHost("vzctl " + strings.Join(step, " "))
				e.lockFree(ctid)
			}
		})
	}
}

// TestRacingTempNames: while vzctl writes a running container's files
// from the host (a distro without setup scripts), a process in the
// container keeps planting symlinks to host canaries at the names an
// older vzkit wrote through (NAME.vzkit-tmp). None is ever followed.
func TestRacingTempNames(t *testing.T) {
	e := newEnv(t)
	canaries := hostiletest.NewCanaries(t, "hostname", "hosts", "resolv.conf")
	e.ok("create", "530", "--ostemplate", "debian-12-minimal", "--hostname", "race.example")
	// No distro scripts for this ID: set falls back to host-side writes.
	os.Remove(e.path("var/lib/vzkit/private/530/etc/os-release"))
	os.WriteFile(e.path("var/lib/vzkit/private/530/etc/os-release"), []byte("ID=hostile\n"), 0o644)
	e.ok("start", "530")
	var loop strings.Builder
	loop.WriteString("while :; do ")
	for _, n := range []string{"hostname", "hosts", "resolv.conf"} {
		fmt.Fprintf(&loop, "ln -sfn %s /etc/%s.vzkit-tmp; ", canaries.Path(n), n)
	}
	loop.WriteString("done >/dev/null 2>&1 &")
	e.ok("exec", "530", loop.String())
	for i := range 20 {
		e.bounded("set", "530", "--hostname", fmt.Sprintf("race%d.example", i), "--nameserver", fmt.Sprintf("192.0.2.%d", i+1))
		canaries.Check(t)
	}
	if got := e.ok("exec", "530", "cat /etc/hostname"); got != "race19.example\n" {
		t.Errorf("/etc/hostname after the race: %q", got)
	}
	e.ok("stop", "530")
	e.lockFree("530")
}
