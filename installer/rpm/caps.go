package rpm

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// capNames are Linux's capabilities by number (linux/capability.h), as
// cap_to_text names them without the "cap_" prefix.
var capNames = []string{
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill",
	"setgid", "setuid", "setpcap", "linux_immutable", "net_bind_service",
	"net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
	"sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time",
	"sys_tty_config", "mknod", "lease", "audit_write", "audit_control",
	"setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
	"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}

// capXattr turns a FILECAPS entry (libcap's text form, e.g.
// "cap_net_raw=ep" or "cap_setuid,cap_setgid+ep") into the value of the
// security.capability xattr (struct vfs_cap_data, revision 2), as rpm's
// cap_from_text + cap_set_fd would. "" means no xattr at all: nil.
func capXattr(text string) ([]byte, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var eff, perm, inh uint64
	all := uint64(1)<<len(capNames) - 1
	for _, clause := range strings.Fields(text) {
		i := strings.IndexAny(clause, "=+-")
		if i < 0 {
			return nil, fmt.Errorf("capabilities %q: clause %q has no operator", text, clause)
		}
		var set uint64
		if list := strings.ToLower(clause[:i]); list == "" || list == "all" {
			set = all
		} else {
			for _, name := range strings.Split(list, ",") {
				n, err := capNumber(name)
				if err != nil {
					return nil, fmt.Errorf("capabilities %q: %w", text, err)
				}
				set |= 1 << n
			}
		}
		ops := clause[i:]
		for len(ops) > 0 {
			op := ops[0]
			j := 1
			for j < len(ops) && strings.IndexByte("=+-", ops[j]) < 0 {
				j++
			}
			flags := ops[1:j]
			ops = ops[j:]
			if op == '=' {
				eff, perm, inh = eff&^set, perm&^set, inh&^set
			}
			for _, f := range flags {
				var dst *uint64
				switch f {
				case 'e':
					dst = &eff
				case 'p':
					dst = &perm
				case 'i':
					dst = &inh
				default:
					return nil, fmt.Errorf("capabilities %q: unknown flag %q", text, f)
				}
				if op == '-' {
					*dst &^= set
				} else {
					*dst |= set
				}
			}
		}
	}
	if eff != 0 && eff != perm|inh {
		// A file's effective set is one bit in the kernel: all or none.
		return nil, fmt.Errorf("capabilities %q: the effective set must be empty or equal to permitted+inheritable", text)
	}
	// An empty set ("=") is still written: rpm does, and a file with an
	// empty capability xattr is not the same as one without (the kernel
	// then grants a setuid-root program no capabilities).
	const vfsCapRevision2, vfsCapFlagsEffective = 0x02000000, 0x000001
	b := make([]byte, 20)
	magic := uint32(vfsCapRevision2)
	if eff != 0 {
		magic |= vfsCapFlagsEffective
	}
	binary.LittleEndian.PutUint32(b[0:], magic)
	binary.LittleEndian.PutUint32(b[4:], uint32(perm))
	binary.LittleEndian.PutUint32(b[8:], uint32(inh))
	binary.LittleEndian.PutUint32(b[12:], uint32(perm>>32))
	binary.LittleEndian.PutUint32(b[16:], uint32(inh>>32))
	return b, nil
}

func capNumber(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < len(capNames) {
		return n, nil
	}
	short := strings.TrimPrefix(name, "cap_")
	for i, c := range capNames {
		if c == short {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown capability %q", name)
}
