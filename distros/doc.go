// Package distros holds the template metadata vzkit ships (templates/),
// the distribution keys those templates pin by fingerprint (keys/), and
// the per-distro in-container setup scripts (scripts/).
//
// Everything is embedded with go:embed so that vzpkg needs no files
// installed beside it; this package holds no logic beyond the embed and
// lookup. Debian-family templates name no mirror host: their $mirror comes
// from the caller (see package metadata). Debian's keys are read from the
// host's debian-archive-keyring package rather than shipped, because the
// host keeps them up to date; keys no Debian package provides (Ubuntu,
// Fedora, AlmaLinux, Rocky, CentOS, openSUSE) are shipped in keys/.
package distros
