package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/repo/aptsources"
)

// The end-to-end tests drive the vzpkg and vzctl binaries exactly as an
// admin would (VZKIT_ROOT, command line, exit codes, files left on disk) and
// compare what they build with mmdebstrap's result for the same suite and
// mirror. They need root, the network to Debian's archive (through the
// host's apt sources) and mmdebstrap; -short skips them.

// e2eBinDir holds the vzpkg and vzctl binaries TestMain built ("" when the
// end-to-end tests will skip).
var e2eBinDir string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(func() int {
		if os.Geteuid() != 0 || testing.Short() {
			return m.Run() // the end-to-end tests skip with their own message
		}
		dir, err := os.MkdirTemp("", "vzkit-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		build := exec.Command("go", "build", "-tags", "seccomp", "-o", dir+"/",
			"github.com/vzkit/vzkit/cmd/vzpkg", "github.com/vzkit/vzkit/cmd/vzctl")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build vzpkg vzctl: %v\n%s", err, out)
			return 1
		}
		e2eBinDir = dir
		return m.Run()
	}())
}

// e2eRequire skips unless this is a full (not -short) run as root with the
// host tools the tests use as oracles.
func e2eRequire(t *testing.T, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("end-to-end test: needs root (vzpkg build installs packages inside a container sandbox)")
	}
	for _, tool := range append([]string{"tar", "zstd", "dpkg-query"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("end-to-end test: %s is not installed", tool)
		}
	}
	if e2eBinDir == "" {
		t.Fatal("TestMain did not build vzpkg and vzctl")
	}
}

// e2eTimeout bounds each command so that a hang fails the test instead of
// blocking CI forever; it is a guard, never an assertion about speed.
const e2eTimeout = 20 * time.Minute

// e2eEnv is one vzkit installation under its own VZKIT_ROOT.
type e2eEnv struct {
	t    testing.TB
	root string
}

// newE2EEnv makes a fresh VZKIT_ROOT whose package store and index cache
// are shared by every test on this machine: vz.conf paths are prefixed by
// VZKIT_ROOT, so ROOT/shared is a symlink to a directory under os.TempDir()
// and vz.conf points PACKAGES and INDEXCACHE into it. Both are
// content-addressed (by SHA-256), so sharing them cannot change a result;
// it only saves the downloads (about 40 MiB per suite).
func newE2EEnv(t testing.TB) *e2eEnv {
	t.Helper()
	root := t.TempDir()
	// Unprivileged containers' roots walk through it to their STATEDIR, as
	// they do through /run on a host.
	for _, d := range []string{root, filepath.Dir(root)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	shared := filepath.Join(os.TempDir(), "vzkit-e2e-store")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(shared, filepath.Join(root, "shared")); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(root, "etc/vzkit/vz.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("PACKAGES=\"/shared/packages\"\nINDEXCACHE=\"/shared/indexes\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &e2eEnv{t: t, root: root}
}

func (e *e2eEnv) cacheDir() string { return filepath.Join(e.root, "var/lib/vzkit/template/cache") }
func (e *e2eEnv) buildDir() string { return filepath.Join(e.root, "var/lib/vzkit/template/build") }

// command prepares PROG (vzpkg or vzctl) with this environment's root.
func (e *e2eEnv) command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, filepath.Join(e2eBinDir, prog), args...)
	// vzpkg must find the mirror in the host's apt sources itself, so a
	// VZKIT_MIRROR_* or VZKIT_ROOT of the caller's environment is dropped.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VZKIT_") {
			c.Env = append(c.Env, kv)
		}
	}
	c.Env = append(c.Env, "VZKIT_ROOT="+e.root)
	c.WaitDelay = time.Minute
	return c
}

// run runs PROG and returns its stdout and stderr; err carries the exit status.
func (e *e2eEnv) run(prog string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	var o, s bytes.Buffer
	c := e.command(ctx, prog, args...)
	c.Stdout, c.Stderr = &o, &s
	err = c.Run()
	return o.String(), s.String(), err
}

// must runs PROG and fails the test, showing everything it printed, unless it succeeds.
func (e *e2eEnv) must(prog string, args ...string) string {
	e.t.Helper()
	o, s, err := e.run(prog, args...)
	if err != nil {
		e.t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", prog, strings.Join(args, " "), err, o, s)
	}
	return o
}

