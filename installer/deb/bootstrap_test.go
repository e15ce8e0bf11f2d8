package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pault.ag/go/debian/dependency"

	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}

const testSuite = "bookworm"

// hostMirror returns the first mirror the host's apt sources use for suite
// (deb822 .sources first, then one-line sources.list), so no mirror name is
// written here.
func hostMirror(t testing.TB, suite string) string {
	t.Helper()
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, stanza := range strings.Split(string(b), "\n\n") {
			fields := map[string]string{}
			for _, line := range strings.Split(stanza, "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
					fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
				}
			}
			if slices.Contains(strings.Fields(fields["types"]), "deb") && slices.Contains(strings.Fields(fields["suites"]), suite) {
				if uris := strings.Fields(fields["uris"]); len(uris) > 0 {
					return uris[0]
				}
			}
		}
	}
	if b, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		re := regexp.MustCompile(`^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)`)
		for _, line := range strings.Split(string(b), "\n") {
			if m := re.FindStringSubmatch(strings.TrimSpace(line)); m != nil && m[2] == suite {
				return m[1]
			}
		}
	}
	testenv.Missing(t, "no apt source for %s on this host", suite)
	return ""
}

var (
	debsOnce sync.Once
	debsDir  string
	debsErr  error
)

// minbaseDebs downloads the minbase package set once per run (kept under
// os.TempDir between runs) with mmdebstrap itself: the Essential set is
// copied out by an essential hook, everything by a customize hook.
// It returns the directory holding essential/ and all/.
func minbaseDebs(t testing.TB) string {
	t.Helper()
	debsOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "vzkit-deb-test-minbase-"+testSuite)
		if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
			debsDir = dir
			return
		}
		os.RemoveAll(dir)
		mirror := hostMirror(t, testSuite)
		cmd := exec.Command("mmdebstrap", "--variant=minbase", "--skip=essential/unlink", "--format=null",
			"--essential-hook=sync-out /var/cache/apt/archives "+filepath.Join(dir, "essential"),
			"--customize-hook=sync-out /var/cache/apt/archives "+filepath.Join(dir, "all"),
			testSuite, "/dev/null", mirror)
		if out, err := cmd.CombinedOutput(); err != nil {
			debsErr = fmt.Errorf("mmdebstrap download: %v\n%s", err, out)
			return
		}
		debsErr = os.WriteFile(filepath.Join(dir, "complete"), nil, 0o644)
		debsDir = dir
	})
	if debsErr != nil {
		t.Fatal(debsErr)
	}
	return debsDir
}

// orderedSets splits the downloaded .debs into the Essential set and the
// rest, each in dependency order (what the solver hands Bootstrap).
func orderedSets(t testing.TB, dir string) (ess, rest []string) {
	t.Helper()
	essNames := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "essential", "*.deb"))
	for _, f := range files {
		essNames[filepath.Base(f)] = true
	}
	all, _ := filepath.Glob(filepath.Join(dir, "all", "*.deb"))
	var essPkgs, restPkgs []*Package
	for _, f := range all {
		p, err := Open(f)
		if err != nil {
			t.Fatal(err)
		}
		if essNames[filepath.Base(f)] {
			essPkgs = append(essPkgs, p)
		} else {
			restPkgs = append(restPkgs, p)
		}
	}
	if len(essPkgs) < 30 || len(restPkgs) == 0 {
		t.Fatalf("unexpected package sets: %d essential, %d rest", len(essPkgs), len(restPkgs))
	}
	for _, p := range topoSort(t, essPkgs) {
		ess = append(ess, p.Path)
	}
	for _, p := range topoSort(t, restPkgs) {
		rest = append(rest, p.Path)
	}
	return ess, rest
}

