// Package aptsources reads the host's APT source configuration and picks
// the mirror a Debian-family template should use.
//
// vzkit never writes a Debian or Ubuntu mirror host name into its own files:
// the host already says which mirror it trusts, in /etc/apt/sources.list
// (one-line format), /etc/apt/sources.list.d/*.list (same) and
// /etc/apt/sources.list.d/*.sources (deb822 stanzas). Both formats are
// parsed here with small line-oriented readers rather than a generic
// control-file parser because callers need the file and line of every entry
// (so that `vzpkg show` can say "from debian.sources:3") and because apt's
// own rules (comment lines inside stanzas, `Enabled: no`, `[opt=val]`
// option blocks, files with other extensions ignored) differ from
// debian/control files. Each file is read with a size limit.
//
// Picking is a heuristic, in this order: an enabled `deb` entry whose
// Suites name the wanted suite exactly (e.g. bookworm or bookworm-security),
// then an entry whose URI path names the distribution's archive (/debian,
// /ubuntu; /debian-security, or a suite ending in -security, for the
// security archive). A Debian host can therefore serve trixie templates
// from the mirror it lists for bookworm: one archive holds every suite.
package aptsources
