// Package pgp holds OpenPGP keyrings and checks signatures with
// github.com/ProtonMail/go-crypto/openpgp.
//
// Three stages use it and none owns it: repo/ verifies repository indexes
// (InRelease, Release.gpg, repomd.xml.asc), cache/ signs and verifies
// caches, and runtime/ checks a signed cache before vzctl create unpacks
// it. It lives under internal/ rather than repo/ so that the runtime needs
// no repository code, and rather than at the top level because only vzkit's
// own programs use it.
//
// Keys are read from armored or binary data (several armored blocks may be
// concatenated, as in a directory of .asc files); go-crypto drops subkeys and
// keys whose binding signatures do not verify. A keyring can be pinned to a
// list of fingerprints: other keys are dropped and a pinned fingerprint that
// is missing is an error naming it.
//
// Verification looks at every signature packet on its own rather than
// stopping at the first one, because repository files carry several
// signatures (old and new archive keys) and a keyring usually knows only
// some of them. The policy, the same as apt's:
//   - at least one good signature by a key in the keyring is required;
//   - signatures by unknown keys, with unsupported algorithms or without
//     an issuer key ID (go-crypto needs one), or by expired keys / expired
//     signatures are recorded and ignored;
//   - a signature by a known key that does not verify (the data or the
//     signature was altered) or by a revoked key rejects the whole file,
//     even when another signature is good.
//
// Version 3 signature packets (old repositories' repomd.xml.asc, DSA or
// RSA), which go-crypto no longer reads, are parsed in packet.go and
// checked with the keyring's go-crypto keys through crypto/dsa and
// crypto/rsa, under the same policy.
//
// packet.go is also the one signature-packet API for data that streams
// past, as an RPM package's header and payload do for installer/rpm:
// ParseSignaturePacket reads a v3, v4 or v6 packet, Signer finds its key
// in a KeySource (a Keyring or an openpgp.EntityList) honouring usage
// flags and revocation but not expiry, which stays the caller's policy,
// NewHash gives the hash to feed the data into and Verify checks it.
//
// A clearsigned message yields only the signed text: anything before the
// BEGIN PGP SIGNED MESSAGE line or after the signature block makes the
// message invalid, so that unsigned text can never reach a parser.
package pgp
