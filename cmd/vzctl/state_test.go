package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

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
