// Package rpm opens RPM packages, verifies them against a template's
// keys, and unpacks their payloads into a root being built.
//
// Reading: the lead, the signature header and the main header are read
// into memory within limits (64 signature tags and 64 MiB, 65,535 header
// tags and 64 MiB) and every index entry is checked against its data area
// (type, count, alignment, strings ending inside it) before
// github.com/sassoftware/go-rpmutils parses the blobs: go-rpmutils trusts
// offsets and counts, so a hostile header would make it panic or allocate
// at will. The header digests of the signature header (SHA-1 269,
// SHA-256 273, SHA3-256 279) are compared at Open; a header that does not
// match them is never read further. The file list is built from the
// header's parallel arrays, each checked to have one value per file. The
// payload is decompressed as a stream (gzip and zstd with
// klauspost/compress, xz with internal/xzstream (the host's xz where
// present, both with a bounded dictionary), legacy lzma with ulikunitz/xz
// (its dictionary checked first), bzip2 with the
// standard library; "gzip" with cpio magic is a payload stored as it is)
// and read with a cpio reader of this package (newc 070701 and rpm's
// stripped 07070X, whose entries are only an index into the header's file
// list): go-rpmutils' reader panics on a zero name size and allocates what
// a header declares. A payload longer than its file list allows (names,
// sizes and padding of the signed header) fails.
//
// Verification (Options, Verdict) follows rpm's gpgcheck=1, with the
// policy of internal/pgp: a header-only signature (268 RSAHEADER, 267
// DSAHEADER, and each entry of rpm 6's OPENPGP array 278) is checked over
// the header bytes; a header+payload signature (1002, 1005), the payload
// digests of the signed header (5092 with its algorithm 5093 over the
// compressed payload, 5097 over the uncompressed one, rpm 6's SHA-512
// and SHA3-256 ones), the legacy MD5 (1004) and the repository's sha256
// of the whole file are computed while the payload streams past.
// Signature packets v3 (which go-crypto no longer reads, and which the
// CentOS 5 to 7, Fedora 31 and 2023 openSUSE Tumbleweed packages of the
// fixtures carry: RSA and DSA, verified by internal/pgp against
// go-crypto's keys), v4 and v6 (go-crypto: RSA, DSA, ECDSA, EdDSA,
// ML-DSA) are accepted; unknown keys and algorithms are recorded and ignored, a signature by a known
// key that fails, or by a revoked key, rejects the package. Key expiry is
// not checked, as rpm does not: a package signed while its key was valid
// stays verifiable (CentOS 2 to 5 keys expired long ago). With
// RequireSignature one good signature by a key of the keyring is needed;
// a package that cannot have one is refused before its payload is read.
// Integrity needs SHA-256 or better for the header (a digest or a good
// signature) and for the payload (a digest or a good header+payload
// signature), or a match of the repository's sha256; a package protected
// by MD5 or SHA-1 only is refused unless AllowWeakDigests (a template
// marked insecure). Errors name the package file and say
// what failed: "rpm: hello-2.0-1.x86_64.rpm: verification failed: header
// signature by key 4344591E1964C5FC: no such key in the template's
// keyring". The keyring is anything with KeysById (a *pgp.Keyring or an
// openpgp.EntityList); the signature packets, v3 as well as v4 and v6,
// are parsed and checked by internal/pgp's streaming API, fed the header
// and payload as they are read.
//
// Extraction turns the cpio stream into a tar stream (one goroutine,
// io.Pipe) for internal/extract, the one safe extractor, under a policy
// of its own (dpkg's: absolute names, directory symlinks kept, kinds
// never changed), so containment, device filtering, limits and the order
// of chown, chmod and xattrs are extract's. Every entry's metadata comes
// from the header, never from the cpio header (rpm does the same, and the
// stripped form has none): mode with setuid bits, mtime, symlink target,
// device number, and FILECAPS turned from cap_to_text form into a
// security.capability xattr (an empty set, "=", is written too, as rpm
// does). Hardlink sets (same FILEDEVICES/FILEINODES) carry their content
// on the set's last member, as rpm writes them; the members before it
// become tar hardlinks to it. Each regular file's digest (FILEDIGESTS in
// FILEDIGESTALGO) is checked as it is written. %ghost files are counted,
// not created; a payload entry for one is refused, as is an entry not in
// the header, one listed twice, or one whose type or size differs from
// the header. Directories the header lists but the payload lacks are made
// from the header; any other missing file fails. %config files are
// written as shipped: on a fresh root there is nothing for rpm's
// .rpmnew/.rpmsave logic to keep, and updating an existing root is left
// to the distro's rpm. Two packages shipping the same path are not
// detected here (the last one written wins): rpm's transaction refuses
// such conflicts when it installs the set. Payload-level checks end after the payload has
// been written, so a failing package leaves files behind: callers build
// into a new directory and discard it on any error, as for .debs.
//
// Owners are resolved by name against the target root's /etc/passwd and
// /etc/group (ReadOwners, through internal/saferoot), as rpm resolves
// them against the root it installs into; "root" is always 0. A name the
// root does not know yet (a user a %pre scriptlet will create) gives the
// file to root and clears its setuid (setgid) bit, exactly what rpm does
// ("user X does not exist - using root"). The distro's own rpm, run
// afterwards inside the sandbox, sets the right owner once %pre has run
// (see below), so vzkit never has to run scriptlets itself.
//
// Registering packages (Bootstrap, which follows the plan below). The distro's own rpm
// has to write the rpmdb (its format differs: Berkeley DB on EL8, sqlite
// on EL9 and Fedora, ndb on openSUSE; Debian's rpm on the host cannot be
// trusted to write them) and has to run the scriptlets, many of which are
// Lua run by rpm's embedded interpreter (glibc's and filesystem's
// %pretrans), in rpm's transaction order with their $1 counts, triggers,
// file triggers fed file lists on stdin and %posttrans. Three ways were
// weighed:
//   - rpm --root from the host, as dnf --installroot does: needs a host
//     rpm that writes the target's rpmdb format and runs its Lua; not
//     portable across the shipped distros.
//   - vzkit extracts, `rpm -i --justdb` registers, vzkit runs scriptlets:
//     --justdb turns scriptlets and triggers off altogether, and running
//     them outside rpm means re-implementing rpm's ordering, arguments,
//     Lua and file triggers; rejected.
//   - mmdebstrap's way, chosen: Extract unpacks the packages rpm needs to
//     run at all (the runtime closure of the distro's rpm package: rpm,
//     its libraries, glibc) in parallel into the new root, as mmdebstrap
//     unpacks the Essential set; the template's keys are imported with
//     `rpmkeys --import`; then the distro's rpm, inside runtime/sandbox
//     (no network, the verified .rpm files bind-mounted read-only), installs
//     the whole solved set, the bootstrap packages included, in one
//     transaction: `rpm -i /vzkit-rpms/*.rpm`. rpm orders
//     the set itself and runs %pretrans, %pre, the install, %post,
//     triggers, %transfiletriggerin and %posttrans as on a real system,
//     sets the owners %pre created, and records every file, so `rpm -Va`
//     is clean and `rpm -qa` is the solved set plus one gpg-pubkey entry
//     per imported key. With the keys imported first, the distro's rpm
//     checks signatures and digests once more by its own rules, as it
//     would under dnf. --nodeps is not given: rpm
//     disagreeing with vzkit's solver is a build error worth seeing. dnf
//     also runs a test transaction first; vzkit does not need one.
//
// Bootstrap verifies every package before any is used, and afterwards
// removes what it put in the root (the mount points, the key files) and
// sqlite's rpmdb.sqlite-shm, an index of the write-ahead log that sqlite
// rebuilds on open and whose bytes vary between runs; the template's
// pre-install script runs after the key import, before the transaction.
// Which packages make rpm's closure is the caller's to say (the pipeline
// takes the solver's result).
//
// The bootstrap set is unpacked twice, as in mmdebstrap. Extracting the
// whole set first and letting rpm only "touch" identical files does not
// work: with Debian's rpm 4.18, `--define '_minimize_writes 1'` still
// rewrote every file of a package whose files were on disk but owned by
// no installed package (all 20 files of rpm-file-attrs got new inodes);
// minimize_writes applies to files of a package being upgraded. So the
// bootstrap set is kept to rpm's closure.
package rpm
