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
// Pull and ImportLayout restore NAME.tar.zst + NAME.json. They check that
// the manifest digest, config digest and layer digest match what was
// fetched and that the recovered cache manifest names the layer digest as
// its compressed SHA-256, and write the cache under a temporary name
// (fsync, rename) with the manifest last, so a refused or interrupted pull
// leaves no valid-looking pair.
//
// NAME is what the caller names: an explicit name, else for Pull the
// reference (registry.example.org/vzkit/debian:12 is debian-12, a digest
// reference REPO-<first 12 hex digits>), for ImportLayout the tag. It never
// comes from the image: the name in the image's cache manifest is replaced
// by NAME before the manifest is written, so an image cannot pick the local
// cache it lands on, and nothing downstream (cache list, vzctl create,
// signing, SBOMs) sees the image's word for its name. An existing cache
// NAME is judged before the layer is downloaded: one that already is the
// layer (its file hashes to the layer digest) is left as it is; one with
// other bytes is refused, naming its files, unless the caller asks to
// replace it, and then it (signature and SBOM included) is removed only
// once the new layer is on disk and checked.
//
// Registries are reached through go-containerregistry with the user's
// docker credentials (authn.DefaultKeychain), over HTTPS only. References
// are parsed strictly (registry and tag or digest written out). On its own
// go-containerregistry falls back to plain HTTP for localhost, loopback and
// RFC 1918 registries; here a transport below its scheme choice refuses
// every plain-HTTP request unless the caller marked that one registry
// insecure, so such a request never reaches the network.
package oci
