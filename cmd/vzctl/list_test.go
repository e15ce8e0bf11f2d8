package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// listEnv makes three containers as an admin would: 101 "web" running
// with two addresses, 102 "db" and 1000 (no name, no address) stopped.
func listEnv(t *testing.T) (*env, int) {
	e := newEnv(t)
	for _, id := range []string{"101", "102", "1000"} {
		e.ok("create", id, "--ostemplate", "debian-12-minimal")
	}
	e.ok("set", "101", "--hostname", "web1.example.org", "--name", "web", "--ipadd", "10.9.77.2", "--ipadd", "10.9.77.3", "--save")
	e.ok("set", "102", "--hostname", "db.example.org", "--name", "db", "--ipadd", "10.9.77.10", "--save")
	e.ok("set", "1000", "--hostname", "web2.example.org", "--save")
	e.ok("start", "101")
	l := e.list()
	if len(l) != 1 || l[0].CTID != "101" || l[0].NumProc < 1 {
		t.Fatalf("running containers: %+v", l)
	}
	return e, l[0].NumProc
}

func TestListVzlistForms(t *testing.T) {
	e, nproc := listEnv(t)
	np := fmt.Sprint(nproc)
	pad := strings.Repeat(" ", len("NPROC")-len(np)) // tabwriter pads the NPROC column
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list"}, "" +
			"CTID  NPROC  STATUS   IP_ADDR    HOSTNAME\n" +
			"101   " + np + pad + "  running  10.9.77.2  web1.example.org\n"},
		// A list that is not the last column shows its first address.
		{[]string{"list", "-a"}, "" +
			"CTID  NPROC  STATUS   IP_ADDR     HOSTNAME\n" +
			"101   " + np + pad + "  running  10.9.77.2   web1.example.org\n" +
			"102   -      stopped  10.9.77.10  db.example.org\n" +
			"1000  -      stopped  -           web2.example.org\n"},
		{[]string{"list", "-a", "-t", "-o", "ip,ctid"}, "" +
			"IP_ADDR              CTID\n" +
			"10.9.77.2 10.9.77.3  101\n" +
			"10.9.77.10           102\n" +
			"-                    1000\n"},
		{[]string{"list", "-a", "-o", "ctid,ip"}, "" + // last column: every address
			"CTID  IP_ADDR\n" +
			"101   10.9.77.2 10.9.77.3\n" +
			"102   10.9.77.10\n" +
			"1000  -\n"},
		{[]string{"list", "-a", "-n"}, "" +
			"CTID  NPROC  STATUS   IP_ADDR     NAME\n" +
			"101   " + np + pad + "  running  10.9.77.2   web\n" +
			"102   -      stopped  10.9.77.10  db\n" +
			"1000  -      stopped  -           -\n"},
		{[]string{"list", "-S", "-H", "-o", "ctid,status,onboot,layout"}, "" +
			"102   stopped  no  plain\n" +
			"1000  stopped  no  plain\n"},
		{[]string{"list", "-1", "-a"}, "101\n102\n1000\n"},
		{[]string{"list", "-1"}, "101\n"},
		{[]string{"list", "-a", "-s", "-hostname", "-o", "veid,smart_name,hostname"}, "" +
			"CTID  SMARTNAME  HOSTNAME\n" +
			"1000  1000       web2.example.org\n" +
			"101   web        web1.example.org\n" +
			"102   db         db.example.org\n"},
		// Unset first, then addresses as numbers (10.9.77.2 < 10.9.77.10).
		{[]string{"list", "-a", "-s", "ip", "-1"}, "1000\n101\n102\n"},
		{[]string{"list", "-a", "-s", "-ip", "-1"}, "102\n101\n1000\n"},
		{[]string{"list", "-a", "-s", "status", "-1"}, "101\n102\n1000\n"},
		// -h is the hostname filter, not help.
		{[]string{"list", "-a", "-h", "web*", "-1"}, "101\n1000\n"},
		{[]string{"list", "-h", "web*", "-1"}, "101\n"},
		{[]string{"list", "-a", "-N", "w?b", "-1"}, "101\n"},
		{[]string{"list", "-a", "-N", "*", "-1"}, "101\n102\n"}, // 1000 has no name
		{[]string{"list", "-a", "-h", "*.example.org", "-N", "[a-d]*", "-o", "name"}, "NAME\ndb\n"},
		// Named containers, by CTID or NAME, in CTID order, stopped ones too.
		{[]string{"list", "1000", "web", "-H", "-o", "ctid,status"}, "" +
			"101   running\n" +
			"1000  stopped\n"},
		{[]string{"list", "-S", "101", "102", "-1"}, "102\n"},
	} {
		if got := e.ok(tc.args...); got != tc.want {
			t.Errorf("vzctl %s:\n%s\nwant:\n%s", strings.Join(tc.args, " "), got, tc.want)
		}
	}

	// -j: vzlist 4's JSON, keys in the order asked for.
	got := e.ok("list", "-j", "-o", "ctid,name,ip,status,numproc,onboot,ostemplate", "101", "1000")
	// numproc is the whole beancounter, barrier and limit alone for a
	// stopped container; maxheld is the cgroup's peak, whatever it was.
	unl := "4096" // NUMPROC of the basic sample the containers were made from
	want := `[{"ctid":101,"name":"web","ip":["10.9.77.2","10.9.77.3"],"status":"running","numproc":{"held":` + np +
		`,"maxheld":M,"barrier":` + unl + `,"limit":` + unl + `,"failcnt":0},"onboot":false,"ostemplate":"debian-12-minimal"},` +
		`{"ctid":1000,"name":null,"ip":[],"status":"stopped","numproc":{"barrier":` + unl + `,"limit":` + unl + `},"onboot":false,"ostemplate":"debian-12-minimal"}]`
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(got)); err != nil ||
		regexp.MustCompile(`"maxheld":[0-9]+`).ReplaceAllString(compact.String(), `"maxheld":M`) != want {
		t.Errorf("list -j:\n%s\nwant %s (%v)", got, want, err)
	}
	// -j alone: every available field, none refused, no alias repeated.
	var all []map[string]any
	if err := json.Unmarshal([]byte(e.ok("list", "-j", "-a")), &all); err != nil || len(all) != 3 {
		t.Fatalf("list -j -a: %v %v", all, err)
	}
	if all[0]["ctid"] != 101.0 || all[0]["hostname"] != "web1.example.org" || all[1]["private"] != e.path("var/lib/vzkit/private/102") {
		t.Errorf("list -j -a: %v", all[0])
	}
	for _, k := range []string{"veid", "numproc.m", "diskspace", "laverage"} {
		if _, ok := all[0][k]; ok {
			t.Errorf("list -j -a shows %s", k)
		}
	}
	if all[0]["cpuunits"] != 1000.0 || all[0]["cpulimit"] != 0.0 || all[0]["vswap"] != true {
		t.Errorf("list -j -a: cpuunits %v, cpulimit %v, vswap %v; want the basic sample's 1000, 0, true", all[0]["cpuunits"], all[0]["cpulimit"], all[0]["vswap"])
	}
	if _, ok := all[0]["physpages"].(map[string]any)["held"]; !ok {
		t.Errorf("list -j -a: physpages of running 101 = %v, want its beancounter", all[0]["physpages"])
	}
	// -o json is vzkit's record, unchanged.
	if l := e.list("-a"); len(l) != 3 || l[0].CTID != "101" || l[0].NumProc != nproc || l[2].CTID != "1000" || l[2].Hostname != "web2.example.org" {
		t.Errorf("list -a -o json: %+v", l)
	}

	// diskspace is what the private area takes, as du -x counts it.
	out, err := exec.Command("du", "-s", "-k", "-x", e.path("var/lib/vzkit/private/102")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.ok("list", "-H", "-o", "diskspace", "102"), strings.Fields(string(out))[0]+"\n"; got != want {
		t.Errorf("diskspace of 102: %q, du says %q", got, want)
	}

	// Field names: the beancounters and quotas are listed; what vzkit does
	// not show yet is refused by name.
	names := e.ok("list", "-L")
	for _, l := range []string{"ctid ", "numproc.m ", "diskspace.h ", "smart_name "} {
		if !strings.Contains(names, "\n"+l) && !strings.HasPrefix(names, l) {
			t.Errorf("list -L lacks %q:\n%s", l, names)
		}
	}
	if s := e.code(21, "list", "-o", "ctid,laverage"); !strings.Contains(s, `field "laverage": not available yet`) {
		t.Errorf("list -o laverage: %q", s)
	}
	// OpenVZ's 21 for a bad value, 20 for a bad command line.
	for _, bad := range [][]string{
		{"list", "-o", "ctid,nosuch"}, {"list", "-s", "nosuch"}, {"list", "-h", "web["}, {"list", "no such"},
	} {
		e.code(21, bad...)
	}
	for _, bad := range [][]string{
		{"list", "-a", "-S"}, {"list", "-o", "json", "-o", "ctid"}, {"list", "-1", "-o", "name"},
		{"list", "-j", "-o", "json"}, {"list", "-h"},
	} {
		e.code(20, bad...)
	}
	// An unknown CTID: the others are still listed, exit 14.
	o, s, code := e.run("list", "-1", "102", "4242", "web")
	if o != "101\n102\n" || code != 14 || !strings.Contains(s, "container 4242: container does not exist") {
		t.Errorf("list 102 4242 web: %q %q exit %d", o, s, code)
	}
	if help := e.ok("list", "--help"); !strings.Contains(help, "-h, --hostname GLOB") || !strings.Contains(help, "Examples:") {
		t.Errorf("list --help:\n%s", help)
	}
}

