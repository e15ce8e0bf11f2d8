// Package store is the content-addressed package store: every file is named
// by its SHA-256 under a root directory (vzconf's PACKAGES), fanned out by
// the first two hex digits.
//
// A file is written to a temporary name in the store's tmp directory while
// its SHA-256 and size are computed, fsynced, and renamed to its final name
// only when both match what the verified index promised; a mismatch or an
// interrupted download leaves nothing under a final name. Rename is atomic on
// one filesystem, so concurrent processes may download the same file: the
// last rename wins with identical content. Has trusts the name and size;
// Verify re-hashes and deletes a file that was corrupted behind our back so
// that it is downloaded again.
package store
