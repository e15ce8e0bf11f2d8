// Package sign signs template caches and verifies them.
//
// A signature is an armored OpenPGP detached signature over the cache file
// (NAME.tar.zst.asc beside NAME.tar.zst), made with
// github.com/ProtonMail/go-crypto, so `gpg --verify NAME.tar.zst.asc
// NAME.tar.zst` checks it too. Signing streams the file once through both the
// signature hash and a SHA-256 that must match the manifest: a cache that does
// not match its manifest is never signed. The signature is written under a
// temporary name and renamed into place. Only secret keys without a
// passphrase are supported for now; a protected key is refused with an error
// that says so.
//
// Verification checks, in order and stopping at the first failure: the
// manifest is there and parses, the file's size and streamed SHA-256 match
// it, and, when a keyring is given, the signature is good by one of its keys
// under internal/pgp's policy (a bad signature by a known key rejects even when
// another is good). internal/pgp takes the signed data as a byte slice, so the
// cache is memory-mapped rather than read into the heap; a fault on the
// mapping (the file truncated meanwhile) becomes an error, not a crash.
package sign
