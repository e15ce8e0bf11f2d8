package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vzkit/vzkit/internal/testenv"
)

// runIn runs vzctl with stdin and a time bound: a command that should end
// at the end of its stdin and does not fails the test instead of hanging it.
func (e *env) runIn(stdin string, args ...string) (string, string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, vzctlBin, args...)
	cmd.Env = append(os.Environ(), "VZKIT_ROOT="+e.root)
	cmd.Stdin = strings.NewReader(stdin)
	var o, s bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &s
	err := cmd.Run()
	if ctx.Err() != nil {
		// Errorf: runIn also serves subtests, whose goroutine this is not.
		e.t.Errorf("vzctl %s: still running after 60 s (stdin %q)", strings.Join(args, " "), stdin)
		return o.String(), s.String(), -1
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return o.String(), s.String(), ee.ExitCode()
	case err != nil:
		e.t.Errorf("vzctl %v: %v", args, err)
		return o.String(), s.String(), -1
	}
	return o.String(), s.String(), 0
}

// bashScript uses what /bin/sh (dash) lacks: arrays, [[ ]], ${#a[@]}.
const bashScript = `#!/bin/bash
set -eu
words=(alpha "beta gamma" delta)
[[ ${#words[@]} -eq 3 ]]
read -r line
echo "n=${#words[@]} second=${words[1]} host=$(hostname) pid=$$ stdin=$line"
exit 6
`

// TestExecRunscriptForms: the exec, exec2, exec -, enter and runscript forms
// of OpenVZ's vzctl, on a running container and, for runscript, a stopped one.
func TestExecRunscriptForms(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "130", "--ostemplate", "debian-12-minimal")
	e.ok("create", "131", "--ostemplate", "debian-12-minimal", "--hostname", "stopped.example.org")
	e.ok("start", "130")
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bash := script("arrays.sh", bashScript)
	plain := script("plain.sh", "if [ -n \"${BASH_VERSION:-}\" ]; then echo bash; else echo sh; fi\n")
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		out   string
		code  int
	}{
		{"exec: a pipe runs in the container's shell", []string{"exec", "130", "echo one two three | wc -w"}, "", "3\n", 0},
		{"exec: words are joined for the shell", []string{"exec", "130", "echo", "$((6*7))", "|", "tr", "4", "x"}, "", "x2\n", 0},
		{"exec: variables expand inside", []string{"exec", "130", "echo $HOME"}, "", "/root\n", 0},
		{"exec: the command's status", []string{"exec", "130", "false"}, "", "", 1},
		{"exec2: the command's status", []string{"exec2", "130", "exit 9"}, "", "", 9},
		{"exec -: commands from stdin", []string{"exec", "130", "-"}, "x=5\necho $((x*2))\nhostname\nexit 4\n", "10\nct130\n", 4},
		{"exec: stdin reaches the command", []string{"exec", "130", "tr a-z A-Z"}, "piped\n", "PIPED\n", 0},
		{"enter: piped stdin, ends at EOF", []string{"enter", "130"}, "echo in-$(hostname)\n", "in-ct130\n", 0},
		{"enter: piped stdin, the shell's status", []string{"enter", "130"}, "echo a\nexit 3\necho never\n", "a\n", 3},
		{"enter --exec after CTID, then stdin", []string{"enter", "130", "--exec", "echo", "first"}, "echo second\n", "first\nsecond\n", 0},
		{"enter --exec=CMD", []string{"enter", "130", "--exec=echo $((1+1))"}, "", "2\n", 0},
		{"enter --exec before CTID", []string{"enter", "--exec", "exit 5", "130"}, "echo never\n", "", 5},
		{"runscript: #!/bin/bash on a running container", []string{"runscript", "130", bash}, "from-host\n",
			"n=3 second=beta gamma host=ct130 pid=", 6},
		{"runscript: no #! line runs /bin/sh", []string{"runscript", "130", plain}, "", "sh\n", 0},
		// Stopped: no init, so the interpreter is the sandbox's PID 1.
		{"runscript: #!/bin/bash on a stopped container", []string{"runscript", "131", bash}, "from-host\n",
			"n=3 second=beta gamma host=stopped.example.org pid=1 stdin=from-host\n", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, s, code := e.runIn(tc.stdin, tc.args...)
			if code != tc.code || !strings.HasPrefix(o, tc.out) || (!strings.HasSuffix(tc.out, "=") && o != tc.out) {
				t.Errorf("vzctl %q <<< %q: exit %d, stdout %q; want exit %d, stdout %q\nstderr: %s", tc.args, tc.stdin, code, o, tc.code, tc.out, s)
			}
		})
	}
	// The running container's script got stdin too, and was not PID 1.
	o, _, _ := e.runIn("from-host\n", "runscript", "130", bash)
	if !strings.HasSuffix(o, " stdin=from-host\n") || strings.Contains(o, " pid=1 ") {
		t.Errorf("runscript on a running container: %q", o)
	}
	// No copy of a script is left in either root; the stopped container
	// stays stopped and unmounted, and its lock is free again.
	if got := e.ok("exec", "130", "ls -a /"); strings.Contains(got, "runscript") {
		t.Errorf("runscript left its copy in the running container: %q", got)
	}
	if got := e.ok("status", "131"); got != "CTID 131 exist unmounted down\n" {
		t.Errorf("after runscript on a stopped container: %q", got)
	}
	e.ok("runscript", "131", script("mark.sh", "#!/bin/sh\necho ran >/root/mark\n"))
	e.ok("mount", "131")
	if b, err := os.ReadFile(e.path("var/lib/vzkit/root/131/root/mark")); err != nil || string(b) != "ran\n" {
		t.Errorf("what the script wrote in the stopped container: %q %v", b, err)
	}
	if left, _ := filepath.Glob(e.path("var/lib/vzkit/root/131/.vzkit-runscript-*")); len(left) > 0 {
		t.Errorf("runscript left %v", left)
	}
	// A mounted container stays mounted.
	e.ok("runscript", "131", plain)
	if got := e.ok("status", "131"); got != "CTID 131 exist mounted down\n" {
		t.Errorf("runscript on a mounted container: %q", got)
	}
	e.ok("umount", "131")
	e.code(14, "runscript", "132", plain)
	e.code(1, "runscript", "130", filepath.Join(dir, "missing.sh"))
	e.code(20, "enter", "130", "extra")
	e.ok("stop", "130")
}

