// Package btrfs is the little of btrfs that vzkit's storage layouts use,
// through the kernel's ioctls (no btrfs-progs at run time): subvolumes
// (create, snapshot, read-only flag, delete with any subvolumes nested in
// them), the filesystem's UUID, quota groups (enable, a subvolume's
// referenced-bytes limit, its usage from sysfs), and the ioctl numbers
// that create subvolumes, for a seccomp filter that keeps containers from
// making their own.
//
// Strategy: every call takes descriptors, never paths, and a name is a
// single component looked up by the kernel in a directory descriptor
// without following symlinks, so a tree whose owner is hostile (a private
// area) cannot steer a call elsewhere. A subvolume is told by its root
// inode number (256, BTRFS_FIRST_FREE_OBJECTID) on a btrfs filesystem.
// Nested subvolumes are found in the root tree (ROOT_REF items, by a tree
// search) and deleted by id, deepest first, so deleting a private area
// never walks names inside it. The qgroup limit is on referenced bytes
// (max_rfer), which counts what a snapshot shares with its source: a
// container is charged for every byte its tree holds, as a disk quota
// charges a user.
package btrfs
