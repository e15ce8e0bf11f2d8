// Package saferoot is the one way host-side code reaches into a directory
// tree it does not trust: a root being built (whose packages and
// maintainer scripts are hostile), a cache being unpacked, a container's
// root or private area (written by a customer's root user).
//
// Strategy: the root is opened once as an O_PATH directory handle and every
// name is resolved below it with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV): ".." stops at the root, an
// absolute symlink is taken relative to it, /proc magic links and other
// mounts are never crossed. The last component is never followed
// (O_NOFOLLOW): a symlink there is refused for reading and replaced, not
// written through, for writing. Reading first opens an O_PATH handle,
// requires a regular file by fstat, and only then reopens it for reading
// through /proc/self/fd with O_NONBLOCK, so a FIFO
// or a device node planted by the tree's owner is never opened at all: it
// can neither hang the host nor leak a host device's content. Every read
// has a size limit. Writes go to a new file under an unpredictable name
// created with O_EXCL in the destination's directory and renamed over the
// destination within that directory, so the destination is replaced
// whatever it was (a symlink, a FIFO, a device node) and nothing outside the
// root is touched. RemoveAll walks by directory handles and unlinks, never
// following a symlink and never leaving the file system of the root.
// TreeUsage measures a tree (a private area's disk usage) the same way: by
// directory handles, lstat only, no other mount, only directories opened.
//
// A Root opened with an Identity performs every operation on an OS thread
// whose fsuid and fsgid are those of the identity (the host uid and gid of
// an unprivileged container's root user). The kernel then checks each
// access as if the container's root made it, without the host's
// CAP_DAC_OVERRIDE, and files it creates through an idmapped mount get the
// container root as owner. That thread is thrown away afterwards rather than
// handed back to the Go scheduler with changed credentials.
//
// ReadRegularFile is the same discipline for a host file that outside data
// names (a key or script file of a template): no symlink, no FIFO, no
// device, a size limit.
package saferoot
