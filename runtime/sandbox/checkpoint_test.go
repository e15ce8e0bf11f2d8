package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/testenv"
)

// A shell counting in memory (its variable, shown through a file each
// tick) is checkpointed, which stops it, and restored into a new sandbox
// with the same ID, where it goes on from its count.
func TestCheckpointRestore(t *testing.T) {
	criu := testenv.NeedTool(t, "criu", "criu (CRIU 4: scripts/criu)")
	cfg := testConfig(t)
	s, err := Start(context.Background(), cfg, Process{Args: []string{"/bin/sh", "-c",
		"i=0; while :; do i=$((i+1)); echo $i >/dev/shm/count; sleep 0.05; done"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Destroy() })
	count := func(s *Sandbox) int {
		t.Helper()
		var out bytes.Buffer
		if code, err := s.Exec(context.Background(), Process{Args: []string{"/bin/cat", "/dev/shm/count"}, Stdout: &out}); err != nil || code != 0 {
			t.Fatalf("read the count: %d %v", code, err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(out.String()))
		if err != nil {
			t.Fatalf("count %q", out.String())
		}
		return n
	}
	time.Sleep(500 * time.Millisecond)
	before := count(s)
	dir := t.TempDir()
	o := CheckpointOptions{CRIU: criu, ImagesDir: filepath.Join(dir, "images"), WorkDir: filepath.Join(dir, "work")}
	if err := s.Checkpoint(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if st, err := s.State(); err != nil || st.Status != Stopped {
		t.Fatalf("after checkpoint: %+v %v, want stopped", st, err)
	}
	if err := s.Destroy(); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(context.Background(), cfg, Process{}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Destroy() })
	// Another process (a later vzctl stop) finds it running.
	l, err := Load(cfg.StateDir, cfg.ID)
	if err != nil {
		t.Fatalf("Load the restored sandbox: %v", err)
	}
	st, err := l.State()
	if err != nil || st.Status != Running {
		t.Fatalf("the restored sandbox, loaded afresh: %+v %v; want running", st, err)
	}
	at := count(r)
	time.Sleep(300 * time.Millisecond)
	after := count(r)
	if at < before || after <= at {
		t.Errorf("count %d before the checkpoint, %d at restore, %d later: want it to go on from where it was", before, at, after)
	}
	// And its Destroy ends the restored processes.
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", st.InitPID)); !os.IsNotExist(err) {
		t.Errorf("restored init %d still there after Destroy: %v", st.InitPID, err)
	}
}