// topoSort orders packages so that (Pre-)Depends come first where the
// graph allows; cycles are broken in name order.
func topoSort(t testing.TB, pkgs []*Package) []*Package {
	byName := map[string]*Package{}
	provides := map[string]string{}
	for _, p := range pkgs {
		byName[p.Name] = p
		if d, err := dependency.Parse(p.Control.Values["Provides"]); err == nil {
			for _, rel := range d.Relations {
				for _, pos := range rel.Possibilities {
					provides[pos.Name] = p.Name
				}
			}
		}
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	state := map[string]int{} // 1 visiting, 2 done
	var out []*Package
	var visit func(p *Package)
	visit = func(p *Package) {
		if state[p.Name] != 0 {
			return
		}
		state[p.Name] = 1
		for _, field := range []string{"Pre-Depends", "Depends"} {
			d, err := dependency.Parse(p.Control.Values[field])
			if err != nil {
				t.Fatalf("%s %s: %v", p.Name, field, err)
			}
			for _, rel := range d.Relations {
				for _, pos := range rel.Possibilities {
					name := pos.Name
					if q, ok := provides[name]; ok && byName[name] == nil {
						name = q
					}
					if q := byName[name]; q != nil {
						visit(q)
						break
					}
				}
			}
		}
		state[p.Name] = 2
		out = append(out, p)
	}
	for _, p := range pkgs {
		visit(p)
	}
	return out
}

// fileMirror makes a file:// apt repository of the .debs with
// apt-ftparchive, for mmdebstrap to install the very same files.
func fileMirror(t testing.TB, debs []string) string {
	t.Helper()
	dir := t.TempDir()
	pool := filepath.Join(dir, "pool")
	bin := filepath.Join(dir, "dists", testSuite, "main", "binary-amd64")
	for _, d := range []string{pool, bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range debs {
		// Real files: mmdebstrap bind-mounts the mirror into its chroot,
		// where a symlink to a host path would dangle.
		dst := filepath.Join(pool, filepath.Base(d))
		if err := os.Link(d, dst); err != nil {
			b, err := os.ReadFile(d)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := func(out string, args ...string) {
		cmd := exec.Command("apt-ftparchive", args...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("apt-ftparchive %v: %v\n%s", args, err, stderr.String())
		}
		if err := os.WriteFile(filepath.Join(dir, out), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("dists/"+testSuite+"/main/binary-amd64/Packages", "packages", "pool")
	run("dists/"+testSuite+"/Release", "-o", "APT::FTPArchive::Release::Suite="+testSuite,
		"-o", "APT::FTPArchive::Release::Codename="+testSuite, "release", "dists/"+testSuite)
	return dir
}

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "bootstrap needs root (sandbox, chown, mknod); run the tests as root")
	}
	for _, tool := range []string{"mmdebstrap", "apt-ftparchive", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "%s not installed", tool)
		}
	}
}

// TestBootstrapMinbase builds a minbase root with mmdebstrap and with
// Bootstrap (both ways of installing the Essential set) from the same .debs
// and compares them file by file, then runs Debian's own checks inside.
func TestBootstrapMinbase(t *testing.T) {
	requireRoot(t)
	ess, rest := orderedSets(t, minbaseDebs(t))
	mirror := fileMirror(t, append(append([]string{}, ess...), rest...))
	base := t.TempDir()

	ref := filepath.Join(base, "mmdebstrap")
	cpu0, start := cpuTime(), time.Now()
	// A local mirror has no Priority overrides, so minbase alone would
	// stop at the Essential set: name the rest explicitly.
	var names []string
	for _, f := range rest {
		p, err := Open(f)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, p.Name)
	}
	cmd := exec.Command("mmdebstrap", "--variant=minbase", "--format=directory", "--include="+strings.Join(names, ","),
		"--aptopt=Acquire::AllowInsecureRepositories \"true\"",
		"--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount",
		testSuite, ref, "deb [trusted=yes] file://"+mirror+" "+testSuite+" main")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap: %v\n%s", err, tail(string(out), 3000))
	}
	t.Logf("mmdebstrap: %d packages from a file:// mirror of the same .debs in %v wall / %v CPU",
		len(ess)+len(rest), time.Since(start).Round(time.Millisecond), (cpuTime() - cpu0).Round(time.Millisecond))

	for _, mode := range []struct {
		name      string
		reinstall bool
	}{{"register-essential", false}, {"reinstall-essential", true}} {
		t.Run(mode.name, func(t *testing.T) {
			ours := filepath.Join(base, mode.name)
			defer os.RemoveAll(ours)
			var log bytes.Buffer
			hookRan := false
			var events []Progress
			cpu0, start := cpuTime(), time.Now()
			err := Bootstrap(context.Background(), BootstrapOptions{
				Root: ours, Essential: ess, Packages: rest,
				Sources:            Sources{Entries: []Source{{Mirror: "file://" + mirror, Suite: testSuite}}},
				StateDir:           filepath.Join(base, "state"),
				Stdout:             &log,
				Stderr:             &log,
				ReinstallEssential: mode.reinstall,
				Progress:           func(p Progress) { events = append(events, p) },
				PreInstall: func(ctx context.Context, root string) error {
					// Every package is unpacked: apt's binary is there,
					// but apt is not configured yet, so its conffile
					// still waits under dpkg's .dpkg-new name.
					if _, err := os.Stat(filepath.Join(root, "usr/bin/apt-get")); err != nil {
						return err
					}
					if _, err := os.Stat(filepath.Join(root, "etc/apt/apt.conf.d/01autoremove.dpkg-new")); err != nil {
						return err
					}
					hookRan = true
					return nil
				},
			})
			if err != nil {
				t.Fatalf("Bootstrap: %v\n%s", err, tail(log.String(), 3000))
			}
			t.Logf("vzkit (%s): %d packages in %v wall / %v CPU", mode.name, len(ess)+len(rest),
				time.Since(start).Round(time.Millisecond), (cpuTime() - cpu0).Round(time.Millisecond))
			if !hookRan {
				t.Error("PreInstall hook not called")
			}
			checkProgress(t, events, len(ess), len(rest))
			compareTrees(t, ref, ours, mirror)
			checkNoLeftovers(t, ours)
			checkInside(t, ours) // last: apt-get check writes apt's caches
		})
	}
}

