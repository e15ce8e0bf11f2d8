// Package sandbox runs a process tree in a root directory, isolated by
// namespaces and limited by cgroups: the one container primitive that cache
// builds (dpkg, maintainer scripts, template scripts) and vzctl share.
//
// Strategy: a Config is written as an OCI runtime spec in memory, starting
// from runc's own defaults (private /proc, read-only /sys, a minimal /dev with
// devpts, /dev/shm and /dev/mqueue, runc's masked and read-only paths, the
// default capability set), and handed to libcontainer's specconv, so that
// every mount, device and cgroup rule is exactly what runc would do. Cgroup
// limits are then written straight into libcontainer's cgroup resources; the
// cgroupfs driver picks cgroup v1 or v2 from the host. With the `seccomp`
// build tag a deny-list filter like runc/Docker's default profile returns
// EPERM for the syscalls a container has no business making.
//
// libcontainer re-executes the current binary with the argument "init" to
// become the container's init (nsenter does the namespace dance in C before
// the Go runtime starts); Init catches that re-execution. Run keeps the
// sandbox in the calling process and removes it when the process exits.
// Start leaves a detached init whose stdio are plain files, so nothing in the
// calling process is needed once it returns; its state lives in
// StateDir/<ID>, from which a later process Loads it. A sandbox whose init
// has exited reads as Stopped (libcontainer compares the init's PID and start
// time and treats a zombie as gone); Destroy kills what is left, then removes
// the cgroup and the state.
//
// For a full init system as PID 1 a Config can add tmpfs mounts, a host
// file bound at /dev/console, seccomp exceptions, and cgroup delegation: a
// cgroup namespace in which the sandbox's cgroup is writable. On cgroup v2
// that is runc's own cgroup mount made read-write; on v1 runc's mounts stay
// read-only and the sandbox's directory of the name=systemd hierarchy is
// bound read-write over /sys/fs/cgroup/systemd (libcontainer has created the
// cgroup before it builds the root, so the directory exists).
//
// Checkpoint and Restore go through libcontainer's CRIU integration (criu
// swrk, its RPC). libcontainer runs "criu" from PATH, so a CRIU named
// elsewhere is linked as "criu" into a directory of its own put first on
// PATH for the call. The init's stdio files that lie outside the root (a
// console log) are dumped as CRIU external files and inherited back at
// restore; those options go in a file named by CRIU_CONFIG_FILE, because
// CRIU reads the RPC's configuration file twice and would apply an
// inherit-fd twice. Checkpoint stops the sandbox (unless LeaveRunning);
// Restore creates the sandbox from its Config again — root, mounts, cgroup
// — and has CRIU restore the processes into it, detached as Start's init.
// Destroy kills a restored init through the pidfd it holds when
// libcontainer, which compares the restored task's start time with what it
// recorded, no longer recognises it.
package sandbox
