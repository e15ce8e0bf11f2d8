// Package idmap gives an unprivileged container's root tree the right
// owners without changing a byte on disk: idmapped mounts.
//
// Strategy: a container's files are stored as the cache has them (owned by
// uid 0 and the distro's system ids). A Map says which host ids the
// container's ids 0..Size-1 stand for. To mount a tree for the container, a
// user namespace with that mapping is made (a child of /proc/self/exe, stopped
// by ptrace before it runs a single instruction, so nothing of it executes),
// the tree is cloned as a detached mount (open_tree), given the mapping and
// nodev with mount_setattr, and attached with move_mount. Through it the
// kernel shows on-disk uid 0 as the container root's host uid and stores what
// that uid creates as 0 again.
//
// overlayfs cannot itself be idmapped, but its layers can: the lower (shared
// by every container of a cache, each with its own mapping) and the private
// area holding upper/ and work/ are cloned and mapped, and the overlay is
// mounted on them through their /proc/self/fd paths. overlayfs performs
// copy-up and work-directory operations with the credentials of whoever
// mounted it, so the mount is made from a thread whose fsuid and fsgid are the
// container root's host ids (capabilities raised again, as changing the fsuid
// drops them): files created by copy-up are then stored unshifted in upper/,
// exactly as in the plain layout, and a container can move between mappings
// (a clone gets its own range, privileged mode has none) without a chown.
package idmap
