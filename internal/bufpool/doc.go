// Package bufpool hands out reusable byte buffers for the hot paths that
// move a whole template through memory (decoding cache frames, restoring
// its files): fresh buffers there would cost a page fault per 4 KiB and
// garbage collections.
//
// Strategy: a few size classes, each a sync.Pool. Get returns a buffer of
// the smallest class that holds the request (a buffer of its own beyond the
// largest); Put takes back only buffers whose capacity is exactly a class,
// so a pool never holds a buffer smaller than its class promises.
package bufpool
