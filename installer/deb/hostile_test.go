package deb

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
	"pault.ag/go/debian/dependency"

	"github.com/vzkit/vzkit/internal/extract"
	"github.com/vzkit/vzkit/internal/hostiletest"
	"github.com/vzkit/vzkit/internal/saferoot"
	"github.com/vzkit/vzkit/repo/apt/apttest"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

// hostileBound is the liveness bound of one hostile Bootstrap or Install:
// a FIFO or device in the root must fail or be contained, never hang.
// The context given them ends a little earlier, so that a sandbox stuck
// on one is killed and the test can go on.
const hostileBound = 5 * time.Minute

func hostileContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hostileBound-30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dirCanaries are the names host-side code would create, write or remove
// in a canary directory that a symlinked directory of the root led it
// to: each is a canary, so that Check sees any of that.
var dirCanaries = []string{
	"file", // the target of file-level symlinks
	"history.log", "term.log", "eipp.log.xz", "machine-id", "aux-cache",
	"vzkit-debs", "0", "dpkg.log", "alternatives.log",
}

var (
	smallOnce sync.Once
	smallSet  []string
)

// smallEssential is the dependency closure of dpkg and the tools it and the
// Essential maintainer scripts call (dash, coreutils, libc-bin, ...) in
// the downloaded Essential set, in dependency order: enough for dpkg to
// configure packages and for the hostile maintainer scripts' commands
// (ln, mkfifo, mknod), at a fraction of the whole set's configure time.
func smallEssential(t *testing.T) []string {
	t.Helper()
	dir := minbaseDebs(t)
	smallOnce.Do(func() {
		files, _ := filepath.Glob(filepath.Join(dir, "essential", "*.deb"))
		byName := map[string]*Package{}
		for _, f := range files {
			p, err := Open(f)
			if err != nil {
				t.Fatal(err)
			}
			byName[p.Name] = p
		}
		var pkgs []*Package
		seen := map[string]bool{}
		var add func(name string)
		add = func(name string) {
			p := byName[name]
			if p == nil || seen[name] {
				return
			}
			seen[name] = true
			pkgs = append(pkgs, p)
			for _, field := range []string{"Pre-Depends", "Depends"} {
				d, err := dependency.Parse(p.Control.Values[field])
				if err != nil {
					t.Fatalf("%s %s: %v", p.Name, field, err)
				}
				for _, rel := range d.Relations {
					for _, pos := range rel.Possibilities {
						if byName[pos.Name] != nil {
							add(pos.Name)
							break
						}
					}
				}
			}
		}
		for _, n := range []string{"dpkg", "dash", "coreutils", "libc-bin", "sed", "grep", "findutils", "diffutils"} {
			add(n)
		}
		for _, p := range topoSort(t, pkgs) {
			smallSet = append(smallSet, p.Path)
		}
	})
	if len(smallSet) < 10 {
		t.Fatalf("small Essential set: %v", smallSet)
	}
	return smallSet
}

// hostileEnv is the host one hostile test guards: canaries, a loop
// device, and the sandboxes it starts (their IDs share a prefix per run,
// so that leftovers are told apart from other builds on the machine and
// from the test's other runs).
type hostileEnv struct {
	host   *hostiletest.Canaries
	loop   *hostiletest.LoopDevice
	base   string
	prefix string
	mu     sync.Mutex
	n      int
}

func newHostileEnv(t *testing.T) *hostileEnv {
	t.Helper()
	requireRoot(t)
	return &hostileEnv{
		host:   hostiletest.NewCanaries(t, dirCanaries...),
		loop:   hostiletest.NewLoopDevice(t),
		base:   t.TempDir(),
		prefix: fmt.Sprintf("vzkit-hostile-%d-%d", os.Getpid(), time.Now().UnixNano()),
	}
}

// sandbox is the Sandbox option for the test's run named run.
func (e *hostileEnv) sandbox(run string) func(root, stateDir string) sandbox.Config {
	return func(root, stateDir string) sandbox.Config {
		e.mu.Lock()
		e.n++
		id := fmt.Sprintf("%s-%s-%d", e.prefix, run, e.n)
		e.mu.Unlock()
		c := DefaultSandbox(root, stateDir)
		c.ID = id
		return c
	}
}

// file is the host canary file-level symlinks point at.
func (e *hostileEnv) file() string { return e.host.Path("file") }

