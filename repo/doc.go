// Package repo downloads the packages a build selected into the
// content-addressed package store, and defines Package, the format-neutral
// value (name, version, architecture, where to fetch it, size, checksum,
// repository, format) that the download, lock files and cache manifests
// take whatever the format.
//
// The repository clients (repo/apt, repo/rpmmd) and their solvers keep
// their own, richer package values; a client converts the packages its
// solver chose to Package at that boundary, so nothing after the solver
// knows an apt stanza from an rpm-md entry except by Package.Format.
//
// Download takes Package values from verified metadata and fetches
// each file from its repository (plus fallback mirrors) with a bounded
// number of workers. Every file streams straight into a store.Writer that
// hashes it on the way and publishes it only when size and SHA-256 equal the
// index's, so a package already in the store is skipped and a corrupt or
// partial one never counts as present. The first failure cancels the other
// downloads; errors name the package, version and URL. Progress is reported
// through a small interface so that the command line can draw bars without
// this package knowing about terminals.
package repo
