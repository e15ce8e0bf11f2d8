package hostiletest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Helper() {}

// TestCanariesSeeChanges makes sure Check notices each way host-side code
// could have touched a canary: content, mode, removal, a new file.
func TestCanariesSeeChanges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Canaries) error
	}{
		{"untouched", func(*Canaries) error { return nil }},
		{"truncated", func(c *Canaries) error { return os.Truncate(c.Path("a"), 0) }},
		{"chmodded", func(c *Canaries) error { return os.Chmod(c.Path("a"), 0o755) }},
		{"removed", func(c *Canaries) error { return os.Remove(c.Path("b")) }},
		{"replaced by a symlink", func(c *Canaries) error {
			os.Remove(c.Path("a"))
			return os.Symlink("b", c.Path("a"))
		}},
		{"added", func(c *Canaries) error { return os.WriteFile(filepath.Join(c.Dir, "new"), nil, 0o644) }},
		{"directory chmodded", func(c *Canaries) error { return os.Chmod(c.Dir, 0o700) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCanaries(t, "a", "b")
			if err := tc.change(c); err != nil {
				t.Fatal(err)
			}
			r := &recorder{TB: t}
			c.Check(r)
			if got, want := len(r.failures) > 0, tc.name != "untouched"; got != want {
				t.Errorf("Check reported %q", r.failures)
			}
		})
	}
}

func TestLoopDeviceSeesWrites(t *testing.T) {
	l := NewLoopDevice(t)
	if l.Major == 0 || !strings.HasPrefix(l.Path, "/dev/loop") {
		t.Fatalf("loop device %s %d:%d", l.Path, l.Major, l.Minor)
	}
	r := &recorder{TB: t}
	l.Check(r)
	if len(r.failures) != 0 {
		t.Fatalf("fresh loop device reported: %q", r.failures)
	}
	f, err := os.OpenFile(l.Path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt([]byte("overwritten"), 4096)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	l.Check(r)
	if len(r.failures) == 0 {
		t.Error("Check missed a write through the device")
	}
}

// TestPlantAndShellAgree plants each kind both ways, from the test and
// with Shell's command, and checks At recognises both.
func TestPlantAndShellAgree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	c := NewCanaries(t, "canary")
	l := NewLoopDevice(t)
	root := t.TempDir()
	for i, th := range []Thing{Link(c.Path("canary")), Link(Escaping(c.Path("canary"))), Fifo(), Zero(), l.Node()} {
		name := fmt.Sprintf("a/b/%d", i)
		th.Plant(t, root, name)
		if !th.At(root, name) {
			t.Errorf("Plant(%v) not seen by At", th)
		}
		shName := filepath.Join(root, fmt.Sprintf("sh/c'd/%d", i))
		if out, err := exec.Command("/bin/sh", "-c", th.Shell(shName)).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", th.Shell(shName), err, out)
		}
		if !th.At(root, strings.TrimPrefix(shName, root)) {
			t.Errorf("Shell(%v) not seen by At", th)
		}
	}
	if Fifo().At(root, "a/b/0") || Zero().At(root, "a/b/2") {
		t.Error("At confuses kinds")
	}
	// The escaping link does reach the canary when followed on the host.
	if b, err := os.ReadFile(filepath.Join(root, "a/b/1")); err != nil || !strings.Contains(string(b), "host canary") {
		t.Errorf("Escaping target does not climb out: %q %v", b, err)
	}
	c.Check(t)
	l.Check(t)
}

func TestWithin(t *testing.T) {
	Within(t, time.Minute, func() {})
	r := &recorderFatal{TB: t}
	stop := make(chan struct{})
	defer close(stop)
	func() {
		defer func() { recover() }() // recorderFatal panics to stop like FailNow
		Within(r, 10*time.Millisecond, func() { <-stop })
	}()
	if !strings.Contains(r.msg, "did not return within 10ms") {
		t.Errorf("Within on a hang reported %q", r.msg)
	}
}

type recorderFatal struct {
	testing.TB
	msg string
}

func (r *recorderFatal) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic("fatal")
}

func (r *recorderFatal) Helper() {}
