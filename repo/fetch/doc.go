// Package fetch downloads files over HTTP(S) and file:// for the repository
// clients, streaming into an io.Writer.
//
// One http.Client with a keep-alive transport is shared by every request so
// that index and package downloads reuse their connections. Each phase that
// can stall gets its own short timeout (dial, which includes the DNS lookup
// that stalls about once in fifty tries here; TLS handshake; response
// headers; and an idle timer that aborts a body that stops flowing), and a
// whole attempt has a deadline. A failed attempt that may succeed again
// (network error, 5xx, 408, 429) is retried with exponential backoff and
// equal jitter (half fixed, half random), rotating over the mirror base URLs
// given; a 404/410 moves to the next mirror without waiting and becomes an
// fs.ErrNotExist error once every mirror said so. A retry after some bytes were already written asks for the
// rest with a Range request (or skips them when the server ignores Range), so
// the writer never has to rewind. A size limit is enforced both on the
// announced Content-Length and on the bytes actually read.
package fetch
