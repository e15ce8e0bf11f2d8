// Package repo downloads the packages a build selected into the
// content-addressed package store.
//
// Download takes plain apt.Package values from a verified index and fetches
// each .deb from its repository (plus fallback mirrors) with a bounded
// number of workers. Every file streams straight into a store.Writer that
// hashes it on the way and publishes it only when size and SHA-256 equal the
// index's, so a package already in the store is skipped and a corrupt or
// partial one never counts as present. The first failure cancels the other
// downloads; errors name the package, version and URL. Progress is reported
// through a small interface so that the command line can draw bars without
// this package knowing about terminals.
package repo
