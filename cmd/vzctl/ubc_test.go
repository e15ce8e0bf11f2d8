package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vzkit/vzkit/runtime/resource"
)

// ubcRow is one resource of vzctl ubc's table.
type ubcRow struct{ held, maxheld, barrier, limit, failcnt uint64 }

// ubc runs vzctl ubc ARGS and returns each container's rows by resource,
// checking the layout of /proc/user_beancounters on the way.
func (e *env) ubc(args ...string) map[string]map[string]ubcRow {
	e.t.Helper()
	out := e.ok(append([]string{"ubc"}, args...)...)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 2 || lines[0] != "Version: 2.5" ||
		strings.Join(strings.Fields(lines[1]), " ") != "uid resource held maxheld barrier limit failcnt" {
		e.t.Fatalf("vzctl ubc %v: no /proc/user_beancounters header:\n%s", args, out)
	}
	all := map[string]map[string]ubcRow{}
	var ct string
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) == 7 {
			ct, f = strings.TrimSuffix(f[0], ":"), f[1:]
			all[ct] = map[string]ubcRow{}
		}
		if len(f) != 6 || ct == "" {
			e.t.Fatalf("vzctl ubc %v: bad row %q:\n%s", args, l, out)
		}
		var n [5]uint64
		for i, s := range f[1:] {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				e.t.Fatalf("vzctl ubc %v: row %q: %v", args, l, err)
			}
			n[i] = v
		}
		all[ct][f[0]] = ubcRow{n[0], n[1], n[2], n[3], n[4]}
	}
	return all
}

const unlimited = 9223372036854775807

// A fork bomb in a container with --numproc 100 hits its limit, not the
// host's: the container keeps working once it is over, and ubc counts
// what was refused.
func TestUbcForkBombContained(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "101", "--ostemplate", "debian-12-minimal")
	e.ok("start", "101")
	e.ok("set", "101", "--numproc", "100", "--save")
	_, dirs := e.running("101")

	// 300 sleepers, three times the limit; the shell gives up at the
	// first fork refused. It must end by itself (the limit holds it).
	done := make(chan struct{})
	var stderr string
	var code int
	go func() {
		defer close(done)
		_, stderr, code = e.run("exec", "101", "for i in $(seq 300); do sleep 3 & done; wait")
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the fork bomb still runs after 60 s")
	}
	if code == 0 {
		t.Errorf("300 forks under --numproc 100 all succeeded (stderr %q)", stderr)
	}
	// The host is fine: it forks as ever.
	if out, err := exec.Command("sh", "-c", "for i in $(seq 200); do true & done; wait; echo host ok").CombinedOutput(); err != nil || string(out) != "host ok\n" {
		t.Errorf("the host cannot fork after the bomb: %q %v", out, err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		o, s, c := e.run("exec", "101", "true")
		if c == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exec 101 true after the bomb: exit %d %s %s", c, o, s)
		}
		time.Sleep(500 * time.Millisecond)
	}

	r := e.ubc("101")["101"]["numproc"]
	if r.failcnt == 0 || r.maxheld > 100 || r.maxheld < 50 || r.barrier != 100 || r.limit != 100 {
		t.Errorf("ubc numproc after the bomb: %+v, want failcnt > 0, 50 <= maxheld <= 100, barrier:limit 100:100", r)
	}
	if got := e.cgroupValue(dirs, "pids.events"); got != "max "+strconv.FormatUint(r.failcnt, 10) {
		t.Errorf("ubc numproc failcnt %d, the cgroup's pids.events says %q", r.failcnt, got)
	}
	if got := strings.Fields(e.ok("list", "-H", "-o", "numproc.f,numproc.l", "101")); len(got) != 2 || got[0] != strconv.FormatUint(r.failcnt, 10) || got[1] != "100" {
		t.Errorf("list -o numproc.f,numproc.l: %v, ubc says %+v", got, r)
	}
}

