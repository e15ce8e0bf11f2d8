// Package lockfile pins the exact package set of a template build, so that
// a later build installs the same packages or fails saying what moved.
//
// Format: JSON (the same as the cache manifest), written by encoding/json
// from structs whose fields have a fixed order, with repositories sorted by
// (name, suite) and packages by (name, architecture, version); the same
// lock therefore always gives the same bytes. A lock names the template and
// the digest of its resolved metadata, the architecture, the package format
// (deb or rpm; a lock without one is from before RPM support, so deb), every repository
// suite as it was seen (Release date, codename, the SHA-256 of the
// InRelease or Release file that was verified) and every package (name,
// version, architecture, SHA-256, size, pool file name, and which
// repository and suite it came from). Write is atomic (temporary file,
// fsync, rename, fsync of the directory); Read bounds the file size,
// refuses unknown fields and checks every digest and name before use.
//
// Packages come and go as repo.Package, the format-neutral value: each
// back end converts its verified index into Sources and maps what Check
// returns back onto its own package values for its solver. Versions are
// compared in the format's order (Debian's, or rpm's epoch:version-release)
// only to say what a suite offers now.
//
// Check does not trust the lock's own digests to fetch anything: given
// freshly loaded and verified indexes it looks every locked package up in
// the index of its repository suite (name, architecture, version) and
// returns that index's stanza, whose SHA-256 and size must equal the
// locked ones. Every package that vanished or changed is reported at once,
// with the version the suite offers now, in one *CheckError.
package lockfile