// things are the kinds of thing planted, one per run: a symlink (to the
// canary file, or for a directory to the canary directory), a FIFO,
// /dev/zero's numbers and the canary loop device's.
func (e *hostileEnv) things() []hostiletest.Thing {
	return []hostiletest.Thing{hostiletest.Link(e.file()), hostiletest.Fifo(), hostiletest.Zero(), e.loop.Node()}
}

// forDir is th for a name the host treats as a directory: a symlink then
// leads to the canary directory.
func (e *hostileEnv) forDir(th hostiletest.Thing) hostiletest.Thing {
	if th.Kind == hostiletest.Symlink {
		return hostiletest.Link(e.host.Dir)
	}
	return th
}

// check asserts that the host is as it was and that nothing of run's
// sandboxes is left: state, cgroups, mounts or processes below root.
func (e *hostileEnv) check(t *testing.T, run, root, stateDir string) {
	t.Helper()
	e.host.Check(t)
	e.loop.Check(t)
	if ents, err := os.ReadDir(stateDir); err == nil && len(ents) > 0 {
		for _, d := range ents {
			t.Errorf("sandbox state left: %s", filepath.Join(stateDir, d.Name()))
		}
	}
	id := e.prefix + "-" + run + "-*"
	for _, pattern := range []string{"/sys/fs/cgroup/vzkit/" + id, "/sys/fs/cgroup/*/vzkit/" + id} {
		left, _ := filepath.Glob(pattern)
		for _, p := range left {
			t.Errorf("cgroup left: %s", p)
		}
	}
	// The host's mount table: after a sandbox failed to start, this
	// process's main thread may be left in its mount namespace, and
	// /proc/self/mountinfo would show that one.
	if b, err := os.ReadFile("/proc/1/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], root+"/") {
				t.Errorf("mount left at %s", f[4])
			}
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/root")
	for _, p := range procs {
		if r, err := os.Readlink(p); err == nil && (r == root || strings.HasPrefix(r, root+"/")) {
			t.Errorf("process %s left running in %s", filepath.Base(filepath.Dir(p)), r)
		}
	}
}

// deb builds one test package into the environment's pool.
func (e *hostileEnv) deb(t *testing.T, d apttest.Deb) string {
	t.Helper()
	work := filepath.Join(e.base, "build", d.Name+"-"+d.Version)
	return apttest.BuildDeb(t, work, filepath.Join(e.base, "pool"), d)
}

// payloadDeb is an Essential package whose data.tar plants symlinks to
// the host canaries at what the host writes before and after dpkg runs:
// dpkg's database and its own info files, the build's dpkg.cfg.d snippet
// and policy-rc.d, the preinst staging directory and the .deb mount
// points, and files the end of the build writes, truncates, removes or
// keeps. Its preinst, triggers and md5sums make every registration step
// write at those names.
func (e *hostileEnv) payloadDeb(t *testing.T) string {
	abs, climb := e.file(), hostiletest.Escaping(e.file())
	const name, content = "vzkit-hostile-payload", "payload\n"
	return e.deb(t, apttest.Deb{
		Name: name, Version: "1", Arch: "all", Essential: true, Content: content,
		Symlinks: map[string]string{
			"/var/lib/dpkg/status":                     abs,
			"/var/lib/dpkg/available":                  climb,
			"/var/lib/dpkg/arch":                       abs,
			"/var/lib/dpkg/info/" + name + ".list":     abs,
			"/var/lib/dpkg/info/" + name + ".preinst":  climb,
			"/var/lib/dpkg/info/" + name + ".triggers": abs,
			"/var/lib/dpkg/info/" + name + ".md5sums":  climb,
			"/var/lib/dpkg/triggers/File":              abs,
			"/var/lib/dpkg/triggers/vzkit-hostile":     climb,
			"/var/lib/dpkg/vzkit-preinst":              e.host.Dir,
			"/" + dpkgCfgSnippet:                       abs,
			"/" + policyRcD:                            climb,
			"/" + debsMountDir:                         e.host.Dir,
			"/etc/machine-id":                          abs,
			"/etc/fstab":                               abs,
			"/etc/apt/sources.list":                    abs,
			"/var/lib/apt/extended_states":             climb,
			"/var/cache/apt/archives/lock":             abs,
		},
		Control: map[string]string{
			// dpkg --audit wants one of every registered package.
			"md5sums":  fmt.Sprintf("%x  usr/share/%s/data\n", md5.Sum([]byte(content)), name),
			"preinst":  "#!/bin/sh\nexit 0\n",
			"triggers": "interest /usr/share/vzkit-hostile-trigger\ninterest vzkit-hostile\n",
		},
	})
}

