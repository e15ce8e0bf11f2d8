package rpmmdtest

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"
)

// Distribution is a small RPM distribution in the shape of Fedora's, made
// of this host's real binaries, for tests that build and run a root:
//
//   - filesystem: the directory tree, with /bin, /sbin, /lib and /lib64
//     symlinks into /usr (Requires(pre): setup);
//   - setup: /etc/passwd and /etc/group (%config(noreplace), and not
//     verified for the content %pre scripts add, as Fedora's);
//   - glibc: the host's dynamic loader, libc and libm; rpm-libs: the other
//     libraries rpm loads (rpmbuild finds the sonames, so rpm's
//     dependencies on them are rpm's own, generated ones);
//   - busybox: Debian's busybox-static as /usr/bin/sh and the core
//     utilities (it provides /bin/sh, as Fedora's bash does);
//   - rpm: Debian's rpm and rpmkeys, its macros, and a database in /var/lib/rpm, so
//     that rpm really runs inside the root;
//   - vzkit-daemon: a %pre that adds the user vzd, a directory it owns,
//     and a %transfiletriggerin on /usr/lib/vzkit-units;
//   - vzkit-tools: rich dependencies ("(busybox or toybox)", "(vzkit-daemon
//     if busybox)"), a file dependency only filelists.xml lists
//     (/usr/share/vzkit/daemon.conf), a script needing /bin/sh, and a file
//     under the trigger's path;
//   - oldtool 1.0 and newtool 2.0, which obsoletes it;
//   - clock 10.0 and clock 2:1.0, whose epoch wins.
//
// Comps holds groups "core" and "extras" and the environment
// "minimal-environment" over them.
func Distribution(t testing.TB) []RPM {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox (Debian's busybox-static) is needed for the test distribution: %v", err)
	}
	busybox, err = filepath.EvalSymlinks(busybox)
	must(t, err)
	rpmBin, err := exec.LookPath("rpm")
	must(t, err)
	rpmkeysBin, err := exec.LookPath("rpmkeys")
	must(t, err)

	fs := RPM{Name: "filesystem", Version: "3.18", Arch: "x86_64", PreRequires: []string{"setup"}, Files: map[string]File{
		"/bin": {Link: "usr/bin"}, "/sbin": {Link: "usr/sbin"}, "/lib": {Link: "usr/lib"}, "/lib64": {Link: "usr/lib64"},
		"/tmp": {Dir: true, Mode: 0o777 | os.ModeSticky}, "/root": {Dir: true, Mode: 0o550},
	}}
	for _, d := range []string{"/usr", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/lib/x86_64-linux-gnu",
		"/usr/share", "/etc", "/var", "/var/lib", "/var/tmp", "/dev", "/run", "/home"} {
		fs.Files[d] = File{Dir: true}
	}
	// As Fedora's filesystem: the modes procfs and sysfs have, so that
	// rpm installing into a root where they are mounted changes nothing.
	fs.Files["/proc"] = File{Dir: true, Mode: 0o555}
	fs.Files["/sys"] = File{Dir: true, Mode: 0o555}

	setup := RPM{Name: "setup", Version: "2.14", Files: map[string]File{
		"/etc/passwd": {Content: "root:x:0:0:root:/root:/bin/sh\n", Config: true, Changes: true},
		"/etc/group":  {Content: "root:x:0:\n", Config: true, Changes: true},
		"/etc/hosts":  {Content: "127.0.0.1 localhost\n", Config: true},
	}}

	const multiarch = "/usr/lib/x86_64-linux-gnu/"
	glibc := RPM{Name: "glibc", Version: "2.36", Arch: "x86_64", Requires: []string{"filesystem"},
		Provides: []string{"rtld(GNU_HASH)"}, Files: map[string]File{}}
	libs := RPM{Name: "rpm-libs", Version: "4.18.0", Arch: "x86_64", Requires: []string{"glibc"}, Files: map[string]File{}}
	ld, err := filepath.EvalSymlinks("/lib64/ld-linux-x86-64.so.2")
	must(t, err)
	glibc.Files["/usr/lib64/ld-linux-x86-64.so.2"] = File{Source: ld, Mode: 0o755}
	for _, real := range hostLibs(t, rpmBin) {
		// Installed under their sonames (the ldd names), executable so
		// that rpmbuild's ELF dependency generator reads them.
		soname := sonameOf(t, real)
		p := &libs
		if soname == "libc.so.6" || soname == "libm.so.6" {
			p = &glibc
		}
		p.Files[multiarch+soname] = File{Source: real, Mode: 0o755}
	}

	bb := RPM{Name: "busybox", Version: "1.35.0", Arch: "x86_64", Requires: []string{"filesystem"},
		Provides: []string{"/bin/sh"}, Files: map[string]File{"/usr/bin/busybox": {Source: busybox, Mode: 0o755}}}
	var applets []string
	have := strings.Fields(string(testenv.Run(t, "", nil, busybox, "--list")))
	for _, a := range []string{"sh", "cat", "ls", "echo", "mkdir", "rm", "cp", "mv", "ln", "grep", "sed", "awk", "id",
		"chmod", "chown", "touch", "head", "tail", "sort", "test", "true", "false", "stat", "readlink", "env", "sleep"} {
		if slices.Contains(have, a) {
			applets = append(applets, a)
			bb.Files["/usr/bin/"+a] = File{Link: "busybox"}
		}
	}
	bb.Files["/usr/share/busybox/applets"] = File{Content: strings.Join(applets, "\n") + "\n"}

	rpm := RPM{Name: "rpm", Version: "4.18.0", Arch: "x86_64", Requires: []string{"rpm-libs = 4.18.0", "busybox"}, Files: map[string]File{
		"/usr/bin/rpm": {Source: rpmBin, Mode: 0o755},
		// Fedora's rpm ships rpmkeys, which rpm --import runs (an
		// alias in rpmpopt); it needs the same libraries as rpm.
		"/usr/bin/rpmkeys":                          {Source: rpmkeysBin, Mode: 0o755},
		"/usr/lib/rpm":                              {Dir: true},
		"/usr/lib/rpm/macros":                       {Source: "/usr/lib/rpm/macros"},
		"/usr/lib/rpm/rpmrc":                        {Source: "/usr/lib/rpm/rpmrc"},
		"/usr/lib/rpm/platform/x86_64-linux/macros": {Source: "/usr/lib/rpm/platform/x86_64-linux/macros"},
		// Debian's macros put the database in the caller's home; a
		// distribution's is /var/lib/rpm.
		"/etc/rpm/macros.dbpath": {Content: "%_dbpath /var/lib/rpm\n"},
		"/var/lib/rpm":           {Dir: true},
	}}

	daemon := RPM{Name: "vzkit-daemon", Version: "1.0", PreRequires: []string{"setup", "busybox"},
		Pre: `grep -q '^vzd:' /etc/group || echo 'vzd:x:990:' >>/etc/group
grep -q '^vzd:' /etc/passwd || echo 'vzd:x:990:990:vzkit daemon:/var/lib/vzd:/usr/sbin/nologin' >>/etc/passwd`,
		TriggerPath:        "/usr/lib/vzkit-units",
		TransFileTriggerIn: `cat >>/var/lib/vzd/units`,
		Files: map[string]File{
			"/var/lib/vzd":                 {Dir: true, Mode: 0o750, Owner: "vzd:vzd"},
			"/usr/share/vzkit/daemon.conf": {Content: "listen = 127.0.0.1\n"},
		}}

	tools := RPM{Name: "vzkit-tools", Version: "1.0",
		Requires: []string{"(busybox or toybox)", "(vzkit-daemon if busybox)", "/usr/share/vzkit/daemon.conf"},
		Files: map[string]File{
			"/usr/bin/vzkit-hello":            {Content: "#!/bin/sh\necho hello from vzkit-tools\n", Mode: 0o755},
			"/usr/lib/vzkit-units":            {Dir: true},
			"/usr/lib/vzkit-units/tools.unit": {Content: "[Unit]\nDescription=vzkit tools\n"},
		}}

	oldtool := RPM{Name: "oldtool", Version: "1.0", Files: map[string]File{"/usr/share/oldtool/data": {Content: "old\n"}}}
	newtool := RPM{Name: "newtool", Version: "2.0", Obsoletes: []string{"oldtool < 2.0"}, Provides: []string{"oldtool = 2.0"},
		Files: map[string]File{"/usr/share/newtool/data": {Content: "new\n"}}}

	clockNew := RPM{Name: "clock", Version: "10.0", Files: map[string]File{"/usr/share/clock/version": {Content: "10.0\n"}}}
	clockEpoch := RPM{Name: "clock", Epoch: 2, Version: "1.0", Files: map[string]File{"/usr/share/clock/version": {Content: "2:1.0\n"}}}

	return []RPM{fs, setup, glibc, libs, bb, rpm, daemon, tools, oldtool, newtool, clockNew, clockEpoch}
}

