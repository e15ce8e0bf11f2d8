//go:build seccomp

package sandbox

import (
	"runtime"
	"slices"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/btrfs"
)

// deniedSyscalls are refused with EPERM: the syscalls that Docker's and
// runc's default profiles keep from containers without extra capabilities
// (kernel modules, kexec, reboot, clocks, swap, keyrings, BPF, perf, file
// handles, NUMA policy, cross-process memory access, the new mount API).
// dpkg and maintainer scripts use none of them.
var deniedSyscalls = []string{
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
	"delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
	"get_kernel_syms", "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp",
	"kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind",
	"mount_setattr", "move_mount", "move_pages", "name_to_handle_at", "nfsservctl",
	"open_by_handle_at", "open_tree", "perf_event_open", "pivot_root",
	"process_vm_readv", "process_vm_writev", "query_module", "quotactl",
	"quotactl_fd", "reboot", "request_key", "set_mempolicy", "settimeofday",
	"stime", "swapoff", "swapon", "sysfs", "_sysctl", "uselib", "userfaultfd",
	"ustat", "vm86", "vm86old",
}

// compatArches lets 32-bit binaries run (under the same deny list) where the
// kernel supports them, as runc's default profile does.
var compatArches = map[string][]string{
	"amd64":   {"amd64", "x86", "x32"},
	"arm64":   {"arm64", "arm"},
	"ppc64le": {"ppc64le"},
	"s390x":   {"s390x", "s390"},
	"riscv64": {"riscv64"},
}

// cloneFlagsArg is the index of clone(2)'s flags argument: the kernel's
// CONFIG_CLONE_BACKWARDS2 architectures swap it with the stack pointer.
var cloneFlagsArg = map[string]uint{"s390x": 1}[runtime.GOARCH]

// defaultSeccomp is the deny list less the syscalls in allow; without
// nestedUserNS, new user namespaces are refused too (Config.NestedUserNS).
func defaultSeccomp(allow []string, nestedUserNS bool) *configs.Seccomp {
	eperm := uint(unix.EPERM)
	sc := &configs.Seccomp{
		DefaultAction: configs.Allow,
		Architectures: compatArches[runtime.GOARCH],
	}
	for _, name := range deniedSyscalls {
		if slices.Contains(allow, name) {
			continue
		}
		sc.Syscalls = append(sc.Syscalls, &configs.Syscall{Name: name, Action: configs.Errno, ErrnoRet: &eperm})
	}
	// No btrfs subvolume may be made inside a container: each has a
	// qgroup of its own, outside the container's DISKSPACE limit, and
	// would let it fill the disk. ENOTTY is what a filesystem without
	// subvolumes answers, so tools that try (systemd-tmpfiles' "v"
	// lines) fall back to a directory. The request is compared on its low
	// 32 bits, as the kernel reads it, so high bits set by the caller do
	// not slip past.
	enotty := uint(unix.ENOTTY)
	for _, req := range btrfs.SubvolumeCreateIoctls() {
		sc.Syscalls = append(sc.Syscalls, &configs.Syscall{Name: "ioctl", Action: configs.Errno, ErrnoRet: &enotty,
			Args: []*configs.Arg{{Index: 1, Value: 0xffffffff, ValueTwo: uint64(req), Op: configs.MaskEqualTo}}})
	}
	if !nestedUserNS {
		newUser := func(index uint) []*configs.Arg {
			return []*configs.Arg{{Index: index, Value: unix.CLONE_NEWUSER, ValueTwo: unix.CLONE_NEWUSER, Op: configs.MaskEqualTo}}
		}
		enosys := uint(unix.ENOSYS)
		sc.Syscalls = append(sc.Syscalls,
			&configs.Syscall{Name: "unshare", Action: configs.Errno, ErrnoRet: &eperm, Args: newUser(0)},
			&configs.Syscall{Name: "clone", Action: configs.Errno, ErrnoRet: &eperm, Args: newUser(cloneFlagsArg)},
			&configs.Syscall{Name: "clone3", Action: configs.Errno, ErrnoRet: &enosys},
		)
	}
	return sc
}
