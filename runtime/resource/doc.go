// Package resource is a container's resource configuration: OpenVZ's
// parameters (PHYSPAGES, NUMPROC, CPUUNITS, DISKSPACE, ...) parsed once into
// a typed Config, and the one mapping of it onto a mainline kernel.
//
// How:
//   - Values are OpenVZ's: barrier[:limit] pairs, numbers in the
//     parameter's Unit (4 KiB pages, bytes, 1K blocks, counts), K/M/G/T
//     suffixes for bytes and P for pages, "unlimited" (and LONG_MAX, as
//     vzctl writes it). Parse layers the files (vz.conf, the sample,
//     CTID.conf), each value checked against its unit and range; errors
//     name the file, the line and the key. Get writes a value back in a
//     canonical form that parses to the same value (FuzzParse holds it).
//     Record writes a whole Config in that form, one KEY="value" line per
//     parameter, and ParseRecord reads exactly that back (through Parse's
//     checks; FuzzParseRecord): the configuration a running container
//     holds, which a set without --save changes and the files do not.
//   - Config.Sandbox is pure: from a Config and what it is told of the
//     host (Host: CPUs, the open-file ceiling, the private area's disk;
//     the DEVNODES host nodes) it gives the sandbox.Resources a container
//     runs with. start and a live set both call it, so a container holds
//     the same limits whichever way it got them. Where the host holds a
//     value back (a CPULIMIT beyond its CPUs), it says so in a note;
//     Validate refuses such values when an admin sets them.
//
// Mainline has no beancounters. Params says, per parameter, whether it is
// enforced as OpenVZ does, approximated (and how), or only kept and shown,
// and whether a set changes it live (the README's Resources table is the
// same, checked by TestREADMETable):
//
//	PHYSPAGES      enforced, live:
//	    limit: memory.limit_in_bytes (v1), memory.max (v2); barrier:
//	    memory.soft_limit_in_bytes (v1), memory.low (v2)
//	SWAPPAGES      enforced, live:
//	    limit: memory.memsw.limit_in_bytes = RAM+swap (v1, needs
//	    swap accounting), memory.swap.max (v2)
//	PRIVVMPAGES    approximated, live:
//	    mainline does not count allocations, only use: when
//	    PHYSPAGES has no limit, the limit caps RAM+swap as
//	    vzcfgconvert's vswap conversion does
//	KMEMSIZE       approximated, live:
//	    no separate limit since the kernel dropped kmem limits:
//	    kernel memory is charged to the memory cgroup and held by
//	    PHYSPAGES; ubc shows its use
//	LOCKEDPAGES    approximated, live:
//	    RLIMIT_MEMLOCK of every process (per process, not per
//	    container); locked pages count in the memory cgroup
//	SHMPAGES       approximated, live:
//	    kernel.shmall (pages) and kernel.shmmax (bytes) of the
//	    container's IPC namespace; shared memory counts in the
//	    memory cgroup
//	NUMPROC        enforced, live:
//	    pids.max (v1 and v2)
//	NUMFILE        approximated, live:
//	    RLIMIT_NOFILE of every process (per process, not per
//	    container), at most the host's own hard limit
//	NUMTCPSOCK     not enforced, next start:
//	    mainline has no per-cgroup socket counter: sockets are open
//	    files (NUMFILE) and their buffers count in the memory cgroup
//	NUMOTHERSOCK   not enforced, next start:
//	    as NUMTCPSOCK
//	CPUUNITS       enforced, live:
//	    cpu.shares = CPUUNITS*1024/1000 (v1), cpu.weight =
//	    CPUUNITS/10 (v2)
//	CPULIMIT       enforced, live:
//	    cpu.cfs_quota_us/cpu.cfs_period_us (v1), cpu.max (v2),
//	    period 100 ms
//	CPUS           enforced, live:
//	    a CPU-time cap of CPUS*100%, combined with CPULIMIT (the
//	    lower wins)
//	CPUMASK        enforced, live:
//	    cpuset.cpus (v1 and v2)
//	IOPRIO         approximated, live:
//	    a proportional weight 100*2^(IOPRIO-4): blkio.bfq.weight
//	    (v1), io.bfq.weight (v2); only devices using the BFQ
//	    scheduler honour it
//	IOLIMIT        enforced, live:
//	    blkio.throttle.{read,write}_bps_device (v1), io.max
//	    rbps/wbps (v2) on the private area's block device; v1
//	    throttles direct and synchronous writes only (no cgroup
//	    writeback)
//	IOPSLIMIT      enforced, live:
//	    blkio.throttle.{read,write}_iops_device (v1), io.max
//	    riops/wiops (v2), as IOLIMIT
//	DISKSPACE      enforced, live:
//	    the layout's: a btrfs qgroup (plain on btrfs), the image
//	    size (image)
//	DISKINODES     enforced, live:
//	    the image's inode count (image, fixed at create); btrfs
//	    qgroups count bytes only
//	QUOTAUGIDLIMIT approximated, live:
//	    ext4 usrquota/grpquota in an image container; the host
//	    sets each user's limits with setquota on VE_ROOT, in the
//	    container's own uids (quotactl needs CAP_SYS_ADMIN over
//	    the host's user namespace, so the container's root gets
//	    EPERM); the number of ids is not limited; needs the
//	    kernel's quota formats (QFMT_V2)
//	DEVICES        enforced, live:
//	    the devices cgroup (v1 devices.allow/deny, v2 a BPF
//	    program), on top of runc's default devices; none denies
//	    reading and writing (mknod stays allowed, as runc allows
//	    it for every device)
//	DEVNODES       enforced, next start:
//	    the node is made in the container's /dev at start and
//	    allowed in the devices cgroup
package resource