// checkProgress: every dpkg step reported its start, each of its packages
// once, in order of a rising count, and its end with every package done.
func checkProgress(t *testing.T, events []Progress, ess, rest int) {
	t.Helper()
	var steps []string
	for i, e := range events {
		switch {
		case e.Package == "" && !e.Finished:
			steps = append(steps, fmt.Sprintf("%s/%d", e.Step, e.Total))
			if e.Done != 0 {
				t.Errorf("event %d: a step starts with %d done", i, e.Done)
			}
		case e.Finished:
			if e.Done != e.Total {
				t.Errorf("step %s ended with %d of %d packages reported", e.Step, e.Done, e.Total)
			}
		default:
			prev := events[i-1]
			if prev.Step != e.Step || e.Done != prev.Done+1 || e.Total != prev.Total {
				t.Errorf("event %d: %+v after %+v", i, e, prev)
			}
		}
	}
	want := []string{fmt.Sprintf("configure/%d", ess), fmt.Sprintf("unpack/%d", rest), fmt.Sprintf("configure/%d", rest)}
	if events[0].Step == StepInstall {
		want[0] = fmt.Sprintf("install/%d", ess)
	}
	if strings.Join(steps, " ") != strings.Join(want, " ") {
		t.Errorf("progress steps %v, want %v", steps, want)
	}
}

// checkInside runs Debian's own consistency checks in the new root.
func checkInside(t *testing.T, root string) {
	t.Helper()
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code, err := sandbox.Run(context.Background(), DefaultSandbox(root, t.TempDir()), sandbox.Process{
			Args: args, Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8"},
			Stdout: &out, Stderr: &out,
		})
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return code, out.String()
	}
	if code, out := run("dpkg", "--audit"); code != 0 || out != "" {
		t.Errorf("dpkg --audit: exit %d\n%s", code, out)
	}
	if code, out := run("apt-get", "check"); code != 0 {
		t.Errorf("apt-get check: exit %d\n%s", code, out)
	}
	code, out := run("dpkg", "-V")
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "missing") {
			t.Errorf("dpkg -V: %s", line)
		}
	}
	if code != 0 && !strings.Contains(out, "??5") {
		t.Errorf("dpkg -V: exit %d\n%s", code, out)
	}
	if code, out := run("dpkg-query", "-W", "-f=${db:Status-Abbrev}\n"); code != 0 || strings.Count(out, "ii ") != strings.Count(out, "\n") {
		t.Errorf("not every package is installed (ii):\n%s", out)
	}
}

