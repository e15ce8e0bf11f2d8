// Package vzconf reads and writes OpenVZ-style configuration files and
// resolves vzkit's global settings.
//
// Both the global /etc/vzkit/vz.conf and each container's CTID.conf use
// OpenVZ's format: shell-sourceable KEY="value" lines, comments and blank
// lines. Admins edit these files by hand, so a rewrite keeps every line it
// does not change (unknown keys and comments included) and replaces the file
// atomically (temporary file, fsync, rename).
//
// Global settings come from three layers, each recorded as the origin of a
// value so that `vzctl config` can say where it came from: built-in defaults
// (a fresh machine needs no file), the vz.conf file, and the VZKIT_ROOT
// prefix (environment or --vzkit-root), which is prepended to every path
// including the config file's own, so that tests and parallel setups stay
// apart. A vz.conf key vzkit does not implement (OpenVZ's LOGFILE, IPV6,
// ...) is kept and reported as Ignored rather than silently dropped.
//
// Values are written quoted so that a shell sourcing the file reads them
// back, except $VEID, which stays a reference as OpenVZ writes
// VE_ROOT="/vz/root/$VEID". keys.go is the catalogue of the keys vzkit
// reads; the ctid.conf(5) and vz.conf(5) man pages are made from it.
package vzconf