// exitStatus is the exit code in err from run (0 for nil, -1 when it did not run).
func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// hostDebianMirror is the Debian archive this host's apt sources use, read at
// run time (no mirror name is written in the tests).
func hostDebianMirror(t *testing.T, codename string) string {
	t.Helper()
	es, err := aptsources.ReadHost("/etc/apt")
	if err != nil {
		t.Skipf("no usable host apt sources: %v", err)
	}
	m, err := aptsources.Pick(es, aptsources.Query{Distro: "debian", Suite: codename})
	if err != nil {
		t.Skipf("the host's apt sources name no Debian archive: %v", err)
	}
	return strings.TrimRight(m.URI, "/")
}

// hostDebianSecurityMirror is the Debian security archive of this host's apt
// sources.
func hostDebianSecurityMirror(t *testing.T, codename string) string {
	t.Helper()
	es, err := aptsources.ReadHost("/etc/apt")
	if err != nil {
		t.Skipf("no usable host apt sources: %v", err)
	}
	m, err := aptsources.Pick(es, aptsources.Query{Distro: "debian", Suite: codename, Security: true})
	if err != nil {
		t.Skipf("the host's apt sources name no Debian security archive: %v", err)
	}
	return strings.TrimRight(m.URI, "/")
}

// debianSources are the three suites every Debian template installs from,
// as mmdebstrap takes them (and as the cache's sources.list has them).
func debianSources(mirror, security, suite string) []string {
	return []string{
		fmt.Sprintf("deb %s %s main", mirror, suite),
		fmt.Sprintf("deb %s %s-updates main", mirror, suite),
		fmt.Sprintf("deb %s %s-security main", security, suite),
	}
}

// mmdebstrapTar runs `mmdebstrap --variant=minbase SUITE OUT.tar SOURCES...`,
// the oracle for what a minimal template must contain, with the
// SOURCE_DATE_EPOCH the cache was built with: maintainer scripts write
// dates from it (the password-change day in /etc/shadow).
func mmdebstrapTar(t *testing.T, suite string, sources []string, sourceDateEpoch int64) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "mmdebstrap-"+suite+".tar")
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	start := time.Now()
	// One argument of several lines: mmdebstrap then writes them as one
	// sources.list without the blank lines it puts between arguments.
	c := exec.CommandContext(ctx, "mmdebstrap", "--variant=minbase", suite, out, strings.Join(sources, "\n"))
	c.Env = append(os.Environ(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", sourceDateEpoch))
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap %s: %v\n%s", suite, err, b)
	}
	t.Logf("figure: mmdebstrap --variant=minbase %s took %.1fs", suite, time.Since(start).Seconds())
	return out
}

// untar unpacks a tarball as root with numeric owners, as an admin checking
// a cache by hand would (`tar --zstd -xf`).
func untar(t *testing.T, tarball, dst string, zstd bool) {
	t.Helper()
	args := []string{"--numeric-owner", "-xpf", tarball, "-C", dst}
	if zstd {
		args = append([]string{"--zstd"}, args...)
	}
	if b, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
		t.Fatalf("tar %s: %v\n%s", strings.Join(args, " "), err, b)
	}
}

// readManifest reads NAME.json beside the cache.
func readManifest(t *testing.T, cachePath string) *cache.Manifest {
	t.Helper()
	m, err := cache.ReadManifest(cache.ManifestPath(cachePath))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sha256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// nonEmptyLines splits command output into its non-empty lines, sorted.
func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// lineDiff lists lines only in a ("-") or only in b ("+"), both sorted.
func lineDiff(a, b []string) []string {
	var d []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j >= len(b) || (i < len(a) && a[i] < b[j]):
			d = append(d, "- "+a[i])
			i++
		case i >= len(a) || b[j] < a[i]:
			d = append(d, "+ "+b[j])
			j++
		default:
			i++
			j++
		}
	}
	return d
}

// fileEntry is what the file-by-file comparison checks for one path.
type fileEntry struct {
	Type   string // dir, file, symlink, char, block, fifo, socket
	Mode   uint32 // permission bits with setuid, setgid and sticky
	UID    uint32
	GID    uint32
	Link   string // symlink target
	SHA256 string // regular files
	Nlink  uint64 // regular files: how many names share the inode (hardlinks)
	Rdev   uint64 // device nodes
}

func (f fileEntry) String() string {
	s := fmt.Sprintf("%s %04o %d:%d", f.Type, f.Mode, f.UID, f.GID)
	switch {
	case f.Type == "symlink":
		s += " -> " + f.Link
	case f.Type == "file":
		s += fmt.Sprintf(" sha256:%.16s links:%d", f.SHA256, f.Nlink)
	case f.Rdev != 0:
		s += fmt.Sprintf(" dev %d:%d", unix.Major(f.Rdev), unix.Minor(f.Rdev))
	}
	return s
}