// TestEnterExecThroughPty: enter --exec on a terminal types the command
// into the shell; the session stays until it is left.
func TestEnterExecThroughPty(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "133", "--ostemplate", "debian-12-minimal")
	e.ok("start", "133")
	p, slave := openPty(t, 24, 80)
	cmd := e.command("enter", "133", "--exec", "echo", "EX$((6*7))", "&&", "tty")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	out := p.waitFor(t, "EX42")
	p.waitFor(t, "/dev/pts/")
	p.master.WriteString("echo STILL$((1+1))\n")
	p.waitFor(t, "STILL2")
	p.master.WriteString("exit 4\n")
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Errorf("enter --exec exit: %v, want status 4\n%s", err, out)
	}
	p.master.Close()
	e.ok("stop", "133")
}

// hostTestAddr puts a fresh documentation address on the host's lo for the
// test, as an address the host uses.
func hostTestAddr(t *testing.T) string {
	t.Helper()
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		testenv.Missing(t, "no lo interface: %v", err)
	}
	for range 20 {
		ip := fmt.Sprintf("198.51.100.%d", 1+rand.IntN(250))
		a, _ := netlink.ParseAddr(ip + "/32")
		if err := netlink.AddrAdd(lo, a); err != nil {
			continue // taken by a parallel run
		}
		t.Cleanup(func() { netlink.AddrDel(lo, a) })
		return ip
	}
	t.Fatal("no free 198.51.100.x for lo")
	return ""
}

