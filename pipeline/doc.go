// Package pipeline is vzpkg's build orchestrator as a library: it wires the
// stages (repo → solver → package store → installer → hooks → cache) for
// building a template cache, locking its package set, fetching its
// packages and updating a cache in place, so that any program (vzpkg, a
// later `vzpkg install CTID PKG`) calls the same code. The command line
// only parses flags, resolves the template and renders the typed Events
// the pipeline reports; nothing here prints.
//
// Strategy. A Pipeline holds one resolved template and the Backend of its
// package format, chosen from the template's repository type. Everything
// format-specific (verifying and parsing indexes, the solver, the package
// manager that installs into the root, reading the root's package
// database, a package file's build date) is behind Backend, whose values
// are the format-neutral repo.Package and the small types of this package;
// download, the package store, lock files, timing, build roots, template
// scripts, packing, the SBOM, signing and the rotation of an updated cache
// are shared. The Debian back end (apt indexes, repo/apt/solve,
// installer/deb) and the RPM one (repo/rpmmd indexes, every repository's
// primary read before filelists so that file dependencies across
// repositories are kept; comps groups expanded with their conditional
// packagereqs; repo/rpmmd/solve; installer/rpm's Bootstrap over the
// solver's install order, with the closure of the package shipping
// /usr/bin/rpm extracted first) are here. Updating an RPM cache in place
// (Installed, Upgrade) is not built yet and says so (ErrRPMUpdate); an
// RPM root gets no repository configuration from vzkit, since the
// distro's release package carries it. A template whose format has no
// back end is refused by New, naming it.
//
// Each step records its wall time (Timings). Errors say which template
// and which stage.
package pipeline
