package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// e2eSuites are the shipped minimal templates checked against mmdebstrap's
// minbase variant, with the container ID each test uses (unusual numbers, so
// that they do not meet the IDs other tests on this host use).
var e2eSuites = []struct {
	template, codename, ctid string
}{
	{"debian-12-minimal", "bookworm", "7412"},
	{"debian-13-minimal", "trixie", "7413"},
}

// mmdebstrapAllowed are the only paths where a vzkit minimal cache may differ
// from `mmdebstrap --variant=minbase` of the same suites (release, updates,
// security) and mirrors.
var mmdebstrapAllowed = []allowedDiff{
	{"/dev/", "mmdebstrap (root mode) puts device nodes and /dev/fd links in its tarball; a vzkit " +
		"cache leaves /dev empty because vzctl mounts a fresh /dev for every container start, as OpenVZ caches do"},
	{"/etc/hostname", "mmdebstrap copies the build host's hostname into the root; vzctl writes the container's own at create/start"},
	{"/etc/resolv.conf", "mmdebstrap copies the build host's resolv.conf; vzctl writes the container's own (--nameserver)"},
	{"/var/cache/apt/archives/lock", "empty lock file created by mmdebstrap's apt runs; apt creates it on first use"},
	{"/var/lib/apt/lists/lock", "empty lock file created by mmdebstrap's apt runs; apt creates it on first use"},
	{"/var/cache/apt/archives/partial", "apt chowns it to _apt when it downloads (mmdebstrap runs apt in the root; " +
		"vzpkg downloads outside it), and does so again on its first run in the container"},
	{"/var/lib/apt/lists/partial", "apt chowns it to _apt when it downloads (mmdebstrap runs apt in the root; " +
		"vzpkg downloads outside it), and does so again on its first run in the container"},
	{"/var/lib/dpkg/*-old", "dpkg's backup of its database before the last change: it depends on the order " +
		"of dpkg calls (mmdebstrap: several apt runs; vzpkg: one dpkg call per set), not on the installed state"},
}

// mmdebstrapNormalized are files compared by meaning rather than bytes.
var mmdebstrapNormalized = map[string]func([]byte) []byte{
	// apt writes its stanzas in the order of its package hash table; the
	// set of packages marked automatically installed is what matters.
	"/var/lib/apt/extended_states": sortedStanzas,
}

// TestE2EMinimalTemplates builds each shipped minimal template with the
// real archive (the mirror found by vzpkg itself in the host's apt sources)
// and checks it the way a user would: the manifest and the tarball agree, a
// container created from the cache has a consistent dpkg database, and the
// package set and every file match mmdebstrap's minbase for the same suite.
func TestE2EMinimalTemplates(t *testing.T) {
	e2eRequire(t, "mmdebstrap")
	for _, s := range e2eSuites {
		t.Run(s.template, func(t *testing.T) {
			testMinimalTemplate(t, s.template, s.codename, s.ctid)
		})
	}
}

