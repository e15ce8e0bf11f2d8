// Package oci turns a vzkit template cache into a single-layer OCI image and
// back, so caches can travel through ordinary container registries.
//
// The cache file itself is the layer blob: a vzkit cache is a concatenation
// of zstd frames (plus a skippable seek-table frame) over one tar stream,
// which is exactly what the media type application/vnd.oci.image.layer.v1.tar+zstd
// means. So the layer digest is the cache's compressed SHA-256, its diff ID is
// the manifest's tar SHA-256, and nothing is recompressed. The cache manifest
// travels as the config label org.openvz.vzkit.manifest next to the
// org.opencontainers.image.* basics; every time in the image is the cache's
// SOURCE_DATE_EPOCH, so exporting one cache twice gives the same image digest.
// A gzip fallback re-encodes the tar stream for runtimes older than docker 23 /
// podman 4; such images run but cannot be turned back into a cache.
//
// Pull and ImportLayout restore NAME.tar.zst + NAME.json: they check that the
// manifest digest, config digest and layer digest match what was fetched, that
// the recovered cache manifest names the layer digest as its compressed
// SHA-256, and write the cache under a temporary name (fsync, rename) with the
// manifest last, so a refused or interrupted pull leaves no valid-looking pair.
// Registries are reached through go-containerregistry with the user's docker
// credentials (authn.DefaultKeychain).
package oci
