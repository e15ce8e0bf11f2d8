// Package extract is the one tar extractor: it unpacks .deb payloads into a
// root being built (policy DpkgUnpack) and restores template caches into a
// new container root (policy CacheRestore). Everything in an archive is
// hostile; the two policies differ only where dpkg and a cache restore want
// different results, and each difference is a named Policy field.
//
// Strategy: the destination is opened once and every lookup is an openat2
// with RESOLVE_IN_ROOT below it, so ".." stops at the destination and a
// symlink in the archive is resolved as in a chroot of it. Names with ".."
// or NUL are refused; hardlink targets are archive paths resolved the same
// way and linked without following a symlink; the final component is always
// created with O_EXCL (or mkdirat, symlinkat, mknodat, linkat) and whatever
// stands there is removed first, never followed. Character devices outside
// the standard set (null, zero, full, random, urandom, tty, console, ptmx)
// and all block devices are skipped with a warning.
//
// One goroutine reads the tar stream and creates directories, links and
// special files in archive order (it also records the paths); regular files
// up to 1 MiB go with their content to a pool of workers that create, write
// and stamp them, larger ones are streamed by the reader, leaving holes for
// zero blocks. Owner, mode, xattrs and mtime are applied in that order
// (chown clears setuid bits and file capabilities) after an fstat shows what
// the new file already has; directories get theirs at the end, in reverse
// archive order (after the directories inside them), because filling them
// changes their mtime. The decompressed stream, each file, all files and
// the entry count have limits.
package extract
