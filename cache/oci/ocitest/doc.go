// Package ocitest starts a real OCI registry (Debian's docker-registry) on
// loopback for tests of packages that push and pull template caches.
package ocitest