// A memory hog in a container with 64M of RAM and no swap is killed
// inside it: the container's init survives, and another container serves
// throughout.
func TestUbcOOMStaysInside(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"101", "102"} {
		e.ok("create", id, "--ostemplate", "debian-12-minimal")
		e.ok("start", id)
	}
	e.ok("set", "101", "--ram", "64M", "--swap", "0", "--save")
	pid, _ := e.running("101")

	var (
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		mu       sync.Mutex
		served   int
		failures []string
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			o, s, c := e.run("exec", "102", "echo", "ok")
			mu.Lock()
			if c != 0 || o != "ok\n" {
				failures = append(failures, strconv.Itoa(c)+" "+o+s)
			} else {
				served++
			}
			mu.Unlock()
		}
	}()

	// The shell doubles a string until the memory cgroup is full (exec
	// runs its words as one shell command line, as OpenVZ's does).
	_, stderr, code := e.run("exec", "101", "x=a; while true; do x=$x$x; done")
	time.Sleep(time.Second) // 102 keeps answering after the kill too
	close(stop)
	wg.Wait()
	if code != 128+9 {
		t.Errorf("memory hog in 101: exit %d, want 137 (SIGKILL by the OOM killer); stderr %q", code, stderr)
	}
	if len(failures) > 0 || served == 0 {
		t.Errorf("102 while 101 was out of memory: %d answers, failures %q", served, failures)
	}
	if p2, _ := e.running("101"); p2 != pid {
		t.Errorf("101's init changed from %d to %d: it did not survive", pid, p2)
	}
	e.ok("exec", "101", "true")

	u := e.ubc("101")["101"]
	if r := u["physpages"]; r.failcnt == 0 || r.limit != 64<<20/4096 || r.maxheld > r.limit {
		t.Errorf("ubc physpages after the OOM: %+v, want failcnt > 0, limit %d, maxheld <= limit", r, 64<<20/4096)
	}
	if r := u["oomguarpages"]; r.failcnt == 0 {
		t.Errorf("ubc oomguarpages after the OOM: %+v, want the kill counted in failcnt", r)
	}
	if r := u["swappages"]; r.limit != 0 {
		t.Errorf("ubc swappages: %+v, want limit 0 (--swap 0)", r)
	}
}

// ubc's values are the cgroup's, in OpenVZ's units: numproc in
// processes, physpages in pages, kmemsize in bytes; barrier and limit the
// configuration's, unlimited as LONG_MAX; vzlist shows the same.
func TestUbcMatchesCgroup(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"101", "102"} {
		e.ok("create", id, "--ostemplate", "debian-12-minimal")
	}
	e.ok("set", "101", "--numproc", "40:50", "--ram", "128M", "--save")
	e.ok("set", "102", "--numproc", "60", "--save")
	e.ok("start", "101")
	_, dirs := e.running("101")
	num := func(file string) uint64 {
		v, err := strconv.ParseUint(e.cgroupValue(dirs, file), 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		return v
	}
	has := func(file string) bool {
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, file)); err == nil {
				return true
			}
		}
		return false
	}

	all := e.ubc("--all")
	if _, ok := all["102"]; ok || len(all) != 1 {
		t.Errorf("ubc --all shows %d containers, stopped 102 included: %v", len(all), all)
	}
	u := e.ubc("101")["101"]
	if len(u) != 21 {
		t.Errorf("ubc 101 has %d resources, want OpenVZ's 21", len(u))
	}
	np := u["numproc"]
	if np.held != num("pids.current") || np.barrier != 40 || np.limit != 50 {
		t.Errorf("numproc %+v: pids.current %d, want barrier:limit 40:50", np, num("pids.current"))
	}
	if has("pids.peak") && np.maxheld != num("pids.peak") {
		t.Errorf("numproc maxheld %d, pids.peak %d", np.maxheld, num("pids.peak"))
	}
	usage, peak := "memory.current", "memory.peak"
	if has("memory.usage_in_bytes") {
		usage, peak = "memory.usage_in_bytes", "memory.max_usage_in_bytes"
	}
	// Memory moves a little between two reads: within 10%.
	near := func(a, b uint64) bool { return a*10 >= b*9 && b*10 >= a*9 }
	pp := u["physpages"]
	if !near(pp.held, num(usage)/4096) || pp.limit != 128<<20/4096 || pp.barrier != 0 {
		t.Errorf("physpages %+v: %s %d bytes, want held in pages and limit %d", pp, usage, num(usage), 128<<20/4096)
	}
	if has(peak) && !near(pp.maxheld, num(peak)/4096) {
		t.Errorf("physpages maxheld %d, %s %d bytes", pp.maxheld, peak, num(peak))
	}
	if has("memory.kmem.usage_in_bytes") && !near(u["kmemsize"].held, num("memory.kmem.usage_in_bytes")) {
		t.Errorf("kmemsize %+v, memory.kmem.usage_in_bytes %d", u["kmemsize"], num("memory.kmem.usage_in_bytes"))
	}
	for _, name := range []string{"kmemsize", "numfile", "numtcpsock", "vmguarpages"} {
		if r := u[name]; r.barrier != unlimited || r.limit != unlimited {
			t.Errorf("%s %+v, want unlimited as %d", name, r, uint64(unlimited))
		}
	}
	if r := u["numflock"]; r.held != 0 || r.maxheld != 0 || r.failcnt != 0 {
		t.Errorf("numflock has no mainline counter, yet %+v", r)
	}

	// vzlist's fields: the same values; a stopped container has its
	// barrier and limit, and "-" for what only a running one has.
	got := e.ok("list", "-a", "-H", "-o", "ctid,numproc.f,numproc.b,numproc.l")
	want := "101 0 40 50\n102 - 60 60\n"
	var norm []string
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		norm = append(norm, strings.Join(strings.Fields(l), " "))
	}
	if strings.Join(norm, "\n")+"\n" != want {
		t.Errorf("list -o numproc,...:\n%s\nwant:\n%s", got, want)
	}

	// A named container that does not run: reported, exit 31.
	if s := e.code(31, "ubc", "102"); !strings.Contains(s, "container 102: container is not running") {
		t.Errorf("ubc 102 (stopped): %q", s)
	}
	e.code(20, "ubc")
}

