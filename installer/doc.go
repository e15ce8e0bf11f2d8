// Package installer writes package payloads (tar streams) into a root
// directory without ever letting a path leave that root.
//
// How: the root is opened once as a directory handle. For every tar entry the
// name is cleaned (a leading "/" is dropped the way tar does, any ".."
// component is refused), the parent directory is opened with
// openat2(RESOLVE_IN_ROOT) through github.com/cyphar/filepath-securejoin's
// pathrs-lite (which falls back to a checked userspace walk on kernels without
// openat2), so symlinks in parents are resolved as if the root were "/".
// The final component is then created relative to that parent handle with the
// *at system calls under a temporary name and renamed over its destination:
// an existing symlink is replaced, never followed, and a non-directory over a
// directory fails (dpkg's rule). Hardlink targets are resolved the same way.
// Metadata is applied in the order the kernel needs: owner first (chown
// clears setuid bits and file capabilities), then mode, then extended
// attributes (PAX SCHILY.xattr.*, including security.capability), then
// times; directory times are set last because filling a directory changes
// them. Sizes are bounded per file, per archive and in entry count.
package installer
