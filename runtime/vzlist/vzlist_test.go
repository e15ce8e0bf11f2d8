package vzlist

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/runtime"
	"github.com/vzkit/vzkit/runtime/resource"
)

func names(fs []Field) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

func TestParseFields(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		headers string
		err     error
		msg     string
	}{
		{in: DefaultFields, want: []string{"ctid", "numproc", "status", "ip", "hostname"}, headers: "CTID NPROC STATUS IP_ADDR HOSTNAME"},
		{in: "veid, name ,ostemplate", want: []string{"veid", "name", "ostemplate"}, headers: "CTID NAME OSTEMPLATE"},
		{in: "ctid,ctid", want: []string{"ctid", "ctid"}, headers: "CTID CTID"}, // vzlist allows a repeat
		{in: "diskspace,diskinodes", want: []string{"diskspace", "diskinodes"}, headers: "DSPACE DINODES"},
		{in: "smart_name,onboot,bootorder,layout", want: []string{"smart_name", "onboot", "bootorder", "layout"}, headers: "SMARTNAME ONBOOT BOOTORDER LAYOUT"},
		{in: "ctid,nosuch", err: ErrUnknownField, msg: `unknown field "nosuch"`},
		{in: "ctid,,name", err: ErrUnknownField, msg: "empty name"},
		{in: "", err: ErrUnknownField, msg: "empty name"},
		{in: "json", err: ErrUnknownField, msg: `unknown field "json"`}, // a format, never a field
		{in: "numproc.m,physpages.l,kmemsize", want: []string{"numproc.m", "physpages.l", "kmemsize"}, headers: "NPROC.M PHYSP.L KMEMSIZE"},
		{in: "diskspace.s,diskinodes.h", want: []string{"diskspace.s", "diskinodes.h"}, headers: "DSPACE.S DINODES.H"},
		{in: "laverage", err: ErrUnavailable, msg: "does not measure it"},
		{in: "cpulimit,cpuunits,cpus,ioprio,vswap", want: []string{"cpulimit", "cpuunits", "cpus", "ioprio", "vswap"}, headers: "CPULIM CPUUNI CPUS IOP VSWAP"},
		{in: "numproc.x", err: ErrUnknownField},
	} {
		fs, err := ParseFields(tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) || !strings.Contains(fmt.Sprint(err), tc.msg) {
				t.Errorf("ParseFields(%q) = %v, want %v containing %q", tc.in, err, tc.err, tc.msg)
			}
			continue
		}
		if err != nil || !slices.Equal(names(fs), tc.want) {
			t.Errorf("ParseFields(%q) = %v, %v; want %v", tc.in, names(fs), err, tc.want)
			continue
		}
		var h []string
		for _, f := range fs {
			h = append(h, f.Header)
		}
		if got := strings.Join(h, " "); got != tc.headers {
			t.Errorf("ParseFields(%q) headers %q, want %q", tc.in, got, tc.headers)
		}
	}
}

// Every beancounter has its four suffixed names; -L lists them.
func TestBeancounterNames(t *testing.T) {
	all := names(All())
	for _, b := range []string{"numproc", "physpages", "kmemsize", "swappages", "numfile"} {
		for _, s := range []string{"", ".m", ".b", ".l", ".f"} {
			if !slices.Contains(all, b+s) {
				t.Errorf("field %s%s missing from the table", b, s)
			}
			if f, err := Lookup(b + s); err != nil || !NeedBeancounters(f) {
				t.Errorf("Lookup(%s%s) = %v, want a beancounter field", b, s, err)
			}
		}
	}
	for _, f := range Shown() {
		if f.Unavailable != "" || f.Alias || strings.Contains(f.Name, ".") || f.DiskUsage {
			t.Errorf("Shown includes %s", f.Name)
		}
	}
	if got := names(Shown()); !slices.Contains(got, "ctid") || slices.Contains(got, "veid") || !slices.Contains(got, "numproc") {
		t.Errorf("Shown = %v", got)
	}
}

