package distros

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestScriptLookup(t *testing.T) {
	for _, distro := range []string{"debian", "Ubuntu", "fedora", "almalinux", "rocky", "centos", "opensuse-leap", "redhat", "suse"} {
		for _, a := range SetupActions {
			b, err := Script(distro, a)
			if err != nil {
				t.Errorf("Script(%q, %s): %v", distro, a, err)
				continue
			}
			if !bytes.HasPrefix(b, []byte("#!/bin/sh\n")) || !bytes.Contains(b, []byte("vzkit "+string(a))) {
				t.Errorf("Script(%q, %s) does not look like the %s script", distro, a, a)
			}
		}
	}
	deb, _ := Script("ubuntu", SetIP)
	rh, _ := Script("rocky", SetIP)
	suse, _ := Script("opensuse-tumbleweed", SetIP)
	if !bytes.Contains(deb, []byte("/etc/network/interfaces")) || !bytes.Contains(rh, []byte("network-scripts")) || !bytes.Equal(rh, suse) {
		t.Error("ubuntu should get the Debian set_ip, rocky and opensuse the shared RPM one")
	}
	if _, err := Script("gentoo", SetIP); err == nil || !strings.Contains(err.Error(), "gentoo") {
		t.Errorf("unknown distro: want an error naming it, got %v", err)
	}
	if _, err := Script("debian", "set_quota"); err == nil || !strings.Contains(err.Error(), "set_quota") {
		t.Errorf("unknown action: want an error naming it, got %v", err)
	}
}

// Every script must at least parse with the shells containers have.
func TestScriptSyntax(t *testing.T) {
	shells := [][]string{{"dash", "-n"}, {"busybox", "sh", "-n"}, {"bash", "--posix", "-n"}}
	for _, sh := range shells {
		if _, err := exec.LookPath(sh[0]); err != nil {
			t.Logf("skipping %s: not installed", sh[0])
			continue
		}
		for _, fam := range []string{FamilyDebian, FamilyRedHat} {
			for _, a := range SetupActions {
				b, _ := Script(fam, a)
				cmd := exec.Command(sh[0], append(sh[1:], "/dev/stdin")...)
				cmd.Stdin = bytes.NewReader(b)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%s: %s %s: %v\n%s", sh[0], fam, a, err, out)
				}
			}
		}
	}
}

// runScript runs the script inside root with the root's /bin/sh, in its
// own UTS namespace so hostname(1) cannot touch the test host, and returns
// its combined output. extra is appended to the shell command line after
// the script (with its exit status kept).
func runScript(t *testing.T, root, distro string, a SetupAction, env map[string]string, extra string) (string, error) {
	t.Helper()
	script, err := Script(distro, a)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--uts", "--root", root, "/bin/sh", "-c",
		`/bin/sh -c "$1" vzkit-`+string(a)+` || exit; `+extra, "sh", string(script))
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustRun(t *testing.T, root, distro string, a SetupAction, env map[string]string, extra string) string {
	t.Helper()
	out, err := runScript(t, root, distro, a, env, extra)
	if err != nil {
		t.Fatalf("%s %s with %v: %v\n%s", distro, a, env, err, out)
	}
	return out
}

func readFile(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, root, name, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func wantLines(t *testing.T, what, got string, want ...string) {
	t.Helper()
	lines := strings.Split(got, "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			if l == w {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: missing line %q in:\n%s", what, w, got)
		}
	}
}

func noLines(t *testing.T, what, got string, re string) {
	t.Helper()
	if m := regexp.MustCompile("(?m)" + re).FindString(got); m != "" {
		t.Errorf("%s: unexpected %q in:\n%s", what, m, got)
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs the scripts with unshare --root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux)")
	}
}

