//go:build linux && !(ppc64 || ppc64le || mips || mipsle || mips64 || mips64le || sparc64)

package btrfs

// The generic ioctl encoding (asm-generic/ioctl.h): 2 direction bits at 30,
// 14 size bits at 16.
const (
	iocNone  = 0
	iocWrite = 1
	iocRead  = 2
	dirShift = 30
)
