package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/testenv"
)

// newBtrfsEnv is an env whose VZKIT_ROOT is a btrfs of its own, in a
// sparse file on a loop device, as README tells an admin with an ext4
// host to make one.
func newBtrfsEnv(t *testing.T) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: containers need namespaces, mounts and cgroups")
	}
	testenv.NeedTool(t, "mkfs.btrfs", "btrfs-progs")
	testenv.NeedTool(t, "btrfs", "btrfs-progs")
	dir := testRoot(t)
	img, mnt := filepath.Join(dir, "vz.img"), filepath.Join(dir, "vz")
	for _, c := range [][]string{
		{"truncate", "-s", "4G", img},
		{"mkfs.btrfs", "-q", img},
		{"mkdir", mnt},
		{"mount", "-o", "loop", img, mnt},
		{"chmod", "0711", mnt},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
			unix.Unmount(mnt, unix.MNT_DETACH)
		}
	})
	e := &env{t: t, root: mnt}
	installCache(t, rootfsCache(t), e.path("var/lib/vzkit/template/cache/debian-12-minimal.tar.zst"))
	t.Cleanup(e.cleanup) // runs before the unmount
	return e
}

// writeConf writes the CTID.conf that create starts from.
func (e *env) writeConf(ctid, conf string) {
	e.t.Helper()
	p := e.path("etc/vzkit/conf/" + ctid + ".conf")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// setConf replaces (or adds) KEY in a container's CTID.conf, as an admin
// editing it would.
func (e *env) setConf(ctid, key, value string) {
	e.t.Helper()
	p := e.path("etc/vzkit/conf/" + ctid + ".conf")
	b, err := os.ReadFile(p)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if !strings.HasPrefix(l, key+"=") {
			out = append(out, l)
		}
	}
	out = append(out, key+`="`+value+`"`)
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// quota is vzlist's diskspace of ctid: used, soft and hard (0 for none).
func (e *env) quota(ctid string) (used, soft, hard uint64) {
	e.t.Helper()
	var l []map[string]map[string]uint64
	out := e.ok("list", "-j", "-a", "-o", "diskspace,diskspace.s,diskspace.h", ctid)
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l) != 1 {
		e.t.Fatalf("list -j: %v\n%s", err, out)
	}
	return l[0]["diskspace"]["usage"], l[0]["diskspace.s"]["softlimit"], l[0]["diskspace.h"]["hardlimit"]
}

// dd writes mb MiB of zeroes to /big in the container and returns its
// exit code and stderr.
func (e *env) dd(ctid string, mb int) (int, string) {
	e.t.Helper()
	_, stderr, code := e.run("exec", ctid, fmt.Sprintf("rm -f /big; dd if=/dev/zero of=/big bs=1M count=%d conv=fsync status=none", mb))
	return code, stderr
}

func TestDiskQuotaPlainOnBtrfs(t *testing.T) {
	e := newBtrfsEnv(t)
	victim := t.TempDir()
	os.WriteFile(filepath.Join(victim, "keep"), []byte("host file\n"), 0o644)

	e.writeConf("101", "DISKSPACE=\"300M:300M\"\n")
	e.ok("create", "101", "--ostemplate", "debian-12-minimal")
	e.ok("create", "102", "--ostemplate", "debian-12-minimal")
	private := e.path("var/lib/vzkit/private/101")
	if got := must(exec.Command("stat", "-c", "%i", private).Output()); string(got) != "256\n" {
		t.Fatalf("private area is not a btrfs subvolume (inode %s)", got)
	}
	used, _, hard := e.quota("101")
	if hard != 300<<10 || used < 100<<10 || used > 250<<10 {
		t.Fatalf("diskspace of 101: used %d, hard %d; want about 160M used of 300M", used, hard)
	}
	e.ok("start", "101")
	code, stderr := e.dd("101", int(300-used>>10)+40)
	if code == 0 || !strings.Contains(stderr, "Disk quota exceeded") {
		t.Errorf("writing past DISKSPACE: exit %d, %q", code, stderr)
	}
	// Raised in CTID.conf: the next start applies it.
	e.ok("stop", "101")
	e.setConf("101", "DISKSPACE", "600M:600M")
	e.ok("start", "101")
	if code, stderr := e.dd("101", int(300-used>>10)+40); code != 0 {
		t.Errorf("the same write after raising DISKSPACE: exit %d, %q", code, stderr)
	}
	if _, _, hard := e.quota("101"); hard != 600<<10 {
		t.Errorf("diskspace.h after raising: %d", hard)
	}

	// No subvolume can be made inside: it would have a qgroup of its own.
	probe := filepath.Join(t.TempDir(), "subvolprobe")
	build := exec.Command("go", "build", "-o", probe, "./testdata/subvolprobe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build subvolprobe: %v\n%s", err, out)
	}
	if err := exec.Command("cp", probe, filepath.Join(private, "usr/local/bin/")).Run(); err != nil {
		t.Fatal(err)
	}
	out := e.ok("exec", "101", "/usr/local/bin/subvolprobe")
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasSuffix(l, " ENOTTY") {
			t.Errorf("subvolume inside a container: %s", l)
		}
	}
	if strings.Count(out, "\n") != 5 {
		t.Errorf("probe output: %q", out)
	}

	// What the container plants leads the host nowhere: usage, quota and
	// destroy stay inside the private area.
	e.ok("exec", "101", "ln -s "+victim+" /victim && ln -s / /hostroot && mkfifo /fifo && ln /etc/passwd /hardlink")
	// A device node it cannot make itself (no CAP_MKNOD over the host),
	// as one a privileged container or a copied-in tree could hold.
	if err := unix.Mknod(filepath.Join(private, "sda"), unix.S_IFBLK|0o600, int(unix.Mkdev(8, 0))); err != nil {
		t.Fatal(err)
	}
	e.quota("101")
	e.ok("stop", "101")
	e.ok("start", "101")
	e.ok("stop", "101")
	e.ok("destroy", "101")
	if b, err := os.ReadFile(filepath.Join(victim, "keep")); err != nil || string(b) != "host file\n" {
		t.Errorf("a host file behind a container's symlink: %q %v", b, err)
	}
	list := string(must(exec.Command("btrfs", "subvolume", "list", e.root).Output()))
	if strings.Contains(list, "private/101\n") {
		t.Errorf("subvolume of 101 left after destroy:\n%s", list)
	}
	if !strings.Contains(list, "private/102\n") || !strings.Contains(list, "template/unpacked/") {
		t.Errorf("subvolumes of 102 and of the unpacked cache missing:\n%s", list)
	}
	e.ok("destroy", "102")
}