// ubc --help is wrapped as the other Long texts are, and still says
// every counter in full.
func TestUbcHelpWrapped(t *testing.T) {
	long := ubcLong()
	for i, l := range strings.Split(long, "\n") {
		if len(l) > helpWidth {
			t.Errorf("ubc --help line %d is %d columns, want at most %d: %q", i+1, len(l), helpWidth, l)
		}
	}
	words := strings.Join(strings.Fields(long), " ")
	for _, r := range resource.UBCResources {
		if want := strings.Join(strings.Fields(r.Name+": "+r.Counter), " "); r.Counter != "" && !strings.Contains(words, want) {
			t.Errorf("ubc --help lacks %q", want)
		}
	}
}

// A set without --save changes what a running container holds, not its
// files: ubc and vzlist show what is in force, as OpenVZ's
// /proc/user_beancounters does; the next set changes only what it names;
// a stop and start gives back the saved values.
func TestUbcAndListShowWhatIsInForce(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"101", "102"} {
		e.ok("create", id, "--ostemplate", "debian-12-minimal")
	}
	e.ok("set", "101", "--numproc", "200", "--cpuunits", "1500", "--save")
	e.ok("set", "102", "--cpulimit", "25", "--ioprio", "6", "--save")
	e.ok("start", "101")
	fields := func(args ...string) string {
		t.Helper()
		return strings.Join(strings.Fields(e.ok(append([]string{"list", "-H"}, args...)...)), " ")
	}
	saved := func(when string) {
		t.Helper()
		if r := e.ubc("101")["101"]["numproc"]; r.barrier != 200 || r.limit != 200 {
			t.Errorf("%s: ubc numproc %+v, want the saved 200:200", when, r)
		}
		if got := fields("-o", "numproc.b,numproc.l,cpulimit,cpuunits", "101"); got != "200 200 0 1500" {
			t.Errorf("%s: list -o numproc.b,numproc.l,cpulimit,cpuunits: %q, want the saved 200 200 0 1500", when, got)
		}
	}
	saved("started")

	e.ok("set", "101", "--numproc", "80:80")
	_, dirs := e.running("101")
	if got := e.cgroupValue(dirs, "pids.max"); got != "80" {
		t.Fatalf("set --numproc 80:80 live: pids.max %s", got)
	}
	if r := e.ubc("101")["101"]["numproc"]; r.barrier != 80 || r.limit != 80 {
		t.Errorf("after a live set --numproc 80:80: ubc numproc %+v, want barrier:limit 80:80", r)
	}
	if got := fields("-o", "numproc.b,numproc.l", "101"); got != "80 80" {
		t.Errorf("after a live set --numproc 80:80: list -o numproc.b,numproc.l: %q, want 80 80", got)
	}
	if v := e.confValue("101", "NUMPROC"); v != "200:200" {
		t.Errorf("a set without --save changed 101.conf: NUMPROC=%q", v)
	}

	// NUMTCPSOCK takes effect at the next start: saved, not yet in force.
	if _, stderr, code := e.run("set", "101", "--numtcpsock", "50:60", "--save"); code != 0 || !strings.Contains(stderr, "next start") {
		t.Errorf("set --numtcpsock 50:60 --save: exit %d, stderr %q; want a note that it waits for the next start", code, stderr)
	}
	if r := e.ubc("101")["101"]["numtcpsock"]; r.barrier != unlimited || r.limit != unlimited {
		t.Errorf("after set --numtcpsock 50:60 --save (next start): ubc numtcpsock %+v, want still unlimited", r)
	}
	e.ok("set", "101", "--cpulimit", "50", "--cpuunits", "3000")
	if got := fields("-o", "cpulimit,cpuunits,numproc.l", "101"); got != "50 3000 80" {
		t.Errorf("after a live set --cpulimit 50 --cpuunits 3000: list -o cpulimit,cpuunits,numproc.l: %q, want 50 3000 80 (numproc kept)", got)
	}
	if got := e.cgroupValue(dirs, "pids.max"); got != "80" {
		t.Errorf("a live set of the CPU changed pids.max to %s, want 80 as the set before left it", got)
	}
	// vzlist 4's JSON: numbers, vswap a boolean (the basic sample limits
	// RAM and swap); a stopped container shows its files.
	got := e.ok("list", "-a", "-j", "-o", "ctid,cpulimit,cpuunits,cpus,ioprio,vswap")
	want := `[{"ctid":101,"cpulimit":50,"cpuunits":3000,"cpus":0,"ioprio":4,"vswap":true},` +
		`{"ctid":102,"cpulimit":25,"cpuunits":1000,"cpus":0,"ioprio":6,"vswap":true}]`
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(got)); err != nil || compact.String() != want {
		t.Errorf("list -a -j -o ctid,cpulimit,...:\n%s\nwant %s (%v)", got, want, err)
	}
	if got := fields("-a", "-s", "-cpulimit", "-o", "ctid"); got != "101 102" {
		t.Errorf("list -s -cpulimit: %q, want 101 (50) before 102 (25)", got)
	}

	// The record is vzkit's: in STATEDIR/ct, which the containers' roots
	// cannot write, not in a container's gate.
	ct := e.path("run/vzkit/ct")
	for _, p := range []string{ct, filepath.Join(ct, "101.resources")} {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != 0 || st.Mode&0o022 != 0 {
			t.Errorf("%s: uid %d mode %04o, want root's and writable by no one else", p, st.Uid, st.Mode&0o7777)
		}
	}

	e.ok("stop", "101")
	if _, err := os.Lstat(filepath.Join(ct, "101.resources")); !os.IsNotExist(err) {
		t.Errorf("stop left the record of what was in force: %v", err)
	}
	e.ok("start", "101")
	saved("stopped and started again")
	if r := e.ubc("101")["101"]["numtcpsock"]; r.barrier != 50 || r.limit != 60 {
		t.Errorf("after a restart: ubc numtcpsock %+v, want the saved 50:60", r)
	}
	if _, dirs := e.running("101"); e.cgroupValue(dirs, "pids.max") != "200" {
		t.Errorf("after stop and start pids.max is %s, want the saved 200", e.cgroupValue(dirs, "pids.max"))
	}

	// A record that is not what vzkit writes is refused, naming it, not
	// guessed at; --reset_ub applies the saved configuration again.
	rec := filepath.Join(ct, "101.resources")
	if err := os.WriteFile(rec, []byte("NUMPROC=\"1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := e.run("ubc", "101"); code == 0 || !strings.Contains(stderr, "101.resources") {
		t.Errorf("ubc with a broken record: exit %d, stderr %q; want an error naming the record", code, stderr)
	}
	e.ok("set", "101", "--reset_ub")
	saved("after --reset_ub")
}
