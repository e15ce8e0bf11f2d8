package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/runtime/idmap"
)

var testMap = idmap.Map{UID: 400000, GID: 400000, Size: 65536}

// userNSConfig is testConfig on an idmapped mount of the shared test root,
// as runtime gives an unprivileged container its root.
func userNSConfig(t *testing.T) Config {
	t.Helper()
	cfg := testConfig(t)
	// The mapped root walks to its tree like any unprivileged user.
	for d := filepath.Dir(testRoot); d != "/"; d = filepath.Dir(d) {
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err == nil && st.Mode&0o001 == 0 {
			os.Chmod(d, os.FileMode(st.Mode&0o777|0o011))
		}
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o711)
	os.Chmod(filepath.Dir(dir), 0o711)
	mnt := filepath.Join(dir, "root")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := idmap.Bind(testRoot, mnt, &testMap); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	cfg.Root = mnt
	cfg.UserNS = &testMap
	return cfg
}

func TestUserNamespace(t *testing.T) {
	cfg := userNSConfig(t)
	out := mustSh(t, cfg, `cat /proc/self/uid_map; id -u; stat -c %u:%g /bin/busybox
echo x >/etc/written-inside
if echo '|/tmp/x' >/proc/sys/kernel/core_pattern 2>/dev/null; then echo core_pattern written; fi
if echo 1 >/proc/sys/kernel/sysrq 2>/dev/null; then echo sysrq written; fi
grep '^CapEff:' /proc/self/status`)
	f := strings.Fields(out)
	if len(f) < 6 || f[0] != "0" || f[1] != "400000" || f[2] != "65536" || f[3] != "0" || f[4] != "0:0" {
		t.Fatalf("inside the user namespace:\n%s\nwant uid_map 0 400000 65536, uid 0, files owned 0:0", out)
	}
	if strings.Contains(out, "written") {
		t.Errorf("a host-global sysctl was writable:\n%s", out)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(testRoot, "etc/written-inside"), &st); err != nil || st.Uid != 0 {
		t.Errorf("file made by the container's root: on-disk uid %d, %v; want 0 (unshifted)", st.Uid, err)
	}
	os.Remove(filepath.Join(testRoot, "etc/written-inside"))
}

// TestDelegateCgroupUserNS: the user namespace's root owns its delegated
// cgroup and can make children in it, as systemd does.
func TestDelegateCgroupUserNS(t *testing.T) {
	cfg := userNSConfig(t)
	cfg.DelegateCgroup = true
	dir := "/sys/fs/cgroup/systemd"
	if cgroups.IsCgroup2UnifiedMode() {
		dir = "/sys/fs/cgroup"
	}
	out := mustSh(t, cfg, "mkdir "+dir+"/payload && echo $$ >"+dir+"/payload/cgroup.procs && cat /proc/self/cgroup")
	if !strings.Contains(out, "/payload\n") {
		t.Errorf("the namespace's root could not use its delegated cgroup:\n%s", out)
	}
}