func checkNoLeftovers(t *testing.T, root string) {
	t.Helper()
	for _, p := range []string{dpkgCfgSnippet, policyRcD, "var/log/dpkg.log", "var/log/alternatives.log", debsMountDir} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("build leftover /%s", p)
		}
	}
	for _, dir := range []string{"tmp", "var/cache/apt/archives", "var/lib/apt/lists"} {
		ents, _ := os.ReadDir(filepath.Join(root, dir))
		for _, e := range ents {
			if e.Name() != "partial" && e.Name() != "lock" {
				t.Errorf("build leftover /%s/%s", dir, e.Name())
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/machine-id")); err == nil && len(b) > 0 {
		t.Errorf("/etc/machine-id not empty: %q", b)
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/apt/sources.list")); err != nil || !strings.HasPrefix(string(b), "deb file://") {
		t.Errorf("sources.list: %q %v", b, err)
	}
}

// allowedDiff lists the files that legitimately differ between our root
// and mmdebstrap's, and why.
var allowedDiff = map[string]string{
	"/etc/hostname":                        "mmdebstrap copies the host's; vzctl sets the container's",
	"/etc/resolv.conf":                     "mmdebstrap copies the host's; vzctl sets the container's",
	"/etc/apt/apt.conf.d/99mmdebstrap":     "mmdebstrap's record of the --aptopt this test passes it",
	"/etc/apt/sources.list":                "mmdebstrap writes its [trusted=yes] option for the unsigned local mirror",
	"/var/lib/apt/extended_states":         "apt's auto-installed marks: Bootstrap writes them from the caller's AutoInstalled list, which this test does not pass (vzpkg build does; cmd/vzpkg's e2e test compares the file)",
	"/var/lib/dpkg/status-old":             "backup of the previous status: depends on how many dpkg runs there were",
	"/var/cache/debconf/config.dat-old":    "debconf backup written per run",
	"/var/cache/debconf/templates.dat-old": "debconf backup written per run",
	"/var/cache/apt/archives/lock":         "created by apt-get only",
	"/var/lib/apt/lists/lock":              "created by apt-get only",
}

type node struct {
	typ  fs.FileMode
	mode fs.FileMode
	uid  uint32
	gid  uint32
	link string
	sum  string
	size int64
}

func (n node) String() string {
	return fmt.Sprintf("%v %o %d:%d link=%q size=%d sha=%.12s", n.typ, n.mode, n.uid, n.gid, n.link, n.size, n.sum)
}

func scan(t *testing.T, root string) map[string]node {
	out := map[string]node{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		n := node{typ: info.Mode().Type(), mode: info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), uid: st.Uid, gid: st.Gid}
		switch {
		case info.Mode().Type() == fs.ModeSymlink:
			n.link, _ = os.Readlink(p)
		case info.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			n.size, _ = io.Copy(h, f)
			f.Close()
			n.sum = hex.EncodeToString(h.Sum(nil))
		}
		out[rel] = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compareTrees(t *testing.T, ref, ours, mirror string) {
	t.Helper()
	a, b := scan(t, ref), scan(t, ours)
	var diffs []string
	for p, na := range a {
		nb, ok := b[p]
		if !ok && na.typ.IsDir() && strings.HasPrefix(mirror+"/", p+"/") {
			// The mount point mmdebstrap's file-mirror-automount hook
			// made for the local mirror (empty directories down to it).
			continue
		}
		if why, allowed := allowedDiff[p]; allowed || strings.HasPrefix(p, "/dev/") {
			// /dev: mmdebstrap creates device nodes; a container gets
			// its /dev from the runtime, so the cache carries none.
			if (!ok || na != nb) && allowed {
				t.Logf("allowed difference %s (%s)", p, why)
			}
			continue
		}
		if !ok {
			diffs = append(diffs, "only in mmdebstrap: "+p+" "+na.String())
		} else if na != nb {
			d := fmt.Sprintf("differs: %s\n    mmdebstrap %v\n    vzkit      %v", p, na, nb)
			if na.typ.IsRegular() && nb.typ.IsRegular() && na.size < 64<<10 && nb.size < 64<<10 {
				// Show small files' difference; diff exits 1 when they differ.
				out, _ := exec.Command("diff", "-u", filepath.Join(ref, p), filepath.Join(ours, p)).CombinedOutput()
				d += "\n" + tail(string(out), 2000)
			}
			diffs = append(diffs, d)
		}
	}
	for p, nb := range b {
		if _, ok := a[p]; !ok {
			if why, ok := allowedDiff[p]; ok {
				t.Logf("allowed difference %s (%s)", p, why)
			} else {
				diffs = append(diffs, "only in vzkit: "+p+" "+nb.String())
			}
		}
	}
	sort.Strings(diffs)
	t.Logf("compared %d paths (mmdebstrap) with %d (vzkit); %d differences outside the allow-list", len(a), len(b), len(diffs))
	for _, d := range diffs {
		t.Error(d)
	}
}

// cpuTime is the user+system time of this process and its reaped
// descendants (the sandboxes' dpkg, mmdebstrap): a fairer figure than wall
// time on a machine shared with other builds.
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	d := func(tv syscall.Timeval) time.Duration { return time.Duration(tv.Nano()) }
	return d(self.Utime) + d(self.Stime) + d(kids.Utime) + d(kids.Stime)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
