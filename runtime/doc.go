// Package runtime runs OpenVZ-style containers from template caches: the
// container store (CTID.conf files in CONFDIR, private areas under
// VE_PRIVATE, roots mounted at VE_ROOT), per-container locking, and the
// lifecycle create → mount → start → exec/enter → set → stop → destroy.
//
// How:
//   - Nothing half-done is visible. create unpacks the cache into a
//     temporary directory next to the private area, renames it into place
//     with a ".vzkit-creating" marker inside, writes CTID.conf atomically,
//     and only then drops the marker. A temporary directory or a marked
//     private area without a CTID.conf is debris of a killed create and is
//     removed by the next create or destroy.
//   - One operation per container at a time: an flock on LOCKDIR/CTID.lck,
//     taken without waiting (ErrLocked, OpenVZ's exit 9).
//   - Layouts: "plain" keeps the root tree itself in the private area and
//     bind-mounts it at VE_ROOT; "overlay" unpacks each cache once, read-only,
//     into TEMPLATE/overlay/<sha256 of the cache> and keeps only upper/ and
//     work/ in the private area, joined with overlayfs at VE_ROOT.
//   - start runs the image's /sbin/init inside a detached sandbox (package
//     sandbox, no host process stays behind). An image without one (minbase
//     Debian) gets vzkit's minimal init: this very binary, copied once
//     with the shared libraries it needs into STATEDIR/initfs and
//     bind-mounted read-only at /.vzkit; run as "__init" it is PID 1,
//     reaps orphans and shuts down on SIGTERM/SIGPWR. The kind of init is
//     recorded in STATEDIR/ct/CTID.init so that stop asks it the right
//     way (SIGRTMIN+3 to systemd, `telinit 0` to sysvinit, SIGTERM to the
//     minimal init) and waits STOP_TIMEOUT before it kills.
//   - A real init (init_system.go) gets what it needs to boot and to
//     power off, beyond runc's default profile. Both kinds: a fresh tmpfs
//     /run (image content copied up) and /run/lock; CAP_SYS_BOOT with
//     reboot(2) allowed by seccomp, which in a PID namespace only ends the
//     namespace's init (POWER_OFF/HALT kill it with SIGINT as its status,
//     RESTART with SIGHUP; other commands fail with EINVAL) so that halt
//     ends the container instead of failing; CAP_NET_ADMIN for the
//     distro's network scripts on the container's own interfaces.
//     systemd also gets CAP_SYS_ADMIN (its mounts, the namespaces of
//     sandboxed units, the hostname) and CAP_SYS_NICE, the new mount API
//     and name_to_handle_at off the seccomp deny list, and a cgroup
//     namespace with its own cgroup writable: /sys/fs/cgroup read-write
//     on cgroup v2, on v1/hybrid hosts the controllers read-only and the
//     name=systemd hierarchy bound read-write (systemd 252 runs in
//     legacy/hybrid mode and mounts its own cgroup2 view). No /dev/console
//     for systemd (it logs to its journal; console-getty skips itself);
//     sysvinit's /dev/console is the console log STATEDIR/ct/CTID.log.
//     CAP_SYS_RESOURCE is never asked for (some hosts lack it).
//     Security: CAP_SYS_ADMIN makes a systemd container's root user able
//     to remount what runc masked and, on v1 hosts (or v2 without the
//     nsdelegate mount option), to mount a controller read-write and lift
//     its own limits; such a container is no boundary against its own
//     root. The sysvinit set adds no way out of the container's limits.
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
//     host through os.Root (no symlink leads out of VE_ROOT). In a running
//     container, set runs the distro's own setup scripts (package distros,
//     chosen by ID/ID_LIKE of its os-release) inside it, falling back to
//     the host-side writes for distros without scripts; the kernel hostname
//     is set from the host in the container's UTS namespace, as only a
//     systemd container has CAP_SYS_ADMIN. IP addresses go to a Network
//     implementation supplied by the caller (package runtime/net).
package runtime
