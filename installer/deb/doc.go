// Package deb opens Debian binary packages and turns a list of them into a
// bootstrapped Debian root.
//
// How: a .deb is an ar archive (read with pault.ag/go/debian/deb) holding
// control.tar.* and data.tar.*. Open reads the small control member fully
// (size-limited) to get the control file and maintainer scripts; the data
// member is decompressed as a stream (klauspost/compress for gzip and zstd,
// internal/xzstream for xz: the host's `xz -d` where present, twice as fast
// as the pure-Go decoder) straight into
// internal/extract under its dpkg policy, so no payload is held in memory or
// on disk twice.
//
// Bootstrap follows the order Debian's own tools use (debootstrap,
// mmdebstrap): the Essential set's payloads are unpacked in parallel into the
// root so that a shell and dpkg exist, and dpkg's database is seeded
// (status, available, arch). Where mmdebstrap then lets dpkg unpack the
// whole Essential set a second time, Bootstrap records the files it already
// unpacked in dpkg's database as dpkg --unpack would (info files, file
// lists, status "unpacked" with conffile hashes, trigger interests), runs
// the preinsts in order and applies their diversions; the distro's own dpkg,
// inside a sandbox (runtime/sandbox, no network, the .debs bind-mounted
// read-only), then configures the set and unpacks and configures the rest
// for real: postinst, triggers, alternatives. The classic double unpack is
// kept as an option. Speed also comes from force-unsafe-io (no per-file
// fsync), one dpkg call per phase, and triggers deferred to one final pass.
// Build-only files (dpkg.cfg.d snippet, policy-rc.d, logs, caches,
// machine-id contents) are removed afterwards, as mmdebstrap does.
//
// Once payloads are unpacked and maintainer scripts have run, the root is
// hostile: any name in it may be a symlink, a FIFO or a device node. The
// host-side steps around the sandbox (seeding and registering dpkg's
// database, staging preinsts, applying diversions, the .deb mount points,
// policy-rc.d, sources, cleanup) therefore reach into it only through one
// internal/saferoot.Root: names resolve inside the root, files are
// replaced rather than written through, only regular files are read (with
// a size limit), and removal never follows a symlink. A thing in the way
// of a file the build writes or removes is replaced or removed itself; a
// non-directory where apt's private directories must be, or a non-regular
// conffile or diversions file, fails the build naming the path.
package deb