// hostAptSources lists the host's apt source files, which mmdebstrap pastes
// into the new root's sources.list: the mirror comes from the host, never
// from this repository.
func hostAptSources(t *testing.T) []string {
	var files []string
	for _, pat := range []string{"/etc/apt/sources.list.d/*.sources", "/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list"} {
		m, _ := filepath.Glob(pat)
		for _, f := range m {
			if st, err := os.Stat(f); err == nil && st.Size() > 0 {
				files = append(files, f)
			}
		}
	}
	if len(files) == 0 {
		t.Skip("no apt sources on this host to take a Debian mirror from")
	}
	return files
}

// TestDebianScripts runs the Debian-family scripts in a real Debian 12
// minbase root (plus ifupdown, whose ifquery parses what set_ip writes).
// The root is built once per run; every subtest unpacks its own copy.
func TestDebianScripts(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("builds a Debian root with mmdebstrap from the network")
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		t.Skip("needs mmdebstrap")
	}
	tarball := filepath.Join(t.TempDir(), "bookworm-minbase.tar")
	args := append([]string{"--variant=minbase", "--include=ifupdown", "--quiet", "bookworm", tarball}, hostAptSources(t)...)
	if out, err := exec.Command("mmdebstrap", args...).CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap %v: %v\n%s", args, err, out)
	}
	fresh := func(t *testing.T) string {
		t.Helper()
		root := t.TempDir()
		if out, err := exec.Command("tar", "-C", root, "-xf", tarball).CombinedOutput(); err != nil {
			t.Fatalf("unpacking the Debian root: %v\n%s", err, out)
		}
		return root
	}

	t.Run("hostname", func(t *testing.T) {
		root := fresh(t)
		mustRun(t, root, "debian", SetHostname, map[string]string{"HOSTNAME": "old.example.org"}, "")
		out := mustRun(t, root, "debian", SetHostname, map[string]string{"HOSTNAME": "web1.example.org"}, "hostname")
		if strings.TrimSpace(out) != "web1.example.org" {
			t.Errorf("hostname after set_hostname: %q", out)
		}
		if got := readFile(t, root, "etc/hostname"); got != "web1.example.org\n" {
			t.Errorf("/etc/hostname = %q", got)
		}
		hosts := readFile(t, root, "etc/hosts")
		wantLines(t, "/etc/hosts", hosts, "127.0.0.1\tlocalhost", "127.0.1.1\tweb1.example.org web1")
		noLines(t, "/etc/hosts", hosts, "old.example.org")
		if strings.Count(hosts, "127.0.1.1") != 1 {
			t.Errorf("/etc/hosts has more than one 127.0.1.1 line:\n%s", hosts)
		}
		// Bad input is refused before anything is written.
		if out, err := runScript(t, root, "debian", SetHostname, map[string]string{"HOSTNAME": "bad name;x"}, ""); exitCode(err) != 2 {
			t.Errorf("invalid host name: want exit 2, got %v: %s", err, out)
		}
		if got := readFile(t, root, "etc/hostname"); got != "web1.example.org\n" {
			t.Errorf("/etc/hostname changed by a refused call: %q", got)
		}
	})

	t.Run("ip-ifupdown", func(t *testing.T) {
		root := fresh(t)
		writeFile(t, root, "etc/network/interfaces",
			"source /etc/network/interfaces.d/*\nauto lo eth0\niface lo inet loopback\niface eth0 inet dhcp\n\thostname x\nauto eth1\niface eth1 inet dhcp\n", 0o644)
		env := map[string]string{"IP_ADDR": "192.0.2.5/24 192.0.2.6/24 fd00::5/64", "GATEWAY": "192.0.2.1", "GATEWAY6": "fe80::1"}
		out := mustRun(t, root, "debian", SetIP, env, "ifquery eth0; ifquery -l")
		wantLines(t, "ifquery", out, "address: 192.0.2.5", "address: 192.0.2.6", "gateway: 192.0.2.1",
			"netmask: 255.255.255.0", "address: fd00::5", "gateway: fe80::1", "netmask: 64", "eth1", "lo")
		ifaces := readFile(t, root, "etc/network/interfaces")
		noLines(t, "interfaces", ifaces, `inet dhcp\n\thostname|iface eth0 inet dhcp`)
		wantLines(t, "interfaces", ifaces, "auto lo", "iface eth1 inet dhcp", "source /etc/network/interfaces.d/*")

		// Routed mode, run twice: the block is replaced, not repeated.
		routed := map[string]string{"IP_ADDR": "198.51.100.7", "GATEWAY": "169.254.0.1"}
		mustRun(t, root, "debian", SetIP, routed, "")
		out = mustRun(t, root, "debian", SetIP, routed, "ifquery eth0")
		wantLines(t, "ifquery (routed)", out, "address: 198.51.100.7", "netmask: 255.255.255.255", "gateway: 169.254.0.1")
		ifaces = readFile(t, root, "etc/network/interfaces")
		noLines(t, "interfaces (routed)", ifaces, `192\.0\.2\.5|fd00::5`)
		if strings.Count(ifaces, "# BEGIN vzkit eth0") != 1 {
			t.Errorf("interfaces: want one vzkit block:\n%s", ifaces)
		}

		mustRun(t, root, "debian", SetIP, map[string]string{"IP_ADDR": ""}, "")
		ifaces = readFile(t, root, "etc/network/interfaces")
		noLines(t, "interfaces (no addresses)", ifaces, `eth0`)
		wantLines(t, "interfaces (no addresses)", ifaces, "iface eth1 inet dhcp")
	})

	t.Run("ip-networkd", func(t *testing.T) {
		root := fresh(t)
		for _, p := range []string{"sbin/ifup", "usr/sbin/ifup"} {
			os.Remove(filepath.Join(root, p))
		}
		writeFile(t, root, "usr/lib/systemd/systemd-networkd", "#!/bin/sh\n", 0o755)
		mustRun(t, root, "ubuntu", SetIP, map[string]string{"IP_ADDR": "198.51.100.7 fd00::7", "GATEWAY": "169.254.0.1", "GATEWAY6": "fe80::1", "NETIF": "venet0"}, "")
		nw := readFile(t, root, "etc/systemd/network/05-vzkit-venet0.network")
		wantLines(t, "networkd file", nw, "[Match]", "Name=venet0", "Address=198.51.100.7/32", "Address=fd00::7/128",
			"Gateway=169.254.0.1", "Gateway=fe80::1", "GatewayOnLink=yes")
		if _, err := os.Stat(filepath.Join(root, "etc/network/interfaces.vzkit-tmp")); err == nil {
			t.Error("temporary file left behind")
		}
		mustRun(t, root, "ubuntu", SetIP, map[string]string{"NETIF": "venet0"}, "")
		if _, err := os.Stat(filepath.Join(root, "etc/systemd/network/05-vzkit-venet0.network")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("networkd file should be gone with no addresses: %v", err)
		}
	})

	t.Run("dns", func(t *testing.T) { testDNS(t, fresh(t), "debian") })

	t.Run("userpass", func(t *testing.T) {
		root := fresh(t)
		env := map[string]string{"USERPW": "root:s3cret pw:x\nalice:alice-pw"}
		mustRun(t, root, "debian", SetUserPass, env, "")
		for user, pw := range map[string]string{"root": "s3cret pw:x", "alice": "alice-pw"} {
			// perl's crypt() is the system libcrypt, the same that checks logins.
			cmd := exec.Command("unshare", "--root", root, "perl", "-e",
				`my @e = getpwnam($ARGV[0]) or die "no user"; my ($h) = (split /:/, (grep { /^\Q$ARGV[0]\E:/ } do { open my $f, "<", "/etc/shadow" or die; <$f> })[0])[1]; exit(crypt($ARGV[1], $h) eq $h ? 0 : 1)`,
				user, pw)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("password of %s does not verify against /etc/shadow: %v %s", user, err, out)
			}
		}
		if st, err := os.Stat(filepath.Join(root, "home/alice")); err != nil || !st.IsDir() {
			t.Errorf("alice's home was not created: %v", err)
		}
		if out, err := runScript(t, root, "debian", SetUserPass, map[string]string{"USERPW": "no-colon"}, ""); exitCode(err) != 2 {
			t.Errorf("entry without colon: want exit 2, got %v: %s", err, out)
		}
	})
}

