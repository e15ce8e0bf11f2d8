//go:build linux && (ppc64 || ppc64le || mips || mipsle || mips64 || mips64le || sparc64)

package btrfs

// powerpc, mips and sparc encode ioctls with 3 direction bits at 29 and
// 13 size bits.
const (
	iocNone  = 1
	iocWrite = 4
	iocRead  = 2
	dirShift = 29
)