// Comps is the comps.xml of Distribution.
const Comps = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>core</id>
    <name>Core</name>
    <description>Smallest possible installation</description>
    <default>false</default>
    <uservisible>false</uservisible>
    <packagelist>
      <packagereq type="mandatory">filesystem</packagereq>
      <packagereq type="mandatory">setup</packagereq>
      <packagereq type="mandatory">busybox</packagereq>
      <packagereq type="mandatory">rpm</packagereq>
      <packagereq type="default">vzkit-tools</packagereq>
      <packagereq type="optional">clock</packagereq>
    </packagelist>
  </group>
  <group>
    <id>extras</id>
    <name>Extras</name>
    <description>More tools</description>
    <default>false</default>
    <uservisible>true</uservisible>
    <packagelist>
      <packagereq type="mandatory">oldtool</packagereq>
      <packagereq type="mandatory">clock</packagereq>
    </packagelist>
  </group>
  <environment>
    <id>minimal-environment</id>
    <name>Minimal Install</name>
    <description>Basic functionality.</description>
    <grouplist>
      <groupid>core</groupid>
    </grouplist>
  </environment>
</comps>
`

// sonameOf is the DT_SONAME of the shared library at path.
func sonameOf(t testing.TB, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	must(t, err)
	defer f.Close()
	names, err := f.DynString(elf.DT_SONAME)
	if err != nil || len(names) == 0 {
		t.Fatalf("%s: no DT_SONAME: %v", path, err)
	}
	return names[0]
}
