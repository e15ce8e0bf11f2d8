// Package rpmmd is vzkit's client of rpm-md (yum, dnf and zypper)
// repositories: repodata/repomd.xml, verified against the template's keys
// through repomd.xml.asc before anything in it is trusted, and the primary
// and filelists data it lists, each checked against the verified checksum
// before it is parsed. Package is the plain value the RPM solver and
// installer take.
//
// Trust flows top-down, as in repo/apt. Open fetches repomd.xml (from the
// mirrors of a metalink or mirrorlist when the source has one, checking a
// metalink's hashes of repomd.xml; then the source's own URLs), and
// repomd.xml.asc from the same mirror, and verifies the detached
// signature (armored or binary; RSA, DSA, EdDSA; v3 or v4 packets) with
// the template's keyring through internal/pgp before ParseRepomd reads a byte.
// A repository marked insecure: true in the template (Source.Insecure) may
// lack the signature or fail it; the index then says Signed=false.
//
// Each data file is fetched through repo/fetch (retries, mirror failover,
// file://) into an anonymous temporary file while it is hashed with the
// algorithm repomd.xml names (sha256, sha512, or sha1, spelt "sha" in old
// files; md5 is refused) and bounded by the size repomd.xml gives; only a
// file whose size and checksum match is read. It is decompressed by its
// magic number, never its name (gzip, xz, zstd, bzip2; plain XML), under a
// hard cap on the decompressed size (Options.MaxDataSize). open-checksum
// and open-size are not checked, as librepo does not: the signed checksum
// of the stored file already fixes its content. With a CacheDir, files with sha256
// checksums are kept in a content-addressed store and not fetched again.
//
// Of the forms a repository offers, only the .xml ones are read: the
// sqlite databases (primary_db, ...) and zchunk files (primary_zck, ...)
// are alternatives of the same content, and a .zck file is refused by its
// magic number. other.xml (changelogs), updateinfo, deltainfo and old SUSE
// patches are not read.
//
// primary.xml, filelists.xml and comps are parsed with an encoding/xml
// Decoder, token by token (RawToken: no namespace translation, elements
// matched by local name), so that memory holds only the packages, never
// the document. AppStream's 17,649 packages (51.8 MB) take about twice
// as long as libsolv's rpmmd2solv (BenchmarkPrimaryAppStream runs both). Dependency names and versions, which repeat across
// thousands of packages, are interned. Rich dependencies (names beginning
// with "(") are kept as written for the solver. filelists.xml is merged
// by pkgid; by default only the paths that some dependency of the
// repository names are kept, plus Options.FileDeps (the other
// repositories' file dependencies; Options.AllFiles keeps all), which is
// what file dependencies need without millions of paths in memory.
//
// Locations (of data files and packages) must be relative paths inside
// the repository: an absolute path or URL, a ".." element (also as
// %2e%2e) or an xml:base that is not an http, https or file URL is
// refused. A repomd.xml.key published beside the metadata is never used:
// the keys are the template's.
//
// Groups: comps (the group data type; group_gz, group_xz, group_zst are
// its compressed forms) gives groups with mandatory, default, optional
// and conditional packagereqs, and environments with their grouplist and
// optionlist. Expand turns a template's reference into package names:
// "@ID" or "ID" (a group, else an environment), "@^ID" (an environment
// only), and for openSUSE, which has patterns instead of comps,
// "@NAME", "pattern:NAME" or "@pattern:NAME" name the package that
// provides "pattern() = NAME" (patterns-base-minimal_base for
// minimal_base); a pattern package may also be listed by name. The old
// SUSE "patterns" data type is not read. Comps of several repositories
// merge (Comps.Merge) so that an environment in one may name groups of
// another.
//
// $releasever and $basearch are substituted by metadata.Template.Expand
// before URLs reach this package.
//
// Modular metadata (modules.yaml) is not read. Packages built for a module
// stream, recognised by the ".module_" or ".module+" tag in their
// release, are left out of the index unless Source.KeepModular is set:
// without modules.yaml the solver cannot tell an enabled stream from a
// disabled one, and the non-modular packages are what a minimal system is
// made of (dnf, too, hides the packages of streams that are not enabled,
// and on EL9 and Fedora no stream is enabled by default). Source packages
// (arch src, nosrc) are left out too.
package rpmmd