// Names the host touches after dpkg, for scriptsDeb to plant at.
var (
	// Files it writes, truncates or removes. (Not the dpkg.cfg.d
	// snippet: dpkg reads it in its next run inside the sandbox, where
	// a FIFO or /dev/zero would hang dpkg itself; payloadDeb plants it.)
	lateFiles = []string{
		"/etc/machine-id", "/etc/fstab", "/etc/apt/sources.list", "/var/lib/apt/extended_states",
		"/" + policyRcD, "/var/log/alternatives.log",
	}
	// Directories it removes files from or (/run) empties.
	removalDirs = []string{"/var/log/apt", "/var/lib/dbus", "/var/cache/ldconfig", "/run"}
	// Directories it writes in or (/tmp) empties, and a name in each.
	writeDirs = map[string]string{
		"/tmp":                    "hostile",
		"/etc/apt/sources.list.d": "debian.sources",
		"/etc/apt/keyrings":       "vzkit-test.gpg",
		"/var/cache/apt/archives": "hostile",
		"/var/lib/apt/lists":      "hostile",
	}
)

// scriptsDeb is a package whose postinst, the last maintainer script of
// the build, plants th at every name the host touches after dpkg. Of the
// directories the host writes in, a symlink run makes each a symlink to
// the canary directory and creates that directory's in-root twin, so that
// the build's later sandbox steps and writes find a directory inside the
// root and only code following the symlink on the host would reach the
// canaries; other runs plant th inside them, since a FIFO or device in
// their place fails the build (TestHostSideStepsRefuseWhatTheyCannotContain).
// /tmp and /run are moved aside first: the .deb mount points keep /tmp
// busy.
func (e *hostileEnv) scriptsDeb(t *testing.T, version string, th hostiletest.Thing) string {
	dir := e.forDir(th)
	sh := []string{"mkdir -p " + e.host.Dir, "mv /tmp /tmp.aside", "if [ -e /run ]; then mv /run /run.aside; fi"}
	for _, p := range lateFiles {
		sh = append(sh, th.Shell(p))
	}
	// dpkg's own files: a FIFO there would hang dpkg itself in its next
	// run inside the sandbox (and a block device there fail it, for
	// available), which is no host-side matter.
	if th.Kind != hostiletest.FIFO {
		sh = append(sh, th.Shell("/var/log/dpkg.log"))
	}
	if th.Kind == hostiletest.Symlink || th.Kind == hostiletest.CharDevice {
		sh = append(sh, th.Shell("/var/lib/dpkg/available"))
	}
	for _, d := range removalDirs {
		sh = append(sh, dir.Shell(d))
	}
	for d, name := range writeDirs {
		if th.Kind == hostiletest.Symlink {
			sh = append(sh, dir.Shell(d))
		} else {
			sh = append(sh, "mkdir -p "+d, th.Shell(d+"/"+name))
		}
	}
	return e.deb(t, apttest.Deb{
		Name: "vzkit-hostile-scripts", Version: version, Arch: "all",
		Control: map[string]string{"postinst": "#!/bin/sh\nset -e\n" + strings.Join(sh, "\n") + "\n"},
	})
}