func TestParseSort(t *testing.T) {
	for _, tc := range []struct {
		in    string
		field string
		rev   bool
		err   error
	}{
		{"hostname", "hostname", false, nil},
		{"-numproc", "numproc", true, nil},
		{" -ip", "ip", true, nil},
		{"veid", "veid", false, nil},
		{"-", "", false, ErrUnknownField},
		{"", "", false, ErrUnknownField},
		{"--ctid", "", false, ErrUnknownField},
		{"nosuch", "", false, ErrUnknownField},
		{"-numproc.f", "numproc.f", true, nil},
		{"-diskspace.h", "diskspace.h", true, nil},
		{"-uptime", "", false, ErrUnavailable},
		{"-cpulimit", "cpulimit", true, nil},
	} {
		k, err := ParseSort(tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("ParseSort(%q) = %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || k.Field.Name != tc.field || k.Reverse != tc.rev {
			t.Errorf("ParseSort(%q) = %s %v %v, want %s %v", tc.in, k.Field.Name, k.Reverse, err, tc.field, tc.rev)
		}
	}
}

func entries() []runtime.Entry {
	b := uint64(5)
	return []runtime.Entry{
		{CTID: "9", Name: "db", Hostname: "db.example.org", IPs: []string{"10.0.0.10"}, Status: runtime.StateStopped},
		{CTID: "10", Name: "web", Hostname: "web1.example.org", IPs: []string{"10.0.0.9", "10.0.0.11"}, Status: runtime.StateRunning,
			Running: true, NProc: 12, OnBoot: true, BootOrder: &b, Description: "front/end web"},
		{CTID: "101", Hostname: "web2.example.org", Status: runtime.StateMounted},
		{CTID: "102", Status: runtime.StateError, Err: errors.New("102.conf:3: bad"), Running: true},
		{CTID: "4000", Name: "web-test", Hostname: "WEB3.example.org", IPs: []string{}, Status: runtime.StateRunning, Running: true, NProc: 3},
	}
}

func ids(es []runtime.Entry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.CTID)
	}
	return strings.Join(out, " ")
}