// The binary started as vzlist (the symlink make install makes) is vzlist.
func TestVzlistSymlink(t *testing.T) {
	e, _ := listEnv(t)
	link := filepath.Join(t.TempDir(), "vzlist")
	if err := os.Symlink(vzctlBin, link); err != nil {
		t.Fatal(err)
	}
	vzlist := func(args ...string) (string, string, int) {
		cmd := exec.Command(link, args...)
		cmd.Env = append(os.Environ(), "VZKIT_ROOT="+e.root)
		var o, s bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &s
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return o.String(), s.String(), code
	}
	for _, args := range [][]string{{"-a"}, {}, {"-1", "-a", "-s", "-ctid"}, {"-j", "-a", "-o", "ctid,hostname"}, {"-h", "db*", "-a", "-o", "ctid,name"}} {
		o, s, code := vzlist(args...)
		if want := e.ok(append([]string{"list"}, args...)...); o != want || code != 0 || s != "" {
			t.Errorf("vzlist %v: %q %q exit %d, want %q as vzctl list prints it", args, o, s, code, want)
		}
	}
	if o, _, _ := vzlist("-H", "-o", "ctid", "-h", "db.example.org", "-a"); o != "102\n" {
		t.Errorf("vzlist -h: %q", o)
	}
	if o, _, code := vzlist("--help"); code != 0 || !strings.Contains(o, "vzlist [-a|-S]") || !strings.Contains(o, "85  a container's CTID.conf") {
		t.Errorf("vzlist --help (exit %d):\n%s", code, o)
	}
	if _, s, code := vzlist("4242"); code != 14 || !strings.HasPrefix(s, "vzlist: container 4242") {
		t.Errorf("vzlist 4242: %q exit %d", s, code)
	}
	// make install's man pages include vzlist.8.
	dir := t.TempDir()
	e.ok("man", dir)
	if b, err := os.ReadFile(filepath.Join(dir, "man8", "vzlist.8")); err != nil || !bytes.Contains(b, []byte("hostname")) {
		t.Errorf("vzlist.8: %v", err)
	}
}

