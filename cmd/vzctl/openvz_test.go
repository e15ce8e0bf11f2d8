package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
)

// copyOpenVZFile puts testdata/openvz/NAME (OpenVZ's own file) at dst
// under the test's VZKIT_ROOT.
func (e *env) copyOpenVZFile(name, dst string) {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "openvz", name))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(e.path(dst)), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(e.path(dst), b, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// confValue reads KEY="value" from a CTID.conf under the test's root.
func (e *env) confValue(ctid, key string) string {
	e.t.Helper()
	b, err := os.ReadFile(e.path("etc/vzkit/conf/" + ctid + ".conf"))
	if err != nil {
		e.t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^`+key+`="?([^"\n]*)"?$`).FindAllStringSubmatch(string(b), -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// TestOpenVZStockFiles runs an admin's day against OpenVZ's own vz.conf,
// sample configs and a CTID.conf as vzctl 4 leaves it (testdata/openvz).
func TestOpenVZStockFiles(t *testing.T) {
	e := newEnv(t)
	e.copyOpenVZFile("vz.conf", "etc/vzkit/vz.conf")
	e.copyOpenVZFile("ve-basic.conf-sample", "etc/vzkit/conf/ve-basic.conf-sample")
	e.copyOpenVZFile("ve-vswap-256m.conf-sample", "etc/vzkit/conf/ve-vswap-256m.conf-sample")
	e.copyOpenVZFile("101.conf", "etc/vzkit/conf/101.conf")
	// vz.conf's TEMPLATE is /vz/template.
	installCache(t, rootfsCache(t), e.path("vz/template/cache/debian-12-minimal.tar.zst"))

	// vz.conf: what vzkit does not implement is shown as such.
	cfg := e.ok("config")
	for _, key := range []string{"LOGFILE", "VE_STOP_MODE", "IPV6", "IPTABLES", "VIRTUOZZO"} {
		if !regexp.MustCompile(`(?m)^` + key + ` .*ignored`).MatchString(cfg) {
			t.Errorf("vzctl config does not list %s as ignored:\n%s", key, cfg)
		}
	}
	if !regexp.MustCompile(`(?m)^TEMPLATE +\S+/vz/template +\S+vz.conf:\d+ +used`).MatchString(cfg) {
		t.Errorf("vzctl config: TEMPLATE not taken from vz.conf:\n%s", cfg)
	}

	// 101: the existing CTID.conf is the configuration to create from;
	// its VE_PRIVATE and simfs layout hold, its other keys stay.
	e.ok("create", "101", "--ostemplate", "debian-12-minimal")
	if fi, err := os.Stat(e.path("var/lib/vz/private/101/etc/debian_version")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("create 101 did not use VE_PRIVATE of its CTID.conf: %v", err)
	}
	for key, want := range map[string]string{
		"OSTEMPLATE": "debian-12-minimal", "PHYSPAGES": "0:256M", "NETFILTER": "stateless",
		"ORIGIN_SAMPLE": "vswap-256m", "HOSTNAME": "centos-7", "VE_PRIVATE": "/var/lib/vz/private/$VEID",
	} {
		if got := e.confValue("101", key); got != want {
			t.Errorf("101.conf %s=%q, want %q", key, got, want)
		}
	}

	// 102: a sample by name; vz.conf's VE_PRIVATE with $VEID.
	e.ok("create", "102", "--ostemplate", "debian-12-minimal", "--config", "vswap-256m", "--hostname", "ct102")
	if got := e.confValue("102", "ORIGIN_SAMPLE"); got != "vswap-256m" {
		t.Errorf("102.conf ORIGIN_SAMPLE=%q, want vswap-256m", got)
	}
	if got := e.confValue("102", "VE_PRIVATE"); got != "/vz/private/$VEID" {
		t.Errorf("102.conf VE_PRIVATE=%q, want vz.conf's /vz/private/$VEID", got)
	}
	if _, err := os.Stat(e.path("vz/private/102/etc/debian_version")); err != nil {
		t.Errorf("create 102: %v", err)
	}
	// 103: CONFIGFILE="basic" of vz.conf (a value followed by a comment);
	// --private and --root as vzctl has them.
	e.ok("create", "103", "--ostemplate", "debian-12-minimal", "--private", "/srv/vz/p/$VEID", "--root", "/srv/vz/r/$VEID")
	for key, want := range map[string]string{
		"ORIGIN_SAMPLE": "basic", "KMEMSIZE": "14372700:14790164",
		"VE_PRIVATE": "/srv/vz/p/$VEID", "VE_ROOT": "/srv/vz/r/$VEID",
	} {
		if got := e.confValue("103", key); got != want {
			t.Errorf("103.conf %s=%q, want %q", key, got, want)
		}
	}

	// The lifecycle on these files.
	e.ok("set", "101", "--ipdel", "all", "--ipadd", "192.0.2.101", "--hostname", "web101", "--save")
	e.ok("start", "101")
	e.ok("start", "103")
	if out := e.ok("exec", "101", "cat", "/etc/hostname"); strings.TrimSpace(out) != "web101" {
		t.Errorf("exec 101 cat /etc/hostname: %q", out)
	}
	if _, err := os.Stat(e.path("srv/vz/r/103/etc/debian_version")); err != nil {
		t.Errorf("103 not mounted at its --root: %v", err)
	}
	// OpenVZ's samples apply as they are: vswap-256m's RAM and swap to 101,
	// basic's NUMPROC, NUMFILE and PRIVVMPAGES (the memory cap of a
	// pre-vswap configuration) to 103.
	v2 := cgroups.IsCgroup2UnifiedMode()
	_, dirs := e.running("101")
	if got := e.cgroupValue(dirs, pick2(v2, "memory.limit_in_bytes", "memory.max")); got != "268435456" {
		t.Errorf("101 (vswap-256m) memory limit %s, want 256 MiB", got)
	}
	if got := e.cgroupValue(dirs, pick2(v2, "memory.memsw.limit_in_bytes", "memory.swap.max")); got != pick2(v2, "805306368", "536870912") {
		t.Errorf("101 (vswap-256m) swap limit %s, want 512 MiB beyond RAM", got)
	}
	pid, dirs := e.running("103")
	if got := e.cgroupValue(dirs, "pids.max"); got != "240" {
		t.Errorf("103 (basic) pids.max %s, want NUMPROC 240", got)
	}
	if got := e.cgroupValue(dirs, pick2(v2, "memory.limit_in_bytes", "memory.max")); got != "285212672" {
		t.Errorf("103 (basic) memory limit %s, want PRIVVMPAGES 69632 pages", got)
	}
	if got := limitOf(t, pid, "Max open files"); got != "1024 9312" && got != "9312 9312" {
		t.Errorf("103 (basic) open files %s, want NUMFILE 9312 as the hard limit", got)
	}
	byID := map[string]listEntry{}
	for _, l := range e.list("-a") {
		byID[l.CTID] = l
	}
	if byID["101"].Status != "running" || byID["102"].Status != "stopped" || byID["103"].Status != "running" ||
		byID["101"].Hostname != "web101" || byID["101"].Layout != "plain" {
		t.Errorf("list -a: %+v", byID)
	}
	e.ok("stop", "101")
	e.ok("stop", "103", "--skip-umount")
	if l := e.list("-a"); len(l) != 3 || l[2].Status != "mounted" {
		t.Errorf("after stop --skip-umount: %+v", l)
	}
	e.ok("umount", "103")
	for _, id := range []string{"101", "102", "103"} {
		e.ok("destroy", id)
	}
	if _, err := os.Stat(e.path("var/lib/vz/private/101")); !os.IsNotExist(err) {
		t.Errorf("destroy 101 left its private area: %v", err)
	}
}

// TestStartStopForms covers start --force/--wait, DISABLED, STOP_TIMEOUT of
// CTID.conf and the layouts named as OpenVZ names them.
func TestStartStopForms(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "101", "--ostemplate", "debian-12-minimal", "--layout", "simfs")
	if got := e.confValue("101", "VE_LAYOUT"); got != "plain" {
		t.Errorf("--layout simfs recorded as %q, want plain", got)
	}
	e.ok("set", "101", "--disabled", "yes", "--save")
	if s := e.code(105, "start", "101"); !strings.Contains(s, "DISABLED") || !strings.Contains(s, "--force") {
		t.Errorf("start of a disabled container: %s", s)
	}
	e.ok("start", "101", "--force", "--wait")
	// STOP_TIMEOUT of CTID.conf is read (and a bad one named by file:line).
	conf := e.path("etc/vzkit/conf/101.conf")
	appendLine(t, conf, `STOP_TIMEOUT="soon"`)
	if s := e.code(21, "stop", "101"); !regexp.MustCompile(`101\.conf:\d+: STOP_TIMEOUT="soon"`).MatchString(s) {
		t.Errorf("stop with a bad STOP_TIMEOUT in CTID.conf: %s", s)
	}
	appendLine(t, conf, `STOP_TIMEOUT="5"`)
	e.ok("stop", "101")
	e.code(21, "set", "101", "--disabled", "maybe", "--save")

	// ploop is OpenVZ's image layout: an ext4 image of the sample's
	// DISKSPACE (basic: 10G:11G), sparse.
	e.ok("create", "102", "--ostemplate", "debian-12-minimal", "--layout", "ploop")
	if got := e.confValue("102", "VE_LAYOUT"); got != "image" {
		t.Errorf("--layout ploop recorded as %q, want image", got)
	}
	if fi, err := os.Stat(e.path("var/lib/vzkit/private/102/root.hdd/root.hdd")); err != nil || fi.Size() != 11<<30 {
		t.Errorf("image of 102: %v", err)
	}
	e.ok("destroy", "102")
	// A CTID.conf saying ploop without a DISKSPACE: refused, naming it.
	if err := os.WriteFile(e.path("etc/vzkit/conf/103.conf"), []byte("OSTEMPLATE=\"debian-12-minimal\"\nVE_LAYOUT=\"ploop\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s := e.code(21, "create", "103"); !strings.Contains(s, "DISKSPACE is unlimited") {
		t.Errorf("create from a CTID.conf with VE_LAYOUT=ploop and no DISKSPACE: %s", s)
	}
	if _, err := os.Stat(e.path("etc/vzkit/conf/103.conf")); err != nil {
		t.Errorf("a refused create removed the admin's CTID.conf: %v", err)
	}
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}
