// Package sbom writes the software bill of materials of a template cache as
// an SPDX 2.3 JSON document (NAME.spdx.json beside NAME.tar.zst).
//
// The package list comes from the cache manifest; one SPDX package describes
// the cache itself (its SHA-256 is the cache file's) and CONTAINS one SPDX
// package per installed package, with version, architecture, the package
// archive's SHA-256 and a purl, of type deb or rpm as the manifest records
// the cache's package format (a manifest from before that field is read as
// deb for Debian-family distro names and rpm for the others). When the unpacked root is at hand, Debian
// roots add what the manifest does not carry: the source package from
// var/lib/dpkg/status and the declared licence from the machine-readable
// (DEP-5) usr/share/doc/PKG/copyright, whose License: short names are mapped
// to SPDX identifiers (GPL-2+ → GPL-2.0-or-later, Expat → MIT, ...) or to
// LicenseRef-* entries with their text; anything unknown stays NOASSERTION.
// Files are read through internal/saferoot: directories on the way resolve
// inside the root as in a chroot and never reach the host, the file itself
// must be a regular one (a FIFO or device node is never opened, a symlink
// never followed, as Debian policy wants of a copyright file anyway), and
// every read is size-bounded.
//
// Output is deterministic: packages and licences are sorted, the creation
// time is the cache's SOURCE_DATE_EPOCH and the document namespace is
// derived from the cache's SHA-256.
package sbom
