// Command subvolprobe runs inside a container on btrfs and tries to make
// btrfs subvolumes in its root (or the directory given), as a root user escaping the container's
// DISKSPACE qgroup would: SUBVOL_CREATE, SNAP_CREATE_V2 of / and the
// same requests with high bits set (the kernel reads 32 of them). It
// prints one line per attempt: its name and the error ("ok" when it
// worked).
package main

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/btrfs"
)

func main() {
	where := "/"
	if len(os.Args) > 1 {
		where = os.Args[1]
	}
	dir, err := unix.Open(where, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		panic(err)
	}
	reqs := btrfs.SubvolumeCreateIoctls() // snap, subvol, snap v2, subvol v2
	var args [4096]byte
	try := func(name string, req uint64, v2 bool, fd int64, sub string) {
		for i := range args {
			args[i] = 0
		}
		*(*int64)(unsafe.Pointer(&args[0])) = fd
		off := 8 // btrfs_ioctl_vol_args: fd, name
		if v2 {
			off = 56 // btrfs_ioctl_vol_args_v2: fd, transid, flags, 4 u64, name
		}
		copy(args[off:], sub)
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(dir), uintptr(req), uintptr(unsafe.Pointer(&args[0])))
		res := "ok"
		if e != 0 {
			res = unix.ErrnoName(e)
		}
		fmt.Printf("%s %s\n", name, res)
	}
	try("subvol_create", uint64(reqs[1]), false, 0, "escape1")
	try("subvol_create_v2", uint64(reqs[3]), true, 0, "escape2")
	try("snap_create_v2", uint64(reqs[2]), true, int64(dir), "escape3")
	try("snap_create", uint64(reqs[0]), false, int64(dir), "escape4")
	try("subvol_create_high_bits", uint64(reqs[1])|1<<32, false, 0, "escape5")
}