func TestSort(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"ctid", "9 10 101 102 4000"},         // numbers, not strings
		{"-ctid", "4000 102 101 10 9"},        // reversed
		{"numproc", "9 101 102 4000 10"},      // unset ("-") first, then 3, 12
		{"-numproc", "10 4000 9 101 102"},     // ties keep CTID order
		{"status", "10 4000 101 9 102"},       // running, mounted, stopped, error
		{"hostname", "102 4000 9 10 101"},     // unset, then byte order (upper case first)
		{"ip", "101 102 4000 10 9"},           // 10.0.0.9 before 10.0.0.10
		{"name", "101 102 9 10 4000"},         // unset first
		{"smart_name", "101 102 9 10 4000"},   // CTIDs stand in for names
		{"onboot", "102 9 101 4000 10"},       // unknown, no, yes
		{"bootorder", "9 101 102 4000 10"},    // unset first
		{"-description", "10 9 101 102 4000"}, // the one set, then the unset ones
	} {
		k, err := ParseSort(tc.key)
		if err != nil {
			t.Fatal(err)
		}
		es := entries()
		Sort(es, k)
		if got := ids(es); got != tc.want {
			t.Errorf("sort by %s: %s, want %s", tc.key, got, tc.want)
		}
	}
}

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		f       Filter
		want    string
		missing []string
		err     bool
	}{
		{f: Filter{}, want: "10 102 4000"},                    // running only; the broken one runs
		{f: Filter{All: true}, want: "9 10 101 102 4000"},     // all
		{f: Filter{Stopped: true}, want: "9 101"},             // not running, mounted included
		{f: Filter{Args: []string{"9", "web"}}, want: "9 10"}, // names too, any state, CTID order
		{f: Filter{Args: []string{"9"}, Stopped: true}, want: "9"},
		{f: Filter{Args: []string{"10"}, Stopped: true}, want: ""}, // -S still applies
		{f: Filter{Args: []string{"102"}}, want: "102"},            // a broken one by CTID
		{f: Filter{Args: []string{"9", "77", "nosuch"}}, want: "9", missing: []string{"77", "nosuch"}},
		{f: Filter{Args: []string{"bad name"}}, err: true},
		{f: Filter{Args: []string{"0"}}, err: true},
		{f: Filter{All: true, Hostname: "web*"}, want: "10 101"}, // case matters; broken never match
		{f: Filter{All: true, Hostname: "[Ww][Ee][Bb]?.*"}, want: "10 101 4000"},
		{f: Filter{All: true, Hostname: "[!w]*"}, want: "9 4000"},
		{f: Filter{All: true, Name: "web*"}, want: "10 4000"},
		{f: Filter{All: true, Name: "*"}, want: "9 10 4000"},   // no name: no match
		{f: Filter{All: true, Description: "*/*"}, want: "10"}, // * matches '/', as fnmatch without flags
		{f: Filter{All: true, Name: "web", Hostname: "*2*"}, want: ""},
		{f: Filter{All: true, Hostname: "web["}, err: true},
	} {
		got, missing, err := tc.f.Select(entries())
		if tc.err {
			if !errors.Is(err, runtime.ErrBadParam) {
				t.Errorf("%+v: err %v, want ErrBadParam", tc.f, err)
			}
			continue
		}
		if err != nil || ids(got) != tc.want || !slices.Equal(missing, tc.missing) {
			t.Errorf("%+v: %q missing %v err %v; want %q missing %v", tc.f, ids(got), missing, err, tc.want, tc.missing)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pat, s string
		match  bool
	}{
		{"a*b", "a/x/b", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{"[]x]", "]", true},
		{"[a-c]z", "bz", true},
		{"[^a-c]z", "bz", false},
		{"a.b", "axb", false}, // regexp metacharacters are literal
		{"(x)+", "(x)+", true},
		{"web", "web1", false}, // anchored
	} {
		re, err := compileGlob(tc.pat)
		if err != nil {
			t.Errorf("compileGlob(%q): %v", tc.pat, err)
			continue
		}
		if got := re.MatchString(tc.s); got != tc.match {
			t.Errorf("%q matches %q: %v, want %v", tc.pat, tc.s, got, tc.match)
		}
	}
}

func TestValuesOfABrokenEntry(t *testing.T) {
	e := entries()[3]
	e.OnBoot = false // zero as it is
	for _, n := range []string{"hostname", "onboot", "layout", "numproc", "ip"} {
		f, _ := Lookup(n)
		if v := f.Value(&e); v != nil {
			t.Errorf("%s of a broken entry = %v, want unset", n, v)
		}
	}
	for n, want := range map[string]any{"ctid": uint64(102), "status": runtime.StateError, "smart_name": "102"} {
		f, _ := Lookup(n)
		if v := f.Value(&e); v != want {
			t.Errorf("%s of a broken entry = %#v, want %#v", n, v, want)
		}
	}
}

// A beancounter field shows the row Entries read: barrier and limit for
// every container, held, maxheld and failcnt only for a running one.
func TestBeancounterValues(t *testing.T) {
	rows := resource.Default().Beancounters(nil)
	for i := range rows {
		if rows[i].Resource == "numproc" {
			rows[i].Held, rows[i].MaxHeld, rows[i].Barrier, rows[i].Limit, rows[i].FailCnt = 7, 40, 100, 120, 3
		}
	}
	run := runtime.Entry{CTID: "101", Status: runtime.StateRunning, NProc: 99, UBC: rows}
	stop := runtime.Entry{CTID: "102", Status: runtime.StateStopped, UBC: rows}
	for _, tc := range []struct {
		field     string
		run, stop any
	}{
		{"numproc", uint64(99), nil}, // the process count
		{"numproc.m", uint64(40), nil},
		{"numproc.b", uint64(100), uint64(100)},
		{"numproc.l", uint64(120), uint64(120)},
		{"numproc.f", uint64(3), nil},
		{"physpages.l", uint64(resource.Unlimited), uint64(resource.Unlimited)},
		{"numfile", uint64(0), nil}, // no mainline counter: held 0
	} {
		f, err := Lookup(tc.field)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Value(&run); got != tc.run {
			t.Errorf("%s of a running container = %v, want %v", tc.field, got, tc.run)
		}
		if got := f.Value(&stop); got != tc.stop {
			t.Errorf("%s of a stopped container = %v, want %v", tc.field, got, tc.stop)
		}
	}
	f, _ := Lookup("numproc")
	if u := f.Beancounter(&run); u == nil || *u.Held != 99 || *u.MaxHeld != 40 || u.Barrier != 100 || u.Limit != 120 || *u.FailCnt != 3 {
		t.Errorf("Beancounter(running) = %+v", u)
	}
	if u := f.Beancounter(&stop); u == nil || u.Held != nil || u.FailCnt != nil || u.Limit != 120 {
		t.Errorf("Beancounter(stopped) = %+v", u)
	}
	// Without a row (the configuration could not be read) numproc is
	// still the process count of a running container.
	if got := f.Value(&runtime.Entry{Status: runtime.StateRunning, NProc: 5}); got != uint64(5) {
		t.Errorf("numproc without beancounters = %v, want 5", got)
	}
}

// The CPU and I/O limit fields are the configuration Entries read: for
// every container, from Entry.Resources; unknown without it.
func TestLimitValues(t *testing.T) {
	rc := resource.Default()
	for k, v := range map[string]string{"CPULIMIT": "50", "CPUUNITS": "3000", "CPUS": "1", "IOPRIO": "7", "PHYSPAGES": "0:256M", "SWAPPAGES": "0:512M"} {
		if err := rc.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	def := resource.Default()
	set := runtime.Entry{CTID: "101", Status: runtime.StateRunning, Resources: &rc}
	unset := runtime.Entry{CTID: "102", Status: runtime.StateStopped, Resources: &def}
	for _, tc := range []struct {
		field      string
		set, unset any
	}{
		{"cpulimit", uint64(50), uint64(0)},
		{"cpuunits", uint64(3000), uint64(1000)},
		{"cpus", uint64(1), uint64(0)},
		{"ioprio", uint64(7), uint64(4)},
		{"vswap", true, false},
	} {
		f, err := Lookup(tc.field)
		if err != nil {
			t.Fatal(err)
		}
		if !NeedResources(f) || NeedBeancounters(f) || NeedDiskUsage(f) {
			t.Errorf("%s: needs resources %v, beancounters %v, disk usage %v", tc.field, NeedResources(f), NeedBeancounters(f), NeedDiskUsage(f))
		}
		if got := f.Value(&set); got != tc.set {
			t.Errorf("%s = %#v, want %#v", tc.field, got, tc.set)
		}
		if got := f.Value(&unset); got != tc.unset {
			t.Errorf("%s of the defaults = %#v, want %#v", tc.field, got, tc.unset)
		}
		if got := f.Value(&runtime.Entry{CTID: "103", Status: runtime.StateRunning}); got != nil {
			t.Errorf("%s without the configuration read = %#v, want unset", tc.field, got)
		}
	}
	// vswap needs both limits: RAM alone, or swap with unlimited RAM, is not.
	f, _ := Lookup("vswap")
	for _, kv := range [][2]string{{"PHYSPAGES", "0:256M"}, {"SWAPPAGES", "0:512M"}} {
		c := resource.Default()
		if err := c.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
		if got := f.Value(&runtime.Entry{CTID: "104", Resources: &c}); got != false {
			t.Errorf("vswap with %s=%s alone = %v, want false", kv[0], kv[1], got)
		}
	}
	if f, _ := Lookup("ctid"); NeedResources(f) {
		t.Error("ctid needs the resource configuration")
	}
}
