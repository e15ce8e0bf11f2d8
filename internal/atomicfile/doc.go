// Package atomicfile writes files that are never seen half-written.
//
// Content goes to a temporary file in the target's own directory (so the
// rename cannot cross filesystems), is fsynced, renamed over the target and
// the directory is fsynced, so that after a crash the target holds either
// its old content or the complete new one. On any error the temporary file
// is removed and the target is untouched. Caches, manifests, signatures,
// SBOMs, lock files and vzkit's configuration files all go through here.
package atomicfile
