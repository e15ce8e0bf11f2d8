// Package cache turns a root filesystem into a template cache and back.
//
// A cache is NAME.tar.zst plus NAME.json (the Manifest) beside it.
//
// Pack walks the root (not crossing into other mounted filesystems), sorts
// every path by its bytes (a parent is a prefix of its children, so it comes
// first, and the order never depends on the filesystem) and writes a tar
// stream with numeric owners only, mtimes in whole seconds clamped to
// SOURCE_DATE_EPOCH (directories set to it: their mtimes depend on
// unpack order), every xattr (file capabilities included) as a PAX
// SCHILY.xattr record, hardlinks to the first path of an inode, fifos and
// the standard device nodes (extract.StandardDevice); sockets and other
// device nodes are left out, the latter with a warning. File content is
// read through internal/saferoot (no symlink, no FIFO or device opened,
// O_NONBLOCK) and must still be a regular file of the listed size, since the
// root's owner may swap files while it is packed. Sparse files are read
// through their holes.
// The tar stream is cut every FrameSize bytes (16 MiB; for a tree of less
// than 64 MiB, a quarter of its file bytes, so that even a small root
// packs and unpacks in parallel) and each piece is compressed as
// an independent zstd frame on a pool of encoders; since the cut points depend
// only on offsets and each frame on its own bytes, the output is the same for
// any number of workers. The file is a plain concatenation of frames that
// `zstd -d` and `tar --zstd` read, followed by a skippable frame holding the
// seek table of the zstd seekable format (facebook/zstd
// contrib/seekable_format): the file describes its own frames, whatever
// copied it; the manifest lists the same frames for tools.
//
// Save writes cache and manifest atomically: the old manifest is removed
// first, the cache goes to a temporary name, is fsynced and renamed, and the
// manifest is renamed into place last, so an interrupted save never leaves a
// pair that verifies.
//
// Unpack finds the compression by magic bytes (zstd, gzip, xz, plain tar),
// then checks size and SHA-256 against the manifest, when one is there,
// before a single entry is read: unverified bytes are never parsed. A zstd
// file with a seek table is decoded frame by frame on several goroutines
// into one ordered stream; other inputs are decoded as a stream. The tar
// stream goes to internal/extract under its cache restore policy: file
// content written by parallel workers, every lookup resolved inside the
// destination, names with ".." or a leading "/" refused, device nodes
// outside the standard set left out, the "./" entry's owner and mode given
// to the destination. The decompressed stream and the bytes written to
// files are bounded by UnpackOptions.MaxSize. The destination is meant to
// be new or empty.
package cache