func testMinimalTemplate(t *testing.T, name, codename, ctid string) {
	e := newE2EEnv(t)
	mirror := hostDebianMirror(t, codename)

	start := time.Now()
	out := e.must("vzpkg", "build", name)
	t.Logf("figure: vzpkg build %s took %.1fs", name, time.Since(start).Seconds())
	for _, l := range strings.Split(out, "\n") {
		for _, p := range []string{"solve:", "download:", "cache:", "packages:", "time:"} {
			if strings.HasPrefix(l, p) {
				t.Logf("figure: %s", l)
			}
		}
	}
	// vzpkg says which mirror it used and where it found it.
	if !strings.Contains(out, "$mirror = "+mirror+" (from /etc/apt/") {
		t.Errorf("build output does not say it used %s from the host's apt sources:\n%s", mirror, out)
	}

	cachePath := filepath.Join(e.cacheDir(), name+".tar.zst")
	m := readManifest(t, cachePath)
	if m.Name != name || m.Mirror != mirror || !m.MirrorSigned {
		t.Errorf("manifest: name %q mirror %q signed %v; want %q, %q, true", m.Name, m.Mirror, m.MirrorSigned, name, mirror)
	}
	t.Logf("figure: %s: %d packages, %d tar entries, %d bytes compressed, %d bytes of tar",
		name, len(m.Packages), m.Archive.Entries, m.Archive.Size, m.Archive.TarSize)

	t.Run("manifest-describes-tarball", func(t *testing.T) {
		sum, err := sha256File(cachePath)
		if err != nil {
			t.Fatal(err)
		}
		if sum != m.Archive.SHA256 {
			t.Errorf("sha256sum %s = %s, manifest says %s", cachePath, sum, m.Archive.SHA256)
		}
		b, err := exec.Command("tar", "--zstd", "-tvf", cachePath).CombinedOutput()
		if err != nil {
			t.Fatalf("tar --zstd -tvf %s: %v\n%s", cachePath, err, b)
		}
		if n := len(nonEmptyLines(string(b))); n != m.Archive.Entries {
			t.Errorf("tar --zstd -tvf lists %d entries, the manifest counts %d", n, m.Archive.Entries)
		}
	})

	// A container created from the cache, as an admin would.
	e.must("vzctl", "create", ctid, "--ostemplate", name)
	t.Cleanup(func() {
		e.run("vzctl", "stop", ctid, "--fast")
		if o, s, err := e.run("vzctl", "destroy", ctid); err != nil {
			t.Errorf("vzctl destroy %s: %v\n%s%s", ctid, err, o, s)
		}
	})
	e.must("vzctl", "start", ctid)
	const queryFormat = "-f=${Package}\t${Version}\t${Architecture}\n"
	installed := nonEmptyLines(e.must("vzctl", "exec", ctid, "dpkg-query -W '"+queryFormat+"'"))

	t.Run("manifest-lists-installed-packages", func(t *testing.T) {
		var listed []string
		for _, p := range m.Packages {
			listed = append(listed, p.Name+"\t"+p.Version+"\t"+p.Arch)
		}
		if d := lineDiff(nonEmptyLines(strings.Join(listed, "\n")), installed); len(d) != 0 {
			t.Errorf("manifest (-) vs dpkg-query -W in the container (+):\n%s", strings.Join(d, "\n"))
		}
	})

	t.Run("dpkg-database-consistent", func(t *testing.T) {
		if o, s, err := e.run("vzctl", "exec", ctid, "dpkg", "--audit"); err != nil || strings.TrimSpace(o+s) != "" {
			t.Errorf("dpkg --audit: %v\n%s%s", err, o, s)
		}
		if o, s, err := e.run("vzctl", "exec", ctid, "apt-get", "check"); err != nil {
			t.Errorf("apt-get check: %v\n%s%s", err, o, s)
		}
		o, s, err := e.run("vzctl", "exec", ctid, "dpkg", "-V")
		var missing []string
		for _, l := range strings.Split(o+s, "\n") {
			if strings.HasPrefix(l, "missing") {
				missing = append(missing, l)
			}
		}
		if len(missing) > 0 {
			t.Errorf("dpkg -V reports missing files:\n%s", strings.Join(missing, "\n"))
		}
		if err != nil && len(nonEmptyLines(o+s)) == 0 {
			t.Errorf("dpkg -V failed silently: %v", err)
		}
		if o+s != "" {
			t.Logf("dpkg -V (%v):\n%s%s", err, o, s)
		}
		// Not only root can use the system: nobody can list / and run a program.
		if o, s, err := e.run("vzctl", "exec", ctid, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"ls", "/", "/usr/bin/dpkg"); err != nil {
			t.Errorf("as user nobody, ls / /usr/bin/dpkg: %v\n%s%s", err, o, s)
		}
	})

	// The oracle: mmdebstrap from the same mirror with the same
	// SOURCE_DATE_EPOCH, unpacked as root.
	mmRoot := t.TempDir()
	sources := debianSources(mirror, hostDebianSecurityMirror(t, codename), codename)
	untar(t, mmdebstrapTar(t, codename, sources, m.Archive.SourceDateEpoch), mmRoot, false)

	t.Run("packages-match-mmdebstrap", func(t *testing.T) {
		b, err := exec.Command("dpkg-query", "--admindir="+filepath.Join(mmRoot, "var/lib/dpkg"), "-W", queryFormat).Output()
		if err != nil {
			t.Fatalf("dpkg-query on mmdebstrap's root: %v", err)
		}
		theirs := nonEmptyLines(string(b))
		t.Logf("figure: %s: %d packages installed by vzpkg, %d by mmdebstrap", name, len(installed), len(theirs))
		if d := lineDiff(installed, theirs); len(d) != 0 {
			t.Errorf("dpkg-query -W: vzkit container (-) vs mmdebstrap --variant=minbase %s (+):\n%s", codename, strings.Join(d, "\n"))
		}
	})

	t.Run("files-match-mmdebstrap", func(t *testing.T) {
		ourRoot := t.TempDir()
		untar(t, cachePath, ourRoot, true)
		// The containers' apt gets every suite, on the host's mirrors.
		if b, err := os.ReadFile(filepath.Join(ourRoot, "etc/apt/sources.list")); err != nil || string(b) != strings.Join(sources, "\n")+"\n" {
			t.Errorf("the cache's /etc/apt/sources.list = %q (%v), want %q", b, err, sources)
		}
		ours, theirs := walkTree(t, ourRoot, mmdebstrapNormalized), walkTree(t, mmRoot, mmdebstrapNormalized)
		t.Logf("figure: %s: %d paths in the vzkit cache, %d in mmdebstrap's tarball", name, len(ours), len(theirs))
		diffs, used := compareTrees(ours, theirs, mmdebstrapAllowed)
		for _, a := range mmdebstrapAllowed {
			t.Logf("allowed difference %s: %d path(s)", a.Pattern, used[a.Pattern])
		}
		for p, norm := range mmdebstrapNormalized {
			if ours[p] != theirs[p] {
				a, _ := os.ReadFile(filepath.Join(ourRoot, p))
				b, _ := os.ReadFile(filepath.Join(mmRoot, p))
				// One line per stanza, so that the diff reads by package.
				oneLine := func(b []byte) []string {
					return nonEmptyLines(strings.NewReplacer("\n\n", "\n", "\n", " | ").Replace(string(norm(b))))
				}
				t.Logf("%s, normalized: vzkit (-) vs mmdebstrap (+):\n%s", p, strings.Join(lineDiff(oneLine(a), oneLine(b)), "\n"))
			}
		}
		if len(diffs) > 0 {
			t.Errorf("%d difference(s) outside the allow-list, vzkit cache vs mmdebstrap --variant=minbase %s:\n%s",
				len(diffs), codename, strings.Join(diffs, "\n"))
		}
	})
}

