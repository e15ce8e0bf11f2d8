package extract_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/extract"
	et "github.com/vzkit/vzkit/internal/extract/extracttest"
)

// TestStandardDevices: the standard set is created, with the archive's
// numbers and mode.
func TestStandardDevices(t *testing.T) {
	needRoot(t)
	devs := map[string][2]int64{"null": {1, 3}, "zero": {1, 5}, "full": {1, 7}, "random": {1, 8},
		"urandom": {1, 9}, "tty": {5, 0}, "console": {5, 1}, "ptmx": {5, 2}}
	ents := []et.Entry{et.Dir("dev", 0o755)}
	for name, d := range devs {
		ents = append(ents, et.Node("dev/"+name, tar.TypeChar, d[0], d[1]).WithMode(0o620))
	}
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		s, res, err := sandboxed(t, p, ents...)
		if err != nil {
			t.Fatal(err)
		}
		s.Check(t)
		if res.SkippedDevices != 0 {
			t.Errorf("SkippedDevices = %d", res.SkippedDevices)
		}
		for name, d := range devs {
			var st unix.Stat_t
			err := unix.Lstat(filepath.Join(s.Dst, "dev", name), &st)
			if err != nil || st.Mode != unix.S_IFCHR|0o620 || st.Rdev != unix.Mkdev(uint32(d[0]), uint32(d[1])) {
				t.Errorf("dev/%s: mode %o dev %d:%d %v, want %o %d:%d", name, st.Mode,
					unix.Major(st.Rdev), unix.Minor(st.Rdev), err, unix.S_IFCHR|0o620, d[0], d[1])
			}
		}
	})
}

// TestOtherDevicesSkipped: any other node is left out with a warning that
// names it and its numbers, and counted; the rest of the archive is
// extracted. Nothing is created, so this needs no root.
func TestOtherDevicesSkipped(t *testing.T) {
	// 2^32+1 would be 1 in 32 bits: /dev/null's numbers, but not those of
	// the entry. (GNU format: base-256 numbers; PAX has no device records.)
	wrapped := et.Node("dev/wrapped", tar.TypeChar, 1<<32+1, 3)
	wrapped.Format = tar.FormatGNU
	skipped := []et.Entry{
		et.Node("dev/mem", tar.TypeChar, 1, 1), et.Node("dev/kmem", tar.TypeChar, 1, 2),
		et.Node("dev/sda", tar.TypeBlock, 8, 0), et.Node("dev/null-block", tar.TypeBlock, 1, 3),
		et.Node("dev/tty1", tar.TypeChar, 4, 1),
		wrapped,
	}
	data := et.Tar(t, append(append([]et.Entry{et.Dir("dev", 0o755)}, skipped...), et.Reg("after", "x"))...)
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		log := captureLog(t)
		s := et.NewSandbox(t)
		res, err := unpack(t, s.Dst, p, data, extract.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Check(t)
		if res.SkippedDevices != len(skipped) {
			t.Errorf("SkippedDevices = %d, want %d", res.SkippedDevices, len(skipped))
		}
		lines := strings.Split(log.String(), "\n")
		for _, e := range skipped {
			if _, err := os.Lstat(filepath.Join(s.Dst, e.Name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s was created (err=%v)", e.Name, err)
			}
			dev := fmt.Sprintf("device=%d:%d", e.Devmajor, e.Devminor)
			if !slices.ContainsFunc(lines, func(l string) bool {
				return strings.Contains(l, "level=WARN") && strings.Contains(l, "entry="+e.Name+" ") && strings.Contains(l, dev)
			}) {
				t.Errorf("no warning naming %s and %s in %q", e.Name, dev, log)
			}
			if slices.Contains(res.Paths, "/"+e.Name) {
				t.Errorf("%s recorded in Paths", e.Name)
			}
		}
		if got := readFile(t, filepath.Join(s.Dst, "after")); got != "x" {
			t.Errorf("after = %q", got)
		}
	})
	listed, err := extract.List(context.Background(), bytes.NewReader(data), extract.DpkgUnpack, extract.Options{})
	if err != nil || !slices.Equal(listed, []string{"/dev", "/after"}) {
		t.Errorf("List = %v, %v", listed, err)
	}
}

// TestLoopDeviceSkipped: an archive naming a real loop device of the host
// (as a block and as a character node) gets no node with its numbers, and
// the loop device's backing file keeps its bytes, even with a file entry
// written at the same name afterwards.
func TestLoopDeviceSkipped(t *testing.T) {
	needRoot(t)
	backing := filepath.Join(t.TempDir(), "backing.img")
	content := bytes.Repeat([]byte("vzkit loop backing file\n"), 1<<15)
	if err := os.WriteFile(backing, content, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", backing).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup -f --show %s: %v\n%s", backing, err, out)
	}
	loop := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", loop).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v\n%s", loop, err, out)
		}
	})
	var lst unix.Stat_t
	if err := unix.Stat(loop, &lst); err != nil || lst.Mode&unix.S_IFMT != unix.S_IFBLK {
		t.Fatalf("%s: mode %o, %v; want a block device", loop, lst.Mode, err)
	}
	major, minor := int64(unix.Major(lst.Rdev)), int64(unix.Minor(lst.Rdev))
	data := et.Tar(t, et.Dir("dev", 0o755),
		et.Node("dev/disk", tar.TypeBlock, major, minor).WithMode(0o666),
		et.Node("dev/disk-char", tar.TypeChar, major, minor).WithMode(0o666),
		et.Reg("dev/disk", "written at the device's name"))
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		s := et.NewSandbox(t)
		res, err := unpack(t, s.Dst, p, data, extract.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Check(t)
		if res.SkippedDevices != 2 {
			t.Errorf("SkippedDevices = %d, want 2", res.SkippedDevices)
		}
		err = filepath.WalkDir(s.Dst, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			var st unix.Stat_t
			if err := unix.Lstat(path, &st); err != nil {
				return err
			}
			if typ := st.Mode & unix.S_IFMT; (typ == unix.S_IFBLK || typ == unix.S_IFCHR) && st.Rdev == lst.Rdev {
				t.Errorf("%s is a node of %s (%d:%d)", path, loop, major, minor)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(backing); err != nil || !bytes.Equal(got, content) {
			t.Errorf("the loop device's backing file changed (%d bytes, %v)", len(got), err)
		}
		if got := readFile(t, filepath.Join(s.Dst, "dev/disk")); got != "written at the device's name" {
			t.Errorf("dev/disk = %q", got)
		}
	})
}
