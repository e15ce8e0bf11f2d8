package rpmmdtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/internal/testenv"
)

// TestDistribution builds the test distribution and checks with the real
// rpm what a solver and an installer will be tested on: every package
// signed by the repository's key, the generated ELF and interpreter
// dependencies, the rich ones, the epoch, the obsoletes and the
// scriptlets; and a repomd.xml whose detached signature verifies.
func TestDistribution(t *testing.T) {
	r := Build(t, Distribution(t), Options{Comps: Comps})
	if len(r.RPMs) != 12 {
		t.Fatalf("built %d packages: %v", len(r.RPMs), r.RPMs)
	}
	db := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "key.asc")
	must(t, os.WriteFile(keyFile, r.Key, 0o644))
	testenv.Run(t, "", nil, "rpmkeys", "--dbpath", db, "--import", keyFile)
	pkg := func(prefix string) string {
		for _, f := range r.RPMs {
			if strings.HasPrefix(f, prefix) {
				return filepath.Join(r.Root, f)
			}
		}
		t.Fatalf("no package %s* in %v", prefix, r.RPMs)
		return ""
	}
	for _, f := range r.RPMs {
		out, err := exec.Command("rpmkeys", "--dbpath", db, "-K", filepath.Join(r.Root, f)).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "signatures OK") {
			t.Errorf("rpmkeys -K %s: %v: %s", f, err, out)
		}
	}
	q := func(file string, args ...string) string {
		return string(testenv.Run(t, "", nil, "rpm", append([]string{"-qp", "--nosignature"}, append(args, file)...)...))
	}
	if got := q(pkg("clock-1.0-"), "--qf", "%{EPOCH}:%{VERSION}-%{RELEASE}"); got != "2:1.0-1" {
		t.Errorf("clock 1.0: EVR %q, want 2:1.0-1", got)
	}
	for _, c := range []struct{ file, query, want string }{
		{"vzkit-tools-", "--requires", "(busybox or toybox)"},
		{"vzkit-tools-", "--requires", "(vzkit-daemon if busybox)"},
		{"vzkit-tools-", "--requires", "/usr/share/vzkit/daemon.conf"},
		{"vzkit-tools-", "--requires", "/bin/sh"}, // vzkit-hello's interpreter, generated
		{"rpm-4", "--requires", "librpm.so.9()(64bit)"},
		{"rpm-libs-", "--provides", "librpm.so.9()(64bit)"},
		{"glibc-", "--provides", "libc.so.6()(64bit)"},
		{"busybox-", "--provides", "/bin/sh"},
		{"newtool-", "--obsoletes", "oldtool < 2.0"},
		{"vzkit-daemon-", "--scripts", "preinstall scriptlet"},
		{"vzkit-daemon-", "--filetriggers", "/usr/lib/vzkit-units"},
		{"filesystem-", "--requires", "setup"},
	} {
		if got := q(pkg(c.file), c.query); !strings.Contains(got, c.want) {
			t.Errorf("rpm -qp %s %s*: no %q in:\n%s", c.query, c.file, c.want, got)
		}
	}
	if got := q(pkg("filesystem-"), "--qf", "[%{FILENAMES} %{FILEMODES:perms}\n]"); !strings.Contains(got, "/tmp drwxrwxrwt") {
		t.Errorf("filesystem: /tmp is not 1777:\n%s", got)
	}
	md, err := os.ReadFile(filepath.Join(r.Root, "repodata/repomd.xml"))
	must(t, err)
	sig, err := os.ReadFile(filepath.Join(r.Root, "repodata/repomd.xml.asc"))
	must(t, err)
	if _, err := r.Keyring.VerifyDetached(md, sig, pgp.VerifyOptions{}); err != nil {
		t.Errorf("repomd.xml.asc: %v", err)
	}
	if !strings.Contains(string(md), `<data type="group">`) {
		t.Errorf("repomd.xml lists no comps group data:\n%s", md)
	}
}

// TestDistributionInstallsWithRPM installs the distribution with the
// host's rpm into an empty root, the oracle for what vzpkg must build
// from it: its scriptlets and trigger run, and its own rpm then runs
// inside (chroot) and finds every package in its database, verified.
func TestDistributionInstallsWithRPM(t *testing.T) {
	testenv.NeedRoot(t, "chroot into the installed root")
	r := Build(t, Distribution(t), Options{Unsigned: true})
	root := t.TempDir()
	var pkgs []string
	for _, f := range r.RPMs {
		if !strings.HasPrefix(f, "clock-10.0") && !strings.HasPrefix(f, "oldtool-") {
			pkgs = append(pkgs, filepath.Join(r.Root, f))
		}
	}
	testenv.Run(t, "", nil, "rpm", append([]string{"--root", root, "--define", "_dbpath /var/lib/rpm", "-i", "--nosignature"}, pkgs...)...)
	qa := strings.Fields(string(testenv.Run(t, "", nil, "chroot", root, "/usr/bin/rpm", "-qa", "--qf", "%{NAME}\n")))
	if len(qa) != len(pkgs) {
		t.Errorf("rpm -qa inside: %v, want the %d installed", qa, len(pkgs))
	}
	if out, err := exec.Command("chroot", root, "/usr/bin/rpm", "-Va").CombinedOutput(); err != nil {
		t.Errorf("rpm -Va inside: %v\n%s", err, out)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	units, _ := os.ReadFile(filepath.Join(root, "var/lib/vzd/units"))
	if !strings.Contains(string(passwd), "\nvzd:x:990:") || !strings.Contains(string(units), "/usr/lib/vzkit-units/tools.unit") {
		t.Errorf("%%pre or the file trigger did not run: passwd %q, units %q", passwd, units)
	}
	if out := string(testenv.Run(t, "", nil, "chroot", root, "/usr/bin/vzkit-hello")); out != "hello from vzkit-tools\n" {
		t.Errorf("vzkit-hello: %q", out)
	}
}