// TestE2EFailedBuildLeavesNothing: a template script that fails stops the
// build with the script's output shown, and leaves no cache and no build
// root behind.
func TestE2EFailedBuildLeavesNothing(t *testing.T) {
	e2eRequire(t)
	e := newE2EEnv(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "e2e-fails.yaml"), []byte(`extends: debian-12-minimal
scripts:
  post-install: |
    echo "about to fail"; exit 3
`), 0o644); err != nil {
		t.Fatal(err)
	}
	o, s, err := e.run("vzpkg", "--templates", dir, "build", "e2e-fails")
	if code := exitStatus(err); code != 1 {
		t.Errorf("vzpkg build exited with %d, want 1 (failure)", code)
	}
	if !strings.Contains(o+s, "about to fail") {
		t.Errorf("the script's output is not shown:\nstdout:\n%s\nstderr:\n%s", o, s)
	}
	if !strings.Contains(s, "post-install") || !strings.Contains(s, "exit status 3") {
		t.Errorf("the error does not name the failing script and its exit status:\n%s", s)
	}
	if l := e.leftovers(); len(l) > 0 {
		t.Errorf("a failed build left:\n%s", strings.Join(l, "\n"))
	}
}

// TestE2EInterruptedBuildLeavesNothing: Ctrl-C (SIGINT to vzpkg alone, the
// harder case: its sandboxed dpkg does not get the signal) while dpkg is
// configuring packages leaves no cache, no build root, no mount and no
// process behind.
func TestE2EInterruptedBuildLeavesNothing(t *testing.T) {
	e2eRequire(t)
	e := newE2EEnv(t)
	// -v shows dpkg's own output: "Setting up" means dpkg is configuring
	// packages inside the sandbox, in the middle of the install stage.
	w := newLineWatcher("Setting up ")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c := e.command(t.Context(), "vzpkg", "-v", "build", "debian-12-minimal")
	c.Stdout, c.Stderr = pw, pw
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go w.consume(pr)
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()

	select {
	case err := <-exited:
		<-w.done
		t.Fatalf("vzpkg build ended (%v) before dpkg configured anything:\n%s", err, w.String())
	case <-w.seen:
	}
	if err := c.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = <-exited
	if code := exitStatus(err); code == 0 {
		t.Errorf("vzpkg build interrupted by SIGINT exited with 0")
	}
	l := e.leftovers()
	if len(l) > 0 {
		// A process left behind may hold the output pipe open: show what there is.
		t.Fatalf("an interrupted build left:\n%s\noutput:\n%s", strings.Join(l, "\n"), w.String())
	}
	<-w.done
	out := w.String()
	t.Logf("vzpkg exit status %d after SIGINT; last lines:\n%s", exitStatus(err), lastLines(out, 5))
	if strings.Contains(out, "cache: ") {
		t.Errorf("the build reported a cache although it was interrupted:\n%s", lastLines(out, 20))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
