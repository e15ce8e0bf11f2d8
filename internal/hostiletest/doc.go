// Package hostiletest is test support for host-side code that reaches into
// a tree it does not trust (a root being built, a cache being unpacked, a
// container's root): it lays out host canaries that such code must never
// touch, plants hostile things inside the tree, and bounds how long the
// code under test may take. It is imported only by _test.go files.
//
// Canaries are host files (in a temporary directory under /var/tmp) and a
// loop device over a temporary file, each of known content; Check fails
// the test when one was written, truncated, chmodded, removed, or (for the
// directory) gained an entry. A tree may hold an in-tree twin of the
// canary directory (the same path below the tree's root): a symlink to
// the canary directory then resolves inside the tree to a directory that
// exists, so code resolving it there goes on working, while code following
// it on the host reaches the canaries.
//
// A Thing is what to plant at a name inside the tree: a symlink (to a
// canary), a FIFO (opening it would hang), the character device 1:5
// (/dev/zero: reading it never ends) or a block device with the canary
// loop device's numbers (opening it would reach the host's device). It can
// be planted from the test (Plant) or by a script running inside the tree,
// a package's maintainer script say (Shell); At tells whether it is still
// there. Within is a liveness bound: a FIFO must fail the code under test,
// not hang it.
package hostiletest