// One broken CTID.conf never hides the other containers.
func TestListBrokenConfig(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"101", "102", "103"} {
		e.ok("create", id, "--ostemplate", "debian-12-minimal")
	}
	e.ok("set", "101", "--name", "good", "--hostname", "good.example.org", "--save")
	e.ok("set", "103", "--onboot", "yes", "--save")
	e.ok("start", "101")
	conf := e.path("etc/vzkit/conf/102.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	broken := append(b, "HOSTNAME=\"unterminated\n"...)
	if err := os.WriteFile(conf, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	line := bytes.Count(broken, []byte("\n"))
	where := fmt.Sprintf("%s:%d: key HOSTNAME: unterminated double quote", conf, line)

	o, s, code := e.run("list", "-a", "-o", "ctid,status,hostname")
	if want := "" +
		"CTID  STATUS   HOSTNAME\n" +
		"101   running  good.example.org\n" +
		"102   error    -\n" +
		"103   stopped  -\n"; o != want || code != 85 || s != "vzctl: container 102: invalid config: "+where+"\n" {
		t.Errorf("list -a with a broken 102.conf: exit %d\n%s%s\nwant:\n%s", code, o, s, want)
	}
	// JSON (both forms) carries the error in the entry.
	o, _, code = e.run("list", "-a", "-o", "json")
	var l []struct{ CTID, Status, Error string }
	if err := json.Unmarshal([]byte(o), &l); err != nil || code != 85 || len(l) != 3 ||
		l[1].Status != "error" || !strings.Contains(l[1].Error, where) || l[0].Error != "" || l[2].Status != "stopped" {
		t.Errorf("list -a -o json: exit %d %+v %v", code, l, err)
	}
	o, _, code = e.run("list", "-a", "-j", "-o", "ctid,status")
	var j []map[string]any
	if err := json.Unmarshal([]byte(o), &j); err != nil || code != 85 || len(j) != 3 ||
		j[1]["status"] != "error" || !strings.Contains(fmt.Sprint(j[1]["error"]), where) || j[0]["error"] != nil {
		t.Errorf("list -a -j: exit %d %v %v", code, j, err)
	}
	// Not running and not asked for: not shown, nothing wrong.
	if got := e.ok("list", "-1"); got != "101\n" {
		t.Errorf("list -1: %q", got)
	}
	// A pattern matches neither the broken one nor one without a hostname.
	if got := e.ok("list", "-1", "-a", "-h", "*"); got != "101\n" {
		t.Errorf("list -a -h '*': %q", got)
	}
	// Acting on it says why, with OpenVZ's exit code; the others work,
	// by name too, and start at boot.
	if s := e.code(85, "start", "102"); !strings.Contains(s, where) {
		t.Errorf("start 102: %q", s)
	}
	if got := e.ok("status", "good"); got != "CTID 101 exist mounted running\n" {
		t.Errorf("status good: %q", got)
	}
	o, s, code = e.run("start", "--all-onboot")
	if o != "Container 103 started\n" || code != 85 || !strings.Contains(s, where) {
		t.Errorf("start --all-onboot: %q %q exit %d", o, s, code)
	}
	if got := e.ok("list", "-1"); got != "101\n103\n" {
		t.Errorf("list -1 after onboot: %q", got)
	}
	if after, _ := os.ReadFile(conf); !bytes.Equal(after, broken) {
		t.Error("listing rewrote the broken file")
	}
}
