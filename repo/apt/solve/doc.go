// Package solve chooses the set of Debian binary packages to install into a
// fresh root, the way apt does for mmdebstrap, and hints at an install order.
//
// Strategy. An Index keeps one candidate per package name: the highest
// version (Debian version order) of the native architecture or "all";
// other architectures are ignored. Relationship fields stay raw strings until
// a package is looked at, then are parsed once with
// pault.ag/go/debian/dependency and cached.
//
// Solving copies apt's MarkInstall as mmdebstrap drives it, in two stages:
// first the Essential: yes set, then (for required and up) the packages of
// the selected priorities that are not essential, plus apt and includes, on
// top of the first stage. In each stage every root is marked first (as
// apt-get install does with its command line), then the roots' Depends and
// Pre-Depends are resolved depth-first, roots in name order, then apt, then
// includes as given. A relation already satisfied by a marked package is
// skipped: that is how "prefer what is already selected" falls out.
// Otherwise the alternatives are tried in their written order; within one
// alternative the satisfying packages (the real package and providers,
// versioned Provides honoured, unversioned ones only for unversioned
// relations) are ranked like apt's CompareProviders: the package the
// relation names, then Essential, then higher Priority, then name (apt falls
// back to its cache-internal order; the name keeps us deterministic). A
// candidate that is excluded, conflicts with (or is broken by) the marked
// set, or whose own dependencies fail is rolled back and the next one tried.
// Recommends are never followed (mmdebstrap sets Apt::Install-Recommends
// false). An include naming a virtual package gets its best ranked provider,
// where apt-get would ask the user to pick one. "pkg:any" is satisfied by a
// Multi-Arch: allowed package, or through Provides of a Multi-Arch: foreign
// or allowed one.
//
// Conflicts and Breaks are checked again on the final set, because roots are
// forced in without that check. Failures carry the dependency chain from a
// root to the unmet relation.
//
// The install order is a topological order of each stage along Pre-Depends
// and Depends edges (dependencies first), built from strongly connected
// components; inside a cycle a walk that follows Pre-Depends edges before
// Depends edges, names breaking ties, decides, so the order is deterministic.
package solve
