package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/runtime"
)

// runState is running container ctid's state record
// (STATEDIR/ct/CTID.state), checked against what a user can see of the
// container: its init pid in vzctl status, its cgroup, its VE_ROOT.
func (e *env) runState(ctid string) *runtime.RunState {
	e.t.Helper()
	b, err := os.ReadFile(e.path("run/vzkit/ct/" + ctid + ".state"))
	if err != nil {
		e.t.Fatalf("state record of %s: %v", ctid, err)
	}
	var rs runtime.RunState
	if err := json.Unmarshal(b, &rs); err != nil {
		e.t.Fatalf("state record of %s: %v\n%s", ctid, err, b)
	}
	pid, dirs := e.running(ctid)
	if rs.CTID != ctid || rs.InitPID != pid || rs.SandboxID != "vzkit-"+ctid || rs.Init == "" {
		e.t.Errorf("state record of %s: ctid %q, init %q pid %d (status says %d), sandbox %q", ctid, rs.CTID, rs.Init, rs.InitPID, pid, rs.SandboxID)
	}
	found := false
	for _, d := range dirs {
		found = found || strings.HasSuffix(d, "/"+rs.CgroupPath)
	}
	if !found {
		e.t.Errorf("state record of %s: cgroup %q is none of the init's %v", ctid, rs.CgroupPath, dirs)
	}
	if _, err := os.Stat(filepath.Join(rs.Root, "etc/debian_version")); err != nil || rs.Private == "" || rs.Layout == "" {
		e.t.Errorf("state record of %s: root %q (%v), private %q, layout %q", ctid, rs.Root, err, rs.Private, rs.Layout)
	}
	return &rs
}

// vzctl check runs the CRIU vz.conf names and says whether checkpoints
// work, with criu's own reason when not (exit 16); with this host's CRIU
// (scripts/criu installs CRIU 4 where Debian 12's fails) it agrees with
// criu's own feature checks.
func TestCheckCheckpoint(t *testing.T) {
	e := newEnv(t)
	conf := e.path("etc/vzkit/vz.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	setCRIU := func(v string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte("# vz.conf\nCRIU=\""+v+"\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setCRIU("/nonexistent/criu")
	if s := e.code(exitChkpnt, "check"); !strings.Contains(s, "CRIU=/nonexistent/criu ("+conf+":2)") {
		t.Errorf("check with a CRIU that is not there: %q, want the setting and its line named", s)
	}
	failing := filepath.Join(t.TempDir(), "criu")
	script := "#!/bin/sh\ncase $1 in\n--version) echo 'Version: 3.17' ;;\ncheck) echo 'Error (criu/cr-check.c:1): vDSO proxy is not supported' >&2; exit 1 ;;\nesac\n"
	if err := os.WriteFile(failing, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	setCRIU(failing)
	if s := e.code(exitChkpnt, "check"); !strings.Contains(s, "vDSO proxy is not supported") {
		t.Errorf("check with a CRIU whose criu check fails: %q, want criu's reason", s)
	}

	criu := testenv.NeedTool(t, "criu", "criu (CRIU 4: scripts/criu)")
	setCRIU(criu)
	var cs runtime.CheckpointSupport
	out := e.ok("check", "-o", "json")
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		t.Fatalf("check -o json: %v\n%s", err, out)
	}
	feature := func(name string) bool {
		return exec.Command(criu, "check", "--feature", name).Run() == nil
	}
	if !cs.Works || cs.CRIU != criu || cs.Version == "" || cs.PreDump != feature("mem_dirty_track") || cs.LazyPages != feature("uffd-noncoop") {
		t.Errorf("check -o json: %+v; criu's own feature checks: mem_dirty_track %v, uffd-noncoop %v",
			cs, feature("mem_dirty_track"), feature("uffd-noncoop"))
	}
	if text := e.ok("check"); !strings.HasPrefix(text, "checkpoint/restore: yes ("+criu) {
		t.Errorf("check: %q", text)
	}
}

// chkpnt saves a running privileged container into its dump and stops
// it; restore resumes it, and a shell that counts in memory inside goes on
// from its count. A second chkpnt of the same name is refused while the
// dump is there; the dump goes once restored.
func TestChkpntRestore(t *testing.T) {
	criu := testenv.NeedTool(t, "criu", "criu (CRIU 4: scripts/criu)")
	e := newEnv(t)
	conf := e.path("etc/vzkit/vz.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("CRIU=\""+criu+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// An unprivileged container is refused (not yet), and runs on.
	e.ok("create", "131", "--ostemplate", "debian-12-minimal")
	e.ok("start", "131")
	if s := e.code(exitChkpnt, "chkpnt", "131"); !strings.Contains(s, "unprivileged containers cannot be checkpointed yet") {
		t.Errorf("chkpnt of an unprivileged container: %q", s)
	}
	e.running("131")
	e.ok("stop", "131")

	e.ok("create", "130", "--ostemplate", "debian-12-minimal", "--privileged")
	e.ok("start", "130")
	e.ok("exec", "130", "nohup sh -c 'i=0; while :; do i=$((i+1)); echo $i >/run/count; sleep 0.05; done' >/dev/null 2>&1 &")
	count := func() int {
		t.Helper()
		// The shell rewrites the file each tick: read until it is whole.
		for {
			out := strings.TrimSpace(e.ok("exec", "130", "cat /run/count 2>/dev/null; true"))
			if out == "" {
				continue
			}
			n, err := strconv.Atoi(out)
			if err != nil {
				t.Fatalf("count %q", out)
			}
			return n
		}
	}
	for count() < 5 {
	}
	before := count()
	e.ok("chkpnt", "130")
	if out := e.ok("status", "130"); !strings.Contains(out, "down") {
		t.Errorf("status after chkpnt: %q, want down", out)
	}
	dump := e.path("var/lib/vzkit/dump/Dump.130")
	if _, err := os.Stat(filepath.Join(dump, "state.json")); err != nil {
		t.Fatalf("dump: %v", err)
	}
	if _, _, code := e.run("restore", "130"); code != 0 {
		b, _ := os.ReadFile(filepath.Join(dump, "work/restore.log"))
		t.Fatalf("restore: exit %d\n%s", code, b)
	}
	at := count()
	for count() == at {
	}
	if at < before {
		t.Errorf("count %d before chkpnt, %d after restore: the counter started again", before, at)
	}
	if _, err := os.Stat(dump); !os.IsNotExist(err) {
		t.Errorf("dump left after restore: %v", err)
	}
	e.runState("130")
	// Checkpointed into its default dump, it resumes at the next start
	// (OpenVZ's VE_STOP_MODE=suspend), from where it was.
	before = count()
	e.ok("suspend", "130")
	if s := e.code(exitNotRunning, "chkpnt", "130"); !strings.Contains(s, "not running") {
		t.Errorf("chkpnt of a checkpointed container: %q", s)
	}
	// A start still honours DISABLED="yes": the dump stays for start --force.
	e.ok("set", "130", "--disabled", "yes", "--save")
	e.code(exitStartDisabled, "start", "130")
	if _, err := os.Stat(filepath.Join(dump, "state.json")); err != nil {
		t.Fatalf("dump after a refused start: %v", err)
	}
	e.ok("start", "130", "--force")
	if at := count(); at < before {
		t.Errorf("count %d before suspend, %d after start: the counter started again", before, at)
	}
	if _, err := os.Stat(dump); !os.IsNotExist(err) {
		t.Errorf("dump left after start: %v", err)
	}
	e.ok("stop", "130")
}
