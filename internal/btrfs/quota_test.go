//go:build linux && (amd64 || arm64)

package btrfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/testenv"
)

// loopFilesystem mounts a fresh btrfs of 1 GiB from a sparse file and
// returns its mount point.
func loopFilesystem(t *testing.T) string {
	t.Helper()
	testenv.NeedRoot(t, "mounting a loop btrfs")
	testenv.NeedTool(t, "mkfs.btrfs", "btrfs-progs")
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
	testenv.Run(t, dir, nil, "truncate", "-s", "1G", img)
	testenv.Run(t, dir, nil, "mkfs.btrfs", "-q", img)
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, dir, nil, "mount", "-o", "loop", img, mnt)
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
			unix.Unmount(mnt, unix.MNT_DETACH)
		}
	})
	return mnt
}

func openDir(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// A subvolume over its limit — filled to it, or holding more than an
// admin then lowered the limit to — can have the limit raised and
// removed: the kernel reserves the transaction's metadata against the
// qgroup of the fd the ioctl is given, so a call through the subvolume
// itself fails with EDQUOT.
func TestSetLimitOverFullSubvolume(t *testing.T) {
	mnt := loopFilesystem(t)
	top := openDir(t, mnt)
	if err := CreateSubvolume(top, "area"); err != nil {
		t.Fatal(err)
	}
	area := filepath.Join(mnt, "area")
	fd := openDir(t, area)
	if err := SetLimit(fd, 8<<20); !errors.Is(err, ErrQuotaDisabled) {
		t.Fatalf("SetLimit with quota off: %v, want ErrQuotaDisabled", err)
	}
	if err := EnableQuota(top); err != nil {
		t.Fatal(err)
	}
	write := func(name string, mib int) error {
		f, err := os.Create(filepath.Join(area, name))
		if err != nil {
			return err
		}
		defer f.Close()
		chunk := bytes.Repeat([]byte{1}, 1<<20)
		for range mib {
			if _, err := f.Write(chunk); err != nil {
				return err
			}
		}
		return f.Sync()
	}
	if err := SetLimit(fd, 64<<20); err != nil {
		t.Fatal(err)
	}
	if err := write("held", 16); err != nil {
		t.Fatalf("16 MiB under a 64 MiB limit: %v", err)
	}
	if err := SetLimit(fd, 8<<20); err != nil {
		t.Fatalf("lowering the limit below the usage: %v", err)
	}
	if err := write("more", 1); !errors.Is(err, unix.EDQUOT) {
		t.Fatalf("writing over the lowered limit: %v, want EDQUOT", err)
	}
	if err := SetLimit(fd, 64<<20); err != nil {
		t.Fatalf("raising the limit of a subvolume over it: %v", err)
	}
	q, err := Usage(fd)
	if err != nil {
		t.Fatal(err)
	}
	if q.MaxReferenced != 64<<20 || q.Referenced < 16<<20 {
		t.Errorf("qgroup after raising: %+v, want 64 MiB limit and at least 16 MiB referenced", q)
	}
	if err := write("more", 16); err != nil {
		t.Errorf("16 MiB more under the raised limit: %v", err)
	}
	if err := write("fill", 64); !errors.Is(err, unix.EDQUOT) {
		t.Fatalf("writing past the raised limit: %v, want EDQUOT", err)
	}
	if err := SetLimit(fd, 0); err != nil {
		t.Fatalf("removing the limit of a full subvolume: %v", err)
	}
	if q, err := Usage(fd); err != nil || q.MaxReferenced != 0 {
		t.Errorf("qgroup after removing the limit: %+v %v", q, err)
	}
	if err := write("fill", 64); err != nil {
		t.Errorf("64 MiB with no limit: %v", err)
	}
}