func TestDiskQuotaImage(t *testing.T) {
	e := newEnv(t)
	for _, tool := range []string{"mkfs.ext4", "resize2fs", "e2fsck"} {
		testenv.NeedTool(t, tool, "e2fsprogs")
	}
	// OpenVZ's name for it, in CTID.conf.
	e.writeConf("102", "VE_LAYOUT=\"ploop\"\nDISKSPACE=\"400M:400M\"\nDISKINODES=\"50000:50000\"\n")
	e.ok("create", "102", "--ostemplate", "debian-12-minimal")
	img := e.path("var/lib/vzkit/private/102/root.hdd/root.hdd")
	var st unix.Stat_t
	if err := unix.Stat(img, &st); err != nil || st.Size != 400<<20 {
		t.Fatalf("image: %v, size %d", err, st.Size)
	}
	if l := e.list("-a"); len(l) != 1 || l[0].Layout != "image" {
		t.Errorf("list: %+v", l)
	}
	e.ok("start", "102")
	// The container sees its own filesystem, of DISKSPACE's size.
	df := strings.Fields(strings.Split(e.ok("exec", "102", "df -k -P /"), "\n")[1])
	if total, _ := strconv.Atoi(df[1]); total < 300<<10 || total > 400<<10 {
		t.Errorf("df / in the container: %v", df)
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(e.ok("exec", "102", "df -i -P / | tail -1 | awk '{print $2}'"))); n < 50000 || n > 60000 {
		t.Errorf("inodes in the container: %d, want DISKINODES' 50000", n)
	}
	used, _, hard := e.quota("102")
	code, stderr := e.dd("102", int(hard-used)>>10+40)
	if code == 0 || !strings.Contains(stderr, "No space left on device") {
		t.Errorf("writing past DISKSPACE: exit %d, %q", code, stderr)
	}
	e.ok("exec", "102", "rm -f /big")
	// Raised in CTID.conf: the next start grows the image offline.
	e.ok("stop", "102")
	e.setConf("102", "DISKSPACE", "800M:800M")
	e.ok("start", "102")
	if code, stderr := e.dd("102", int(hard-used)>>10+40); code != 0 {
		t.Errorf("the same write after raising DISKSPACE: exit %d, %q", code, stderr)
	}
	if _, _, h := e.quota("102"); h < 700<<10 || h > 800<<10 {
		t.Errorf("diskspace.h after raising: %d", h)
	}
	e.ok("stop", "102")
	e.ok("destroy", "102")
	if _, err := os.Stat(e.path("var/lib/vzkit/private/102")); !os.IsNotExist(err) {
		t.Errorf("private area left: %v", err)
	}

	// No size, no image.
	e.writeConf("103", "VE_LAYOUT=\"ploop\"\nDISKSPACE=\"unlimited\"\n")
	if s := e.code(21, "create", "103", "--ostemplate", "debian-12-minimal"); !strings.Contains(s, "DISKSPACE") {
		t.Errorf("image with unlimited DISKSPACE: %q", s)
	}
}
