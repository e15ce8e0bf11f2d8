package idmap

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

var m = Map{UID: 300000, GID: 300000, Size: 65536}

func needRoot(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t, "idmapped mounts")
}

// tempDir is a t.TempDir that host uids of the mapping can walk through,
// as they must to reach a container's tree.
func tempDir(t *testing.T) string {
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func owner(t *testing.T, p string) (uint32, uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid, st.Gid
}

func unmount(t *testing.T, p string) {
	t.Cleanup(func() {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", p, err)
		}
	})
}

// asUser runs a shell command as host uid/gid id (the container root's).
func asUser(t *testing.T, id uint32, script string) error {
	t.Helper()
	cmd := exec.Command("setpriv", "--reuid", itoa(id), "--regid", itoa(id), "--clear-groups", "sh", "-c", script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Logf("%s: %s", script, out)
	}
	return err
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

func TestBindMapsOwnersWithoutChown(t *testing.T) {
	needRoot(t)
	dir := tempDir(t)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	os.MkdirAll(filepath.Join(src, "etc"), 0o755)
	os.Mkdir(dst, 0o755)
	os.WriteFile(filepath.Join(src, "etc/passwd"), []byte("root:x:0:0\n"), 0o644)
	os.Lchown(filepath.Join(src, "etc/passwd"), 0, 42)
	if err := Bind(src, dst, &m); err != nil {
		t.Fatal(err)
	}
	unmount(t, dst)
	if u, g := owner(t, filepath.Join(dst, "etc/passwd")); u != m.UID || g != m.GID+42 {
		t.Errorf("through the mount: owner %d:%d, want %d:%d", u, g, m.UID, m.GID+42)
	}
	if u, g := owner(t, filepath.Join(src, "etc/passwd")); u != 0 || g != 42 {
		t.Errorf("on disk: owner %d:%d, want 0:42 (no chown)", u, g)
	}
	// The container's root creates a file: on disk it belongs to uid 0.
	if err := asUser(t, m.UID, "echo x > "+filepath.Join(dst, "etc/new")); err != nil {
		t.Fatalf("container root cannot write its own tree: %v", err)
	}
	if u, g := owner(t, filepath.Join(src, "etc/new")); u != 0 || g != 0 {
		t.Errorf("file created through the mapping: on-disk owner %d:%d, want 0:0", u, g)
	}
	// Another mapping's root gets nowhere.
	if err := asUser(t, m.UID+m.Size, "echo x > "+filepath.Join(dst, "etc/other")); err == nil {
		t.Error("a uid outside the mapping wrote into the tree")
	}
	checkNodev(t, dst)
}

func checkNodev(t *testing.T, dst string) {
	t.Helper()
	infos, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(dst))
	if err != nil || len(infos) != 1 {
		t.Fatalf("mountinfo of %s: %v %v", dst, infos, err)
	}
	if !strings.Contains(","+infos[0].Options+",", ",nodev,") {
		t.Errorf("%s mounted without nodev: %s", dst, infos[0].Options)
	}
}

func TestBindWithoutMapIsNodev(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	os.Mkdir(src, 0o755)
	os.Mkdir(dst, 0o755)
	if err := unix.Mknod(filepath.Join(src, "zero"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
		t.Fatal(err)
	}
	if err := Bind(src, dst, nil); err != nil {
		t.Fatal(err)
	}
	unmount(t, dst)
	checkNodev(t, dst)
	if f, err := os.Open(filepath.Join(dst, "zero")); err == nil {
		f.Close()
		t.Error("a device node in the tree opened through a nodev mount")
	}
}

func TestOverlayIdmappedLayersStayUnshifted(t *testing.T) {
	needRoot(t)
	dir := tempDir(t)
	lower, private, dst := filepath.Join(dir, "lower"), filepath.Join(dir, "private"), filepath.Join(dir, "root")
	for _, d := range []string{lower + "/etc", private + "/upper", private + "/work", dst} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(lower, "etc/hostname"), []byte("cache\n"), 0o644)
	if err := Overlay("vzkit-test", lower, private, dst, &m); err != nil {
		t.Fatal(err)
	}
	unmount(t, dst)
	infos, _ := mountinfo.GetMounts(mountinfo.SingleEntryFilter(dst))
	if len(infos) != 1 || !strings.Contains(infos[0].VFSOptions, "rw") || strings.Contains(","+infos[0].VFSOptions+",", ",ro,") {
		t.Fatalf("overlay not mounted read-write: %+v", infos)
	}
	checkNodev(t, dst)
	if u, _ := owner(t, filepath.Join(dst, "etc/hostname")); u != m.UID {
		t.Errorf("lower file through the overlay: uid %d, want %d", u, m.UID)
	}
	// Copy-up and a new file, made by the container's root.
	if err := asUser(t, m.UID, "echo ct > "+dst+"/etc/hostname && mkdir "+dst+"/etc/new && touch "+dst+"/etc/new/f"); err != nil {
		t.Fatalf("container root cannot change its overlay: %v", err)
	}
	for _, p := range []string{"upper/etc/hostname", "upper/etc/new", "upper/etc/new/f"} {
		if u, g := owner(t, filepath.Join(private, p)); u != 0 || g != 0 {
			t.Errorf("%s on disk: %d:%d, want 0:0 (unshifted, as in the plain layout)", p, u, g)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(lower, "etc/hostname")); string(b) != "cache\n" {
		t.Errorf("lower changed: %q", b)
	}
}

func TestUserNSLeavesNoProcess(t *testing.T) {
	needRoot(t)
	before := children(t)
	for range 3 {
		f, err := UserNS(m)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if after := children(t); after != before {
		t.Errorf("children of this process: %d before, %d after", before, after)
	}
}

// children counts this process's children, zombies included.
func children(t *testing.T) int {
	ents, _ := os.ReadDir("/proc")
	me := itoa(uint32(os.Getpid()))
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		_, after, ok := strings.Cut(string(b), ") ")
		f := strings.Fields(after)
		if ok && len(f) > 1 && f[1] == me {
			n++
		}
	}
	return n
}