// resolved is name's host path resolved inside root, as the sandbox sees it.
func resolved(t *testing.T, root, name string) string {
	t.Helper()
	p, err := securejoin.SecureJoin(root, name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// updateDeb is a package for Install whose postinst plants th at what
// Install removes afterwards: dpkg's logs (for a symlink, the directory
// holding them leads to the canary directory instead; scriptsDeb already
// planted var/cache/ldconfig) and, unless the root has its own, the
// policy-rc.d Install put in.
func (e *hostileEnv) updateDeb(t *testing.T, version string, th hostiletest.Thing, ownPolicy bool) string {
	var sh []string
	if th.Kind == hostiletest.Symlink {
		sh = append(sh, "mv /var/log /var/log.aside", e.forDir(th).Shell("/var/log"))
	} else {
		sh = append(sh, th.Shell("/var/log/alternatives.log"))
		if th.Kind != hostiletest.FIFO { // dpkg's own log (see scriptsDeb)
			sh = append(sh, th.Shell("/var/log/dpkg.log"))
		}
	}
	if !ownPolicy {
		sh = append(sh, th.Shell("/"+policyRcD))
	}
	return e.deb(t, apttest.Deb{
		Name: "vzkit-hostile-update", Version: version, Arch: "all",
		Control: map[string]string{"postinst": "#!/bin/sh\nset -e\n" + strings.Join(sh, "\n") + "\n"},
	})
}

// TestBootstrapThenInstallHostile bootstraps roots whose packages plant symlinks to
// host canaries, FIFOs and device nodes (/dev/zero's numbers, a host loop
// device's) at every name the host-side code touches, one kind per run,
// then updates each root with Install, as vzpkg update would a cache
// built from such packages, with more planted where Install looks before
// and after dpkg. Bootstrap and Install must succeed within the bound
// with everything contained: host canaries and the loop device unchanged,
// what they write replaced inside the root (or, through a symlinked
// directory, written in its in-root twin), what they leave alone left as
// planted, and no sandbox state, cgroup, mount or process left behind.
func TestBootstrapThenInstallHostile(t *testing.T) {
	e := newHostileEnv(t)
	ess := append(smallEssential(t), e.payloadDeb(t))
	keyring := filepath.Join(e.base, "vzkit-test.gpg")
	if err := os.WriteFile(keyring, []byte("not really a keyring\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, th := range e.things() {
		t.Run(string(th.Kind), func(t *testing.T) {
			t.Parallel()
			run := fmt.Sprint(i)
			root := filepath.Join(e.base, "root-"+run)
			stateDir := filepath.Join(e.base, "state-"+run)
			src := Sources{Entries: []Source{{Mirror: "file:///srv/mirror", Suite: testSuite}}}
			// Every other run writes deb822 sources and a keyring instead
			// of sources.list; the symlink run does, for its symlinked
			// sources.list.d and keyrings directories.
			if i%2 == 0 {
				src.Keyring = keyring
			}
			scripts := e.scriptsDeb(t, fmt.Sprint(i), th)
			var log bytes.Buffer
			var err error
			ctx := hostileContext(t)
			hostiletest.Within(t, hostileBound, func() {
				err = Bootstrap(ctx, BootstrapOptions{
					Root: root, Essential: ess, Packages: []string{scripts},
					Sources: src, Sandbox: e.sandbox(run), StateDir: stateDir,
					Stdout: &log, Stderr: &log,
					AutoInstalled: []string{"vzkit-hostile-scripts"}, Architecture: "amd64",
				})
			})
			e.check(t, run, root, stateDir)
			if err != nil {
				t.Fatalf("Bootstrap: %v\n%s", err, tail(log.String(), 3000))
			}
			checkBootstrapped(t, e, root, th, src.Keyring != "")

			// The root's own policy-rc.d, in every other run, stays the
			// root's; Install's own is removed after.
			ownPolicy := i%2 == 1
			if ownPolicy {
				th.Plant(t, root, policyRcD)
			}
			// On the host side: resolved in the root, as the sandbox
			// would, for the symlinked /tmp.
			e.forDir(th).Plant(t, resolved(t, root, "/tmp"), "vzkit-debs")
			update := e.updateDeb(t, run, th, ownPolicy)
			log.Reset()
			ctx = hostileContext(t)
			hostiletest.Within(t, hostileBound, func() {
				err = Install(ctx, InstallOptions{Root: root, Debs: []string{update}, Sandbox: e.sandbox(run),
					StateDir: stateDir, Stdout: &log, Stderr: &log})
			})
			e.check(t, run, root, stateDir)
			if err != nil {
				t.Fatalf("Install: %v\n%s", err, tail(log.String(), 3000))
			}
			gone := append([]string{debsMountDir}, dpkgRunLogs...)
			if ownPolicy {
				if !th.At(root, policyRcD) {
					t.Errorf("the root's own /%s is no longer the planted %v", policyRcD, th)
				}
			} else {
				gone = append(gone, policyRcD)
			}
			for _, name := range gone {
				if !absentAt(t, root, name) {
					t.Errorf("after Install: /%s left in the root", name)
				}
			}
			if b, err := exec.Command("dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f=${Version} ${db:Status-Abbrev}",
				"vzkit-hostile-update").Output(); err != nil || string(b) != run+" ii " {
				t.Errorf("vzkit-hostile-update not installed: %q %v", b, err)
			}
		})
	}
}

// absentAt reports whether nothing is at name inside root (resolved as
// the sandbox would): it is missing, or a directory on the way is not one.
func absentAt(t *testing.T, root, name string) bool {
	_, err := os.Lstat(resolved(t, root, name))
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR)
}

// checkBootstrapped checks what a hostile Bootstrap left in root: what it
// writes replaced inside the root, what it removes gone, what is not the
// build's left as planted.
func checkBootstrapped(t *testing.T, e *hostileEnv, root string, th hostiletest.Thing, keyring bool) {
	t.Helper()
	regular := func(name, want string) {
		t.Helper()
		p := resolved(t, root, name)
		if st, err := os.Lstat(p); err != nil {
			t.Errorf("/%s: %v", name, err)
		} else if !st.Mode().IsRegular() {
			t.Errorf("/%s: want a regular file, got %v", name, st.Mode())
		} else if b, err := os.ReadFile(p); err != nil || !strings.Contains(string(b), want) {
			t.Errorf("/%s = %q, %v; want it to hold %q", name, b, err, want)
		}
	}
	regular("etc/machine-id", "")
	if b, err := os.ReadFile(resolved(t, root, "etc/machine-id")); err == nil && len(b) > 0 {
		t.Errorf("/etc/machine-id not emptied: %q", b)
	}
	regular("var/lib/dpkg/status", "Package: vzkit-hostile-scripts")
	regular("var/lib/dpkg/arch", "amd64")
	regular("var/lib/dpkg/info/vzkit-hostile-payload.list", "/usr/share/vzkit-hostile-payload/data")
	regular("var/lib/dpkg/triggers/File", "/usr/share/vzkit-hostile-trigger vzkit-hostile-payload")
	regular("var/lib/apt/extended_states", "Package: vzkit-hostile-scripts")
	// Left as planted: not the build's to replace, and not followed.
	kept := map[string]hostiletest.Thing{"etc/fstab": th}
	if keyring {
		regular("etc/apt/sources.list.d/debian.sources", "Signed-By: /etc/apt/keyrings/vzkit-test.gpg")
		regular("etc/apt/keyrings/vzkit-test.gpg", "not really a keyring")
		kept["etc/apt/sources.list"] = th
	} else {
		regular("etc/apt/sources.list", "deb file:///srv/mirror "+testSuite+" main")
	}
	gone := []string{dpkgCfgSnippet, policyRcD, preinstDir, "var/log/dpkg.log"}
	for _, d := range removalDirs {
		kept[d] = e.forDir(th)
	}
	for d, name := range writeDirs {
		switch {
		case th.Kind == hostiletest.Symlink:
			kept[d] = e.forDir(th)
		case strings.HasPrefix(d, "/etc/"):
			if !keyring { // else written over, checked above
				kept[d+"/"+name] = th
			}
		default:
			gone = append(gone, d+"/"+name) // emptied by cleanup
		}
	}
	if th.Kind != hostiletest.Symlink {
		kept["var/cache/apt/archives/lock"] = hostiletest.Link(e.file()) // the payload's
	}
	for _, name := range gone {
		if !absentAt(t, root, name) {
			t.Errorf("/%s left in the root", strings.TrimPrefix(name, "/"))
		}
	}
	for name, want := range kept {
		if !want.At(root, name) {
			t.Errorf("/%s is no longer the planted %v", strings.TrimPrefix(name, "/"), want)
		}
	}
}

// TestBootstrapHostileFails: where the build cannot go on without opening
// what a maintainer script planted (a preinst made dpkg's diversions file
// a FIFO), Bootstrap must fail within the bound with an error naming the
// path, leaving the host and its sandboxes as they were.
func TestBootstrapHostileFails(t *testing.T) {
	e := newHostileEnv(t)
	const diversions = "/var/lib/dpkg/diversions"
	bad := e.deb(t, apttest.Deb{
		Name: "vzkit-hostile-preinst", Version: "1", Arch: "all", Essential: true,
		Control: map[string]string{"preinst": "#!/bin/sh\nset -e\n" + hostiletest.Fifo().Shell(diversions) + "\n"},
	})
	ess := append(smallEssential(t), bad)
	root, stateDir := filepath.Join(e.base, "root"), filepath.Join(e.base, "state")
	ctx := hostileContext(t)
	var log bytes.Buffer
	var err error
	hostiletest.Within(t, hostileBound, func() {
		err = Bootstrap(ctx, BootstrapOptions{
			Root: root, Essential: ess, Sources: Sources{Entries: []Source{{Mirror: "file:///srv/mirror", Suite: testSuite}}},
			Sandbox: e.sandbox("fails"), StateDir: stateDir, Stdout: &log, Stderr: &log,
		})
	})
	e.check(t, "fails", root, stateDir)
	if err == nil || !strings.Contains(err.Error(), diversions+": not a regular file: it is a FIFO") {
		t.Fatalf("Bootstrap: %v, want an error naming %s\n%s", err, diversions, tail(log.String(), 3000))
	}
}

// TestHostSideStepsRefuseWhatTheyCannotContain plants every kind of thing
// where a host-side step needs a directory or a regular file and cannot
// replace what is there: each must fail with an error naming the path,
// within the bound, leaving the canaries alone. A conffile symlink
// resolved inside the root is hashed through, as dpkg does.
func TestHostSideStepsRefuseWhatTheyCannotContain(t *testing.T) {
	e := newHostileEnv(t)
	conf := &Package{Name: "vzkit-conf", Info: map[string][]byte{"conffiles": []byte("/etc/vzkit.conf\n")}}
	diverted := []*Package{{Name: "vzkit-victim"}}
	// Symlinks: absolute and climbing ones to the host, and a loop.
	things := append(e.things(), hostiletest.Link(hostiletest.Escaping(e.file())), hostiletest.Link("vzkit.conf"))
	for _, step := range []struct {
		name, path string
		run        func(*testing.T, string) error
	}{
		{"finish", "/var/cache/apt/archives/partial", func(t *testing.T, root string) error {
			return finish(openSafe(t, root))
		}},
		{"conffile", "/etc/vzkit.conf", func(t *testing.T, root string) error {
			_, err := conffileHashes(openSafe(t, root), conf)
			return err
		}},
		{"diversions", "/var/lib/dpkg/diversions", func(t *testing.T, root string) error {
			return applyDiversions(openSafe(t, root), diverted, []extract.Result{{Paths: []string{"/bin/sh"}}})
		}},
	} {
		for i, th := range things {
			t.Run(fmt.Sprintf("%s/%d-%s", step.name, i, th.Kind), func(t *testing.T) {
				root := t.TempDir()
				if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
					t.Fatal(err)
				}
				th.Plant(t, root, step.path)
				var err error
				hostiletest.Within(t, time.Minute, func() { err = step.run(t, root) })
				e.host.Check(t)
				e.loop.Check(t)
				if err == nil || !strings.Contains(err.Error(), step.path) {
					t.Errorf("%s over %v: %v, want an error naming %s", step.name, th, err, step.path)
				}
			})
		}
	}

	// Through an in-root symlink, the conffile's MD5 is its target's.
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc/real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/real/vzkit.conf"), []byte("key=value\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostiletest.Link("/etc/real/vzkit.conf").Plant(t, root, "etc/link.conf")
	hostiletest.Link("link.conf").Plant(t, root, "etc/vzkit.conf")
	sums, err := conffileHashes(openSafe(t, root), conf)
	if want := fmt.Sprintf("%x", md5.Sum([]byte("key=value\n"))); err != nil || len(sums) != 1 || sums[0][1] != want {
		t.Errorf("conffile through two symlinks: %v %v, want MD5 %s", sums, err, want)
	}
}

// TestConffileSizeBound: a sparse conffile of a terabyte is refused after
// the limit, not read to its end.
func TestConffileSizeBound(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/huge.conf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(root, "etc/huge.conf"), 1<<40); err != nil {
		t.Skipf("no sparse terabyte here: %v", err)
	}
	p := &Package{Name: "vzkit-huge", Info: map[string][]byte{"conffiles": []byte("/etc/huge.conf\n")}}
	var err error
	hostiletest.Within(t, time.Minute, func() { _, err = conffileHashes(openSafe(t, root), p) })
	if !errors.Is(err, saferoot.ErrTooLarge) || !strings.Contains(err.Error(), "/etc/huge.conf") {
		t.Errorf("conffileHashes of a 1 TiB conffile: %v", err)
	}
}