func testDNS(t *testing.T, root, distro string) {
	writeFile(t, root, "etc/resolv.conf", "# keep me\noptions edns0\nnameserver 192.0.2.53\nsearch old.example\ndomain old.example\n", 0o644)
	mustRun(t, root, distro, SetDNS, map[string]string{"NAMESERVER": "198.51.100.53 2001:db8::53", "SEARCHDOMAIN": "example.org corp.example"}, "")
	rc := readFile(t, root, "etc/resolv.conf")
	wantLines(t, "resolv.conf", rc, "# keep me", "options edns0", "search example.org corp.example", "nameserver 198.51.100.53", "nameserver 2001:db8::53")
	noLines(t, "resolv.conf", rc, `old\.example|192\.0\.2\.53`)
	// Only name servers given: the search line stays.
	mustRun(t, root, distro, SetDNS, map[string]string{"NAMESERVER": "198.51.100.54"}, "")
	rc = readFile(t, root, "etc/resolv.conf")
	wantLines(t, "resolv.conf", rc, "search example.org corp.example", "nameserver 198.51.100.54")
	noLines(t, "resolv.conf", rc, `198\.51\.100\.53`)
	// A resolver stub symlink is replaced by a plain file.
	os.Remove(filepath.Join(root, "etc/resolv.conf"))
	if err := os.Symlink("../run/systemd/resolve/stub-resolv.conf", filepath.Join(root, "etc/resolv.conf")); err != nil {
		t.Fatal(err)
	}
	mustRun(t, root, distro, SetDNS, map[string]string{"NAMESERVER": "198.51.100.55"}, "")
	if st, err := os.Lstat(filepath.Join(root, "etc/resolv.conf")); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("resolv.conf should be a plain file now: %v", err)
	}
	wantLines(t, "resolv.conf", readFile(t, root, "etc/resolv.conf"), "nameserver 198.51.100.55")
	if out, err := runScript(t, root, distro, SetDNS, map[string]string{"NAMESERVER": "198.51.100.1;reboot"}, ""); exitCode(err) != 2 {
		t.Errorf("invalid name server: want exit 2, got %v: %s", err, out)
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// busyboxRoot makes a minimal root whose only program is a static busybox,
// standing in for an RPM-family container for the file edits.
func busyboxRoot(t *testing.T) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox-static")
	}
	if out, _ := exec.Command("file", "-L", bb).Output(); len(out) > 0 && !bytes.Contains(out, []byte("statically linked")) && !bytes.Contains(out, []byte("static-pie")) {
		t.Skipf("%s is not static (apt-get install busybox-static)", bb)
	}
	root := t.TempDir()
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "bin/busybox", string(b), 0o755)
	for _, d := range []string{"sbin", "usr/bin", "usr/sbin", "tmp", "root", "dev"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	if err := unix.Mknod(filepath.Join(root, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatalf("mknod dev/null: %v", err)
	}
	if out, err := exec.Command("unshare", "--root", root, "/bin/busybox", "--install", "-s", "/bin").CombinedOutput(); err != nil {
		t.Fatalf("busybox --install: %v\n%s", err, out)
	}
	writeFile(t, root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644)
	writeFile(t, root, "etc/shadow", "root:*:20000:0:99999:7:::\n", 0o640)
	writeFile(t, root, "etc/group", "root:x:0:\n", 0o644)
	return root
}

func TestRPMScripts(t *testing.T) {
	needRoot(t)
	// ifcfg files are shell: source one and print what network-scripts would see.
	source := func(vars ...string) string {
		s := "unset " + strings.Join(vars, " ") + "; . /etc/sysconfig/network-scripts/ifcfg-eth0;"
		for _, v := range vars {
			s += ` echo "` + v + `=$` + v + `";`
		}
		return s
	}

	t.Run("ip-network-scripts", func(t *testing.T) {
		root := busyboxRoot(t)
		writeFile(t, root, "etc/sysconfig/network", "NETWORKING=yes\n", 0o644)
		env := map[string]string{"IP_ADDR": "192.0.2.5/24 192.0.2.6/25 fd00::5/64 fd00::6/64", "GATEWAY": "192.0.2.1", "GATEWAY6": "fe80::1"}
		out := mustRun(t, root, "rocky", SetIP, env, source("DEVICE", "ONBOOT", "BOOTPROTO", "IPADDR0", "PREFIX0", "IPADDR1", "PREFIX1", "GATEWAY", "IPV6INIT", "IPV6ADDR", "IPV6ADDR_SECONDARIES", "IPV6_DEFAULTGW"))
		wantLines(t, "ifcfg-eth0", out, "DEVICE=eth0", "ONBOOT=yes", "BOOTPROTO=none", "IPADDR0=192.0.2.5", "PREFIX0=24",
			"IPADDR1=192.0.2.6", "PREFIX1=25", "GATEWAY=192.0.2.1", "IPV6INIT=yes", "IPV6ADDR=fd00::5/64",
			"IPV6ADDR_SECONDARIES=fd00::6/64", "IPV6_DEFAULTGW=fe80::1%eth0")
		if _, err := os.Stat(filepath.Join(root, "etc/sysconfig/network-scripts/route-eth0")); err == nil {
			t.Error("route-eth0 written for a gateway inside the subnet")
		}
		out = mustRun(t, root, "centos", SetIP, map[string]string{"IP_ADDR": "198.51.100.7", "GATEWAY": "169.254.0.1"}, source("IPADDR0", "PREFIX0", "GATEWAY", "IPADDR1"))
		wantLines(t, "ifcfg-eth0 (routed)", out, "IPADDR0=198.51.100.7", "PREFIX0=32", "GATEWAY=", "IPADDR1=")
		wantLines(t, "route-eth0", readFile(t, root, "etc/sysconfig/network-scripts/route-eth0"),
			"169.254.0.1 dev eth0", "default via 169.254.0.1 dev eth0")
		mustRun(t, root, "centos", SetIP, map[string]string{"IP_ADDR": ""}, "")
		for _, f := range []string{"ifcfg-eth0", "route-eth0"} {
			if _, err := os.Stat(filepath.Join(root, "etc/sysconfig/network-scripts", f)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s should be removed with no addresses: %v", f, err)
			}
		}
	})

	t.Run("ip-suse", func(t *testing.T) {
		root := busyboxRoot(t)
		os.MkdirAll(filepath.Join(root, "etc/sysconfig/network"), 0o755)
		mustRun(t, root, "opensuse-leap", SetIP, map[string]string{"IP_ADDR": "198.51.100.7 fd00::7/128", "GATEWAY": "169.254.0.1", "GATEWAY6": "fe80::1"}, "")
		wantLines(t, "ifcfg-eth0", readFile(t, root, "etc/sysconfig/network/ifcfg-eth0"),
			"BOOTPROTO='static'", "STARTMODE='auto'", "IPADDR='198.51.100.7/32'", "IPADDR_1='fd00::7/128'")
		wantLines(t, "ifroute-eth0", readFile(t, root, "etc/sysconfig/network/ifroute-eth0"),
			"169.254.0.1/32 - - eth0", "default 169.254.0.1 - eth0", "default fe80::1 - eth0")
	})

	t.Run("ip-networkmanager", func(t *testing.T) {
		root := busyboxRoot(t)
		writeFile(t, root, "usr/sbin/NetworkManager", "#!/bin/sh\n", 0o755)
		writeFile(t, root, "etc/sysconfig/network-scripts/ifcfg-eth1", "DEVICE=eth1\n", 0o644)
		// An ifcfg vzkit wrote before NetworkManager was installed goes away.
		os.Remove(filepath.Join(root, "usr/sbin/NetworkManager"))
		mustRun(t, root, "fedora", SetIP, map[string]string{"IP_ADDR": "192.0.2.9/24"}, "")
		writeFile(t, root, "usr/sbin/NetworkManager", "#!/bin/sh\n", 0o755)
		mustRun(t, root, "fedora", SetIP, map[string]string{"IP_ADDR": "198.51.100.7 198.51.100.8 fd00::7/64", "GATEWAY": "169.254.0.1", "GATEWAY6": "fe80::1"}, "")
		p := "etc/NetworkManager/system-connections/vzkit-eth0.nmconnection"
		kf := readFile(t, root, p)
		wantLines(t, "keyfile", kf, "[connection]", "type=ethernet", "interface-name=eth0", "[ipv4]", "method=manual",
			"address1=198.51.100.7/32", "address2=198.51.100.8/32", "gateway=169.254.0.1", "route1=169.254.0.1/32",
			"[ipv6]", "address1=fd00::7/64", "gateway=fe80::1")
		if st, _ := os.Stat(filepath.Join(root, p)); st == nil || st.Mode().Perm() != 0o600 {
			t.Errorf("keyfile mode: want 0600 (NetworkManager ignores others), got %v", st)
		}
		if _, err := os.Stat(filepath.Join(root, "etc/sysconfig/network-scripts/ifcfg-eth0")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("vzkit's old ifcfg-eth0 should be removed: %v", err)
		}
		if _, err := os.Stat(filepath.Join(root, "etc/sysconfig/network-scripts/ifcfg-eth1")); err != nil {
			t.Errorf("a foreign ifcfg file was touched: %v", err)
		}
	})

	t.Run("hostname", func(t *testing.T) {
		root := busyboxRoot(t)
		writeFile(t, root, "etc/sysconfig/network", "NETWORKING=yes\nHOSTNAME=old.example\n", 0o644)
		writeFile(t, root, "etc/HOSTNAME", "old.example\n", 0o644)
		writeFile(t, root, "etc/hosts", "127.0.0.1   localhost localhost.localdomain\n::1         localhost6\n", 0o644)
		out := mustRun(t, root, "almalinux", SetHostname, map[string]string{"HOSTNAME": "db"}, "hostname")
		if strings.TrimSpace(out) != "db" {
			t.Errorf("hostname: %q", out)
		}
		wantLines(t, "/etc/sysconfig/network", readFile(t, root, "etc/sysconfig/network"), "NETWORKING=yes", "HOSTNAME=db")
		if got := readFile(t, root, "etc/HOSTNAME"); got != "db\n" {
			t.Errorf("/etc/HOSTNAME = %q", got)
		}
		hosts := readFile(t, root, "etc/hosts")
		wantLines(t, "/etc/hosts", hosts, "127.0.0.1   localhost localhost.localdomain", "::1         localhost6", "127.0.1.1\tdb")
		if strings.Count(hosts, "localhost\n")+strings.Count(hosts, "\tlocalhost\n") != 0 {
			t.Errorf("/etc/hosts got a second localhost line:\n%s", hosts)
		}
	})

	t.Run("dns", func(t *testing.T) { testDNS(t, busyboxRoot(t), "fedora") })

	// Debian's busybox has no chpasswd applet: the script must say so and
	// leave /etc/shadow alone (there is no hand-made hash fallback).
	t.Run("userpass-without-chpasswd", func(t *testing.T) {
		root := busyboxRoot(t)
		if _, err := os.Lstat(filepath.Join(root, "bin/chpasswd")); err == nil {
			t.Skip("this busybox has chpasswd; covered by the Debian test")
		}
		out, err := runScript(t, root, "opensuse", SetUserPass, map[string]string{"USERPW": "root:rootpw"}, "")
		if exitCode(err) != 2 || !strings.Contains(out, "chpasswd not found") {
			t.Errorf("want exit 2 and 'chpasswd not found', got %v: %s", err, out)
		}
		if got := readFile(t, root, "etc/shadow"); got != "root:*:20000:0:99999:7:::\n" {
			t.Errorf("/etc/shadow changed: %q", got)
		}
	})
}
