// Package xzstream decodes one xz stream of a package payload (a .deb's
// data.tar.xz, an xz-compressed RPM payload). The host's xz, where it is
// installed, decodes about twice as fast as a pure-Go decoder
// (BenchmarkXZ), so it runs as a child process fed from the reader; its
// memory limit bounds what a hostile stream's header can make it
// allocate. Without xz, github.com/xi2/xz decodes in process with the same
// dictionary bound. Both stop at the end of the first stream: what follows
// is drained (up to a bound) and otherwise ignored, as dpkg and rpm do.
package xzstream
