package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/runtime/resource"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

// renderManPages writes vzctl's man pages and returns page NAME.SECTION as man(1)
// shows it (nroff, plain text).
func renderManPages(t *testing.T) func(page string) string {
	testenv.NeedTool(t, "nroff", "groff-base")
	dir := t.TempDir()
	if err := manual(newRootCommand(), newVzlistCommand()).Write(dir); err != nil {
		t.Fatal(err)
	}
	return func(page string) string {
		t.Helper()
		section := page[strings.LastIndexByte(page, '.')+1:]
		cmd := exec.Command("nroff", "-man", "-Tascii", filepath.Join(dir, "man"+section, page))
		cmd.Env = append(cmd.Environ(), "MANWIDTH=100")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("nroff %s: %v", page, err)
		}
		// nroff's overstrike bold: "x\bx" -> "x".
		return regexp.MustCompile(".\b").ReplaceAllString(string(out), "")
	}
}

func TestManPages(t *testing.T) {
	page := renderManPages(t)
	vzctl := page("vzctl.8")
	// The exit codes stay a table: one code per line, aligned.
	for _, c := range exitCodes {
		if !regexp.MustCompile(`(?m)^ +` + strconv.Itoa(c.Code) + `  ` + regexp.QuoteMeta(c.Meaning[:min(len(c.Meaning), 10)])).MatchString(vzctl) {
			t.Errorf("vzctl.8 EXIT STATUS lacks the line of %d:\n%s", c.Code, vzctl)
		}
	}
	for _, section := range []string{"EXIT STATUS", "FILES", "SEE ALSO"} {
		if !regexp.MustCompile(`(?m)^` + section + `$`).MatchString(vzctl) {
			t.Errorf("vzctl.8 has no %s section", section)
		}
	}
	if !strings.Contains(vzctl, "/etc/vzkit/conf/CTID.conf") || !strings.Contains(vzctl, "ctid.conf(5)") {
		t.Errorf("vzctl.8 FILES/SEE ALSO do not name CTID.conf and ctid.conf(5):\n%s", vzctl)
	}
	start := page("vzctl-start.8")
	if !regexp.MustCompile(`(?m)^EXAMPLES\n(.*\n)* +vzctl start 101 --wait +# exit 133`).MatchString(start) {
		t.Errorf("vzctl-start.8 has no EXAMPLES with --wait:\n%s", start)
	}
	if list := page("vzlist.8"); !strings.Contains(list, "vzlist") || !strings.Contains(list, "-H") {
		t.Errorf("vzlist.8:\n%s", list)
	}
	// The section-5 pages list every key the code knows, by name.
	ctid := page("ctid.conf.5")
	for _, k := range vzconf.ContainerKeys {
		if !strings.Contains(ctid, k.Name+":") {
			t.Errorf("ctid.conf.5 lacks %s", k.Name)
		}
	}
	flat := strings.Join(strings.Fields(ctid), " ") // nroff wraps lines
	for _, p := range resource.Params {
		if !strings.Contains(flat, p.Key+" (--"+p.Flag+"):") {
			t.Errorf("ctid.conf.5 lacks resource parameter %s", p.Key)
		}
	}
	if !strings.Contains(flat, "approximated: RLIMIT_NOFILE") || !strings.Contains(flat, "not enforced: mainline has no per-cgroup socket counter") {
		t.Errorf("ctid.conf.5 does not say how NUMFILE and NUMTCPSOCK are held")
	}
	vz := page("vz.conf.5")
	for _, k := range vzconf.GlobalKeys() {
		if !strings.Contains(vz, k.Name+":") {
			t.Errorf("vz.conf.5 lacks %s", k.Name)
		}
	}
	vzFlat := strings.Join(strings.Fields(vz), " ") // nroff justifies lines
	if !strings.Contains(vzFlat, "STOP_TIMEOUT: seconds to wait") || !strings.Contains(vzFlat, "default: 60") {
		t.Errorf("vz.conf.5 STOP_TIMEOUT entry:\n%s", vz)
	}
}