// TestIPAddressChecks: addresses are refused when they are set, with
// OpenVZ's codes and in an admin's words, and nothing of a refusal stays.
func TestIPAddressChecks(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "140", "--ostemplate", "debian-12-minimal", "--ipadd", "10.9.140.2")
	e.ok("create", "141", "--ostemplate", "debian-12-minimal")
	conf141 := func() string { return string(must(os.ReadFile(e.path("etc/vzkit/conf/141.conf")))) }
	before := conf141()

	// Another container's address, at set and at create.
	s := e.code(78, "set", "141", "--ipadd", "10.9.140.2", "--save")
	if !strings.Contains(s, "10.9.140.2 is already used by container 140") {
		t.Errorf("set --ipadd of 140's address: %s", s)
	}
	s = e.code(78, "create", "142", "--ostemplate", "debian-12-minimal", "--ipadd", "10.9.140.2/24")
	if !strings.Contains(s, "10.9.140.2 is already used by container 140") {
		t.Errorf("create --ipadd of 140's address: %s", s)
	}
	if _, err := os.Stat(e.path("etc/vzkit/conf/142.conf")); err == nil {
		t.Error("a refused create left 142.conf")
	}
	if _, err := os.Stat(e.path("var/lib/vzkit/private/142")); err == nil {
		t.Error("a refused create left a private area")
	}

	// An address of the host.
	hostIP := hostTestAddr(t)
	s = e.code(78, "set", "141", "--ipadd", hostIP, "--save")
	if !strings.Contains(s, hostIP+" is already used by the host on lo") {
		t.Errorf("set --ipadd of a host address: %s", s)
	}
	if hostIP4 := firstHostAddr(t); hostIP4 != "" {
		s = e.code(78, "set", "141", "--ipadd", hostIP4, "--save")
		if !strings.Contains(s, hostIP4+" is already used by the host on ") {
			t.Errorf("set --ipadd of the host's %s: %s", hostIP4, s)
		}
	}

	// Kinds of address no container can have, and garbage.
	for _, tc := range []struct{ ip, words string }{
		{"127.0.0.1", `invalid IP address "127.0.0.1": a loopback address`},
		{"::1", `invalid IP address "::1": a loopback address`},
		{"224.0.0.5", `invalid IP address "224.0.0.5": a multicast address`},
		{"ff02::1", `invalid IP address "ff02::1": a multicast address`},
		{"169.254.7.7", `invalid IP address "169.254.7.7": a link-local address`},
		{"fe80::7", `invalid IP address "fe80::7": a link-local address`},
		{"0.0.0.0", `invalid IP address "0.0.0.0": the unspecified address`},
		{"::", `invalid IP address "::": the unspecified address`},
		{"255.255.255.255", `invalid IP address "255.255.255.255": the broadcast address`},
		{"300.1.2.3", `invalid IP address "300.1.2.3": want an IPv4 address`},
		{"10.9.141.2/40", `invalid IP address "10.9.141.2/40": the prefix length must be a number from 0 to 32`},
		{"web.example.org", `invalid IP address "web.example.org"`},
	} {
		s := e.code(71, "set", "141", "--ipadd", tc.ip, "--save")
		if !strings.Contains(s, tc.words) || strings.Contains(s, "ParseAddr") {
			t.Errorf("set --ipadd %s: %s", tc.ip, s)
		}
	}
	e.code(71, "create", "143", "--ostemplate", "debian-12-minimal", "--ipadd", "127.0.0.1")
	if got := conf141(); got != before {
		t.Errorf("refused sets changed 141.conf:\n%s\nwas:\n%s", got, before)
	}
	s = e.code(72, "set", "141", "--nameserver", "300.1.2.3", "--save")
	if !strings.Contains(s, `invalid DNS nameserver "300.1.2.3"`) {
		t.Errorf("set --nameserver 300.1.2.3: %s", s)
	}

	// A free address is taken; its own address again is no conflict.
	e.ok("set", "141", "--ipadd", "10.9.141.2", "--save")
	e.ok("set", "141", "--ipadd", "10.9.141.2/32", "--save")
	if c := conf141(); !strings.Contains(c, `IP_ADDRESS="10.9.141.2/32"`) {
		t.Errorf("141.conf after re-adding its address:\n%s", c)
	}

	// A running container's live address (set without --save) is in use
	// as well.
	e.ok("start", "140")
	e.ok("set", "140", "--ipadd", "10.9.140.9")
	s = e.code(78, "set", "141", "--ipadd", "10.9.140.9", "--save")
	if !strings.Contains(s, "10.9.140.9 is already used by running container 140") {
		t.Errorf("set --ipadd of 140's live address: %s", s)
	}
	e.ok("stop", "140")
}

// firstHostAddr is a global unicast IPv4 address of one of the host's own
// interfaces, if it has one.
func firstHostAddr(t *testing.T) string {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
				return n.IP.String()
			}
		}
	}
	return ""
}

// TestNameserverInherit: the container's resolv.conf gets the host's
// resolvers, without the loopback ones.
func TestNameserverInherit(t *testing.T) {
	e := newEnv(t)
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		testenv.Missing(t, "the host has no /etc/resolv.conf: %v", err)
	}
	var want, loop []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip != nil && ip.IsLoopback() {
				loop = append(loop, f[1])
			} else if ip != nil {
				want = append(want, "nameserver "+f[1])
			}
		}
	}
	e.ok("create", "150", "--ostemplate", "debian-12-minimal")
	e.ok("start", "150")
	o, s, code := e.run("set", "150", "--nameserver", "inherit", "--save")
	for _, l := range loop {
		if !strings.Contains(s, "skipping the host's resolver "+l) {
			t.Errorf("no word about the skipped loopback resolver %s: %s", l, s)
		}
	}
	if len(want) == 0 {
		if _, err := os.Stat("/run/systemd/resolve/resolv.conf"); err == nil {
			t.Skip("the host's resolvers are behind systemd-resolved; covered by the runtime unit test")
		}
		if code != 72 || !strings.Contains(s, "names no resolver a container can reach") {
			t.Errorf("inherit with only loopback resolvers: exit %d\n%s%s", code, o, s)
		}
		return
	}
	if code != 0 {
		t.Fatalf("set --nameserver inherit: exit %d\n%s%s", code, o, s)
	}
	got := e.ok("exec", "150", "grep ^nameserver /etc/resolv.conf")
	if got != strings.Join(want, "\n")+"\n" {
		t.Errorf("container's resolv.conf nameservers %q, want %q", got, want)
	}
	if c := string(must(os.ReadFile(e.path("etc/vzkit/conf/150.conf")))); !strings.Contains(c, `NAMESERVER="inherit"`) {
		t.Errorf("150.conf does not keep inherit:\n%s", c)
	}
	// At the next start the host's resolvers are read again.
	e.ok("stop", "150")
	e.ok("start", "150")
	if got := e.ok("exec", "150", "grep ^nameserver /etc/resolv.conf"); got != strings.Join(want, "\n")+"\n" {
		t.Errorf("after restart: %q", got)
	}
	e.ok("stop", "150")
}
