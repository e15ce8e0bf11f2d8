// Package runtime runs OpenVZ-style containers from template caches: the
// container store (CTID.conf files in CONFDIR, private areas under
// VE_PRIVATE, roots mounted at VE_ROOT), per-container locking, and the
// lifecycle create → mount → start → exec/enter → set → stop → destroy.
//
// How:
//   - Nothing half-done is visible. create unpacks the cache into a
//     temporary directory next to the private area, makes a marker file
//     beside it (".vzkit-creating-CTID", outside the tree, so that nothing
//     the cache holds decides where it is written), renames the directory
//     into place, writes CTID.conf atomically, and only then drops the
//     marker. A temporary directory, or a private area with its marker and
//     no CTID.conf, is debris of a killed create and is removed by the next
//     create or destroy.
//   - A CTID.conf that cannot be parsed hides nothing else: Scan returns it
//     as an entry with its error (ErrBadConfig, file:line), so listings
//     (Entries) and boot (StartOnBoot) still see every other container;
//     only List, for callers that must know every container (allocating a
//     free uid range), fails on it.
//   - One operation per container at a time: an flock on LOCKDIR/CTID.lck,
//     taken without waiting (ErrLocked, OpenVZ's exit 9).
//   - Layouts (one implementation each of the layout interface: populate
//     at create, mount, setQuota, usage): "plain" keeps the root tree itself
//     in the private area and bind-mounts it at VE_ROOT; "overlay" unpacks
//     each cache once, read-only, into TEMPLATE/overlay/<sha256 of the
//     cache> and keeps only upper/ and work/ in the private area, joined
//     with overlayfs at VE_ROOT; "image" keeps an ext4 in a sparse file
//     (VE_PRIVATE/root.hdd/root.hdd), attached at each mount to a loop
//     device with autoclear and mounted from fsmount (idmapped like plain).
//     Where the private areas are on btrfs, a plain or overlay private area
//     is a subvolume, and plain create snapshots a read-only subvolume
//     holding the cache unpacked once (TEMPLATE/unpacked/<sha256>, or
//     .vzkit-unpacked beside the private areas when TEMPLATE is on another
//     filesystem); elsewhere it reflinks that copy's files where the
//     filesystem can (FICLONE), else unpacks. The copy is made by the very
//     unpack that makes a private area, and a snapshot of it is the same
//     tree to the last owner, mode and xattr. Private areas are removed
//     by removeArea: a subvolume with its nested ones by id, a tree by
//     saferoot's walk; nothing the container keeps inside is followed.
//   - Disk quota (quota.go): applyDiskQuota, at start before the init and
//     at set, enforces DISKSPACE's hard limit as a btrfs qgroup limit on
//     referenced bytes (live; quota is turned on for the filesystem when
//     off, with a warning) or as the image's size (grown offline at the
//     next start, or online with CAP_SYS_RESOURCE; shrunk offline, never
//     below what the files use; e2fsck/resize2fs run only once no loop
//     device holds the image). Elsewhere, and for DISKINODES on btrfs,
//     nothing is enforced and the log says why, from /proc/filesystems and
//     the kernel's config (CONFIG_QFMT_V2, CONFIG_XFS_QUOTA). QUOTAUGIDLIMIT
//     needs the image layout on a kernel with the quota formats (the ext4
//     gets the quota feature and usrquota,grpquota); elsewhere it is
//     ErrQuotaUnsupported, which start reports and set returns. Soft
//     limits are shown, never enforced. A container's seccomp filter
//     refuses btrfs subvolume creation (ENOTTY), so it cannot make a
//     subvolume outside its qgroup.
//   - Containers are unprivileged by default. Each gets a range of 65536
//     host uids and gids of its own (LOCAL_UID/LOCAL_GID in CTID.conf,
//     allocated from vz.conf's LOCAL_UID/LOCAL_GID, skipping other
//     containers' ranges, /etc/subuid and /etc/subgid, and host users), and
//     runs in a user namespace mapping its root to the first of them. Files
//     stay on disk as the cache has them (owned by 0 and the distro's ids);
//     VE_ROOT is an idmapped mount (package idmap) that shows them to the
//     container with the right owners, so neither create nor clone chowns
//     anything, and a container can move between ranges or to privileged
//     mode without a change on disk. PRIVILEGED="yes" (create --privileged)
//     runs the container without a user namespace: its root is the host's.
//   - Privileges come from configuration only (security.go): INIT_KIND,
//     told from the cache's /sbin/init once at create, picks the init and
//     its profile; PRIVILEGED, CAPABILITY ("NAME:on|off", OpenVZ's form) and
//     FEATURES ("nesting:on") complete it. What the image later does to its
//     /sbin/init changes nothing.
//   - The host tree is closed: VE_ROOT's, VE_PRIVATE's and the overlay
//     lowers' parents are 0700, and container roots are mounted nodev (a
//     container never needs device nodes of its own tree; /dev is set up
//     apart). Every host-side access to a container's root goes through
//     package saferoot: resolved inside the root, no final symlink
//     followed, no FIFO or device opened, reads bounded, writes by O_EXCL
//     temporary names renamed into place; for an unprivileged container with
//     its root's host ids, so the host does nothing there the container's
//     root could not. A cache without its manifest is refused unless
//     ALLOW_UNVERIFIED_CACHE=yes.
//   - The sandbox reaches a running root through its gate (gate.go):
//     STATEDIR/ct/CTID, a small tmpfs owned by the container's root and
//     mode 0700, holding root/ (a bind of VE_ROOT, walkable from inside the
//     user namespace while VE_ROOT's parent stays closed) and console.log,
//     whose size the tmpfs bounds; vzctl rotates it when it looks at the
//     container.
//   - start runs the image's /sbin/init inside a detached sandbox (package
//     sandbox, no host process stays behind), or vzkit's minimal init for
//     INIT_KIND=minimal: this very binary, copied once with the shared
//     libraries it needs into STATEDIR/initfs and bind-mounted read-only at
//     /.vzkit; run as "__init" it is PID 1, reaps orphans and shuts down on
//     SIGTERM/SIGPWR. What the start established is recorded in the
//     state record STATEDIR/ct/CTID.state (state.go, RunState: the init's
//     kind and pid, the sandbox id, the cgroup path, the layout, private
//     area and VE_ROOT, the mounts beside the root, the veth pair and its
//     addresses, updated by a live --ipadd/--ipdel), written atomically,
//     read strictly (vzkit's own regular file, this schema's version, no
//     unknown field) and removed at stop. Stop reads the init's kind there
//     to ask it the right way (SIGRTMIN+3 to systemd, `telinit 0` to
//     sysvinit, SIGTERM to the minimal init) and waits STOP_TIMEOUT
//     (CTID.conf's, else vz.conf's) before it kills.
//   - Checkpoint (checkpoint.go) dumps a running container with CRIU into
//     a dump directory (DUMPDIR/Dump.CTID): images/, work/ (CRIU's logs)
//     and state.json, its state record; made under a temporary name and
//     renamed once complete, after the container's run has been torn down
//     as at stop. A failed dump leaves it running. Restore is start with
//     sandbox.Restore instead of the init: the same root, quota, cgroup and
//     limits, then the dump goes. The init's console log, outside the
//     root, is dumped as an external file and given back at restore;
//     start opens it without O_NOFOLLOW on the descriptor itself (found
//     with O_PATH|O_NOFOLLOW, reopened through /proc), since CRIU reopens
//     it through /proc/self/fd. Unprivileged containers and containers
//     with a network interface are refused for now.
//     start waits for the boot to finish; with StartOptions.Wait a boot
//     past the timeout is ErrBootTimeout. DISABLED="yes" refuses a start
//     (ErrStartDisabled) unless StartOptions.Force.
//   - OpenVZ's files are taken as they are: VE_LAYOUT simfs is the plain
//     layout and ploop the image layout (ParseLayout); an existing
//     CTID.conf without a private area is what create starts from, and
//     VE_ROOT/VE_PRIVATE keep $VEID and take the root prefix (expand).
//   - A real init (security.go) gets what it needs to boot and to power
//     off, beyond runc's default profile. Both kinds: a fresh tmpfs /run
//     (image content copied up) and /run/lock; CAP_SYS_BOOT with reboot(2)
//     allowed by seccomp, which in a PID namespace only ends the
//     namespace's init; CAP_NET_ADMIN for the distro's network scripts on
//     the container's own interfaces. systemd also gets CAP_SYS_NICE and a
//     cgroup namespace with its own cgroup writable (and owned by its root):
//     /sys/fs/cgroup read-write on cgroup v2, on v1/hybrid hosts the
//     controllers read-only and the name=systemd hierarchy bound
//     read-write. An unprivileged systemd gets CAP_SYS_ADMIN, which counts
//     only in its own namespaces; a privileged one does not (over the
//     host's namespaces it would let root remount /proc and write host-wide
//     sysctls) unless CAPABILITY="SYS_ADMIN:on" says so: Debian's systemd
//     boots without it. No /dev/console for systemd (it logs to its
//     journal); sysvinit's /dev/console is the console log. CAP_SYS_RESOURCE
//     is never asked for (some hosts lack it). seccomp refuses new user
//     namespaces unless FEATURES="nesting:on" in an unprivileged container.
//   - start returns once the init is up: systemd's API socket exists and
//     `systemctl is-system-running --wait` has answered (the boot job
//     queue is empty), or sysvinit has /run/initctl and has left rcS
//     ("init boot") for its runlevel. An init that dies meanwhile fails
//     the start; one slower than 90 s is logged and left running.
//   - stop to sysvinit writes a runlevel-0 request into /run/initctl as
//     telinit does, opened with openat2(RESOLVE_IN_ROOT) under the init's
//     root and checked to be a FIFO, so the container cannot point it at
//     a host file; rc 0 runs and its halt ends the init.
//   - Settings reach a container's files two ways. Before its init runs,
//     start writes /etc/hostname, /etc/hosts and /etc/resolv.conf from the
//     host through saferoot. In a running container, set runs the distro's
//     own setup scripts (package distros, chosen by ID/ID_LIKE of its
//     os-release) inside it, falling back to the host-side writes for
//     distros without scripts; the kernel hostname is set from the host in
//     the container's UTS namespace. IP addresses go to a Network
//     implementation supplied by the caller (package runtime/net).
//   - Addresses are checked when they are set (ipaddr.go): kinds no
//     container can have (loopback, multicast, unspecified, link-local,
//     broadcast) are ErrBadIP; one that another container's IP_ADDRESS
//     lists, that the host has on an interface, or that the host routes
//     to a running container is an IPInUseError. The check and the write
//     that takes the address (CTID.conf at set and create, the routes at
//     start) happen under one host-wide lock (LOCKDIR/.ipaddr.lck), so two
//     racing sets cannot both take it. NAMESERVER="inherit" is the host's
//     resolv.conf without its loopback resolvers, read at each start and set.
//   - The host's routing sysctls (forwarding, proxy ARP) are changed only
//     when a container with an address is attached (start, set --ipadd).
//   - Resources (resources.go, package runtime/resource): Resources parses
//     a container's parameters once (vz.conf, ORIGIN_SAMPLE's sample,
//     CTID.conf); start and a live set map that one value onto the
//     sandbox with the same function, so the two cannot differ. set
//     writes each changed value in its canonical form and refuses what the
//     host cannot hold (CPULIMIT beyond its CPUs) naming the range; a
//     one-off sandbox (runscript on a stopped container) is held alike.
//     What a running container holds is recorded by start and every live
//     set in STATEDIR/ct/CTID.resources (resource.Config.Record, vzkit's
//     own directory, read back strictly; stop removes it): a set without
//     --save changes that and not the files, and the next live set
//     changes only what it names over it (Store.InForce).
//   - Beancounters (beancounters.go): OpenVZ's table, barrier and limit
//     from the configuration in force, held/maxheld/failcnt from the
//     sandbox's cgroup counters (sandbox.Counters, v1 or v2 files found
//     from libcontainer's recorded cgroup paths); resource.UBCResources
//     says which rows are counted, approximated or held 0. vzctl ubc and
//     vzlist's beancounter fields (Entries with Beancounters) read the
//     same, and its CPU and I/O limit fields the same configuration
//     (Entries with Resources).
//     The disk quota goes to the layout (applyDiskQuota).
//   - runscript on a stopped container, like set --userpasswd there, runs
//     in a one-off sandbox (oneOff) on the mounted root: the container's
//     namespaces and privileges, no init, loopback only, under its lock.
package runtime
