// Package cachestore manages the template caches in one directory (vz.conf's
// $TEMPLATE/cache): listing, removing and pruning them.
//
// A cache is NAME.tar.zst (or .tar.gz / .tar.xz, which vzctl also reads)
// with NAME.json, its manifest, and optionally NAME.tar.zst.asc (signature)
// and NAME.spdx.json (SBOM) beside it. Listing reads only manifests and file
// metadata, so it is fast: an entry whose manifest is missing, unreadable or
// disagrees with the file's size is listed as invalid with the reason, never
// hidden, and so is a manifest whose cache file is gone. The full checksum is
// `sign.Verify`'s job. With a keyring, listing also checks each signature
// (which reads each cache once).
//
// Removal takes the manifest first and syncs the directory, then the cache,
// signature and SBOM: interrupted at any point, what remains has no manifest
// and so is never a valid cache. Pruning judges age by the cache file's
// modification time (when it was built or copied here), not by the
// manifest's SOURCE_DATE_EPOCH, which is a reproducibility clock that is
// often set deliberately in the past.
package cachestore
