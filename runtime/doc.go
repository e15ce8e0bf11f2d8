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
//     recorded in STATEDIR/ct/CTID.init so that stop sends the right
//     signal (SIGRTMIN+3 systemd, SIGPWR sysvinit, SIGTERM minimal init).
//   - Settings reach a container's files two ways. Before its init runs,
//     start writes /etc/hostname, /etc/hosts and /etc/resolv.conf from the
//     host through os.Root (no symlink leads out of VE_ROOT). In a running
//     container, set runs the distro's own setup scripts (package distros,
//     chosen by ID/ID_LIKE of its os-release) inside it, falling back to
//     the host-side writes for distros without scripts; the kernel hostname
//     is set from the host in the container's UTS namespace, as the
//     container lacks CAP_SYS_ADMIN. IP addresses go to a Network
//     implementation supplied by the caller (package runtime/net).
package runtime