// walkTree records every path under root ("/" is root itself). A file
// with a normalizer in normalize is hashed after normalizing its content.
func walkTree(t *testing.T, root string, normalize map[string]func([]byte) []byte) map[string]fileEntry {
	t.Helper()
	tree := map[string]fileEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return fmt.Errorf("lstat %s: %w", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		name := path.Join("/", filepath.ToSlash(rel))
		e := fileEntry{Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFDIR:
			e.Type = "dir"
		case syscall.S_IFREG:
			e.Type, e.Nlink = "file", uint64(st.Nlink)
			if norm, ok := normalize[name]; ok {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(norm(b))
				e.SHA256 = hex.EncodeToString(sum[:])
			} else if e.SHA256, err = sha256File(p); err != nil {
				return err
			}
		case syscall.S_IFLNK:
			e.Type = "symlink"
			if e.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case syscall.S_IFCHR:
			e.Type, e.Rdev = "char", st.Rdev
		case syscall.S_IFBLK:
			e.Type, e.Rdev = "block", st.Rdev
		case syscall.S_IFIFO:
			e.Type = "fifo"
		case syscall.S_IFSOCK:
			e.Type = "socket"
		}
		tree[name] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// sortedStanzas normalizes a file of deb822 stanzas whose order carries no
// meaning: the stanzas, each trimmed, sorted.
func sortedStanzas(b []byte) []byte {
	var stanzas []string
	for _, s := range strings.Split(string(b), "\n\n") {
		if s = strings.TrimSpace(s); s != "" {
			stanzas = append(stanzas, s)
		}
	}
	sort.Strings(stanzas)
	return []byte(strings.Join(stanzas, "\n\n"))
}

// allowedDiff is a path that may differ between a vzkit cache and
// mmdebstrap's tarball, and why. Pattern is a path.Match pattern; a pattern
// ending in "/" matches everything below that directory.
type allowedDiff struct {
	Pattern string
	Reason  string
}

func (a allowedDiff) matches(p string) bool {
	if strings.HasSuffix(a.Pattern, "/") {
		return strings.HasPrefix(p, a.Pattern)
	}
	ok, _ := path.Match(a.Pattern, p)
	return ok
}

// compareTrees returns every difference between ours and theirs that no
// allow-list entry covers, and the allow-list entries that were used.
func compareTrees(ours, theirs map[string]fileEntry, allow []allowedDiff) (diffs []string, used map[string]int) {
	used = map[string]int{}
	paths := map[string]bool{}
	for p := range ours {
		paths[p] = true
	}
	for p := range theirs {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
next:
	for _, p := range sorted {
		a, inA := ours[p]
		b, inB := theirs[p]
		var d string
		switch {
		case !inA:
			d = fmt.Sprintf("%s: missing from the vzkit cache (mmdebstrap: %s)", p, b)
		case !inB:
			d = fmt.Sprintf("%s: only in the vzkit cache (%s)", p, a)
		case a != b:
			d = fmt.Sprintf("%s: vzkit %s, mmdebstrap %s", p, a, b)
		default:
			continue
		}
		for _, al := range allow {
			if al.matches(p) {
				used[al.Pattern]++
				continue next
			}
		}
		diffs = append(diffs, d)
	}
	return diffs, used
}

// lineWatcher copies a command's output to a buffer and reports on a
// channel, once, when a line containing want appears.
type lineWatcher struct {
	want string
	seen chan struct{} // closed at the first line containing want
	done chan struct{} // closed when the output ended
	mu   sync.Mutex
	buf  bytes.Buffer
}

func newLineWatcher(want string) *lineWatcher {
	return &lineWatcher{want: want, seen: make(chan struct{}), done: make(chan struct{})}
}

// consume reads r to its end.
func (w *lineWatcher) consume(r io.Reader) {
	defer close(w.done)
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	found := false
	for s.Scan() {
		w.mu.Lock()
		w.buf.WriteString(s.Text() + "\n")
		w.mu.Unlock()
		if !found && strings.Contains(s.Text(), w.want) {
			found = true
			close(w.seen)
		}
	}
	io.Copy(io.Discard, r) // a line too long for the scanner: keep the writer unblocked
}

// String is the output so far.
func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// leftovers lists what a failed or interrupted build must not leave behind:
// files in the cache directory, entries under TEMPLATE/build, mounts below
// the root, and processes whose root directory is below it (sandboxed
// package scripts).
func (e *e2eEnv) leftovers() []string {
	var found []string
	if ents, err := os.ReadDir(e.cacheDir()); err == nil {
		for _, d := range ents {
			found = append(found, "cache directory holds "+d.Name())
		}
	}
	if ents, err := os.ReadDir(e.buildDir()); err == nil {
		for _, d := range ents {
			found = append(found, "build directory holds "+d.Name())
		}
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], e.root+"/") {
				found = append(found, "mount left at "+f[4])
			}
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/root")
	for _, p := range procs {
		if r, err := os.Readlink(p); err == nil && strings.HasPrefix(r, e.root+"/") {
			cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
			found = append(found, fmt.Sprintf("process %s left running in %s: %s", filepath.Base(filepath.Dir(p)), r,
				strings.ReplaceAll(string(cmdline), "\x00", " ")))
		}
	}
	return found
}

// TestE2ELeftoversSeesLeftovers makes sure the leftover check the failure
// tests rely on does see a cache file, a build root and a mount.
func TestE2ELeftoversSeesLeftovers(t *testing.T) {
	e := &e2eEnv{t: t, root: t.TempDir()}
	if l := e.leftovers(); len(l) != 0 {
		t.Fatalf("fresh root reported as leftover: %v", l)
	}
	for _, p := range []string{filepath.Join(e.cacheDir(), "x.tar.zst"), filepath.Join(e.buildDir(), "x-1/etc/passwd")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := 2
	if os.Geteuid() == 0 {
		mnt := filepath.Join(e.buildDir(), "x-1/etc")
		if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
			t.Fatal(err)
		}
		defer unix.Unmount(mnt, 0)
		want++
	}
	if l := e.leftovers(); len(l) != want {
		t.Errorf("leftovers found %d thing(s), want %d: %v", len(l), want, l)
	}
}

// TestE2ECompareTrees checks the comparison the mmdebstrap test relies on:
// it reports mode, owner and content differences and missing paths, and
// lets through only what the allow-list names.
func TestE2ECompareTrees(t *testing.T) {
	file := fileEntry{Type: "file", Mode: 0o644, SHA256: "aa", Nlink: 1}
	ours := map[string]fileEntry{
		"/":              {Type: "dir", Mode: 0o700},
		"/etc/passwd":    file,
		"/etc/shadow":    {Type: "file", Mode: 0o640, GID: 0, SHA256: "bb", Nlink: 1},
		"/var/lib/x-old": file,
	}
	theirs := map[string]fileEntry{
		"/":              {Type: "dir", Mode: 0o755},
		"/etc/passwd":    file,
		"/etc/shadow":    {Type: "file", Mode: 0o640, GID: 42, SHA256: "bb", Nlink: 1},
		"/dev/null":      {Type: "char", Mode: 0o666, Rdev: unix.Mkdev(1, 3)},
		"/dev/pts/ptmx":  {Type: "char", Mode: 0o666, Rdev: unix.Mkdev(5, 2)},
		"/usr/bin/tool":  file,
		"/var/lib/x-old": {Type: "file", Mode: 0o644, SHA256: "cc", Nlink: 1},
	}
	allow := []allowedDiff{{"/dev/", "test"}, {"/var/lib/*-old", "test"}}
	diffs, used := compareTrees(ours, theirs, allow)
	want := []string{
		"/: vzkit dir 0700 0:0, mmdebstrap dir 0755 0:0",
		"/etc/shadow: vzkit file 0640 0:0 sha256:bb links:1, mmdebstrap file 0640 0:42 sha256:bb links:1",
		"/usr/bin/tool: missing from the vzkit cache (mmdebstrap: file 0644 0:0 sha256:aa links:1)",
	}
	if strings.Join(diffs, "\n") != strings.Join(want, "\n") {
		t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(diffs, "\n"), strings.Join(want, "\n"))
	}
	if used["/dev/"] != 2 || used["/var/lib/*-old"] != 1 {
		t.Errorf("allow-list use counts: %v", used)
	}
	a := sortedStanzas([]byte("Package: b\nAuto-Installed: 1\n\nPackage: a\nAuto-Installed: 1\n"))
	b := sortedStanzas([]byte("Package: a\nAuto-Installed: 1\n\nPackage: b\nAuto-Installed: 1\n\n"))
	c := sortedStanzas([]byte("Package: a\nAuto-Installed: 1\n"))
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Errorf("sortedStanzas: %q %q %q", a, b, c)
	}
}
