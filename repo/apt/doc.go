// Package apt is the client for Debian-style (apt) repositories: it loads a
// suite's verified package index for one architecture.
//
// Trust flows top-down. InRelease (or Release + Release.gpg when there is no
// InRelease) is fetched and its OpenPGP signature checked with the
// template's keyring before a single field is read; only the signed text is
// parsed. The Release file must name the requested suite, must not be
// expired (Valid-Until, against an injectable clock) and lists the size and
// SHA-256 of every index. Packages files are then fetched (xz, else gz,
// else uncompressed, whichever Release lists first), by hash when the
// archive announces Acquire-By-Hash, written through the content-addressed
// store (which refuses a file whose size or digest is not the Release's),
// decompressed under a size limit and, when the Release lists the
// uncompressed file too, checked again and kept in the store as well.
// Verified index files stay in that store (trusted by name and size), so the
// next load downloads only the InRelease and, when the Release lists the
// uncompressed Packages, does not decompress either.
//
// Packages files are large (bookworm main amd64: ~60k stanzas, ~45 MB), so
// they are parsed by a hand-written streaming loop over lines that keeps
// only the fields Package carries and interns the few strings that repeat
// (architecture, section, priority...), instead of building a map per
// stanza.
//
// Package keeps everything the solver (repo/apt/solve) needs; Neutral
// converts a chosen stanza to repo.Package, the format-neutral value that
// the download, lock files and manifests take.
package apt
