// Package solve chooses the set of RPM packages to install into an empty
// root, the way dnf (libsolv) does for
// "dnf --installroot=EMPTY --setopt=install_weak_deps=False install ROOTS",
// and gives the order to install them in.
//
// Versions. Vercmp is rpm's rpmvercmp (rpm 4.15 and later): '~' sorts
// before anything, even the end of the string; '^' after the end but
// before anything else. go-rpmutils' Vercmp predates '^', so it is not
// used. EVRs compare epoch (empty is 0), version, release. A versioned
// dependency meets a provide when the two ranges overlap, as
// rpmdsCompare decides: an unversioned side always overlaps, and a side
// without a release matches any release when the other includes equality
// ("Requires: foo >= 1.0" is met by "foo = 1.0-3", "> 1.0" is not).
//
// Index. Packages of the native architecture, noarch and the
// architectures rpm lets it run (x86_64: i686, i586, i486, i386, athlon)
// are kept, every version of each; src and nosrc never. Each package
// provides its own name at its EVR, its Provides, and its Files (primary
// lists /etc and bin paths; filelists.xml all of them, once the caller
// has merged it). Obsoletes match package names only, as libsolv.
//
// Rich dependencies are parsed as rpm's rpmrichParse does and evaluated
// over the selected set: and, or; (A if B) is A or not B, (A if B else C)
// is (A or not B) and (C or B); (A unless B) is A and not B, (A unless B
// else C) is (A and not B) or (C and B) (libsolv's meanings; rpmbuild
// allows unless only in Conflicts); with and without need one package to
// meet both sides, or the first and not the second.
//
// Search. Roots are marked first: a package name (its best version and
// architecture), name.arch, or a provided name or path ranked as below;
// a root that another package obsoletes is replaced by that package, as
// dnf does with obsoletes=True, and of two roots where one obsoletes the
// other only the obsoleter is kept. Then, as libsolv's
// resolve_dependencies: passes over the Requires (Requires(pre)
// included) of every selected package in selection order; a requirement
// already met is skipped (so providers already chosen are preferred), one
// with a single viable candidate takes it at once (unit propagation: the
// choices that follow see everything forced), one with none is a
// failure. When a pass forces nothing, the first open requirement is
// decided: its candidates are ranked by libsolv's policy and the first
// is taken. A requirement's candidates are an atom's providers; for and,
// the first unmet operand's; for or, all alternatives' providers
// together; for if with else, the else branch's and the condition's
// together while the condition is false; for unless, the first operand's
// (or the else branch's while the condition holds); for with and without,
// the packages that alone meet it. Conditions are re-evaluated on every
// pass, so an (A if B) whose B is selected later gets A. A Conflicts
// (A unless B) that holds is repaired by adding B, as libsolv does.
//
// Ranking (policy_filter_unwanted for a choice): the highest repository
// priority (IndexOptions.Repositories order), then the best architecture
// (native and noarch first), then per name the highest EVR come first;
// among those a package that another of them obsoletes goes behind; then
// names in byte order. Neither name length nor the dependency's own name
// counts, and a candidate's own dependencies are not weighed: the oracle
// test shows dnf doing exactly this. The rest follow, in the same order,
// for backtracking.
//
// A candidate is not viable if it is excluded, if its name and
// architecture is chosen at another version, if it conflicts with, is
// obsoleted by or obsoletes a chosen package, if a chosen package
// conflicts with it, or if it would make a chosen package's unless-Requires
// false. A failure backjumps to the latest choice that selected the
// failing package, one of its ancestors or a package blocking its
// candidates, and tries that choice's next candidate; a choice whose
// candidates all failed jumps on to the latest choice its failures or its
// own requirement depended on (conflict-directed backjumping), so
// unrelated choices are not tried in every combination; at most 65,536
// candidates are tried in all. When no choice is left, the first failure
// is reported with its chain: root -> package
// -> ... -> the unmet dependency, and why (nothing provides it, only
// these versions exist, these candidates conflict). Conflicts and
// Obsoletes are checked again on the final set, since roots are forced.
// Packages no root reaches any more (through an abandoned else branch or
// a replaced root) are dropped if the rest still holds.
//
// Weak dependencies (Recommends, Suggests, Supplements, Enhances) are
// not followed, as with install_weak_deps=False, which minimal templates
// use. Modular filtering is the caller's (repo/rpmmd's) job.
//
// Install order. rpm orders one transaction itself, but the order decides
// payload extraction and the per-package script runs done outside rpm.
// It is a topological order along Requires edges (dependencies first, to
// the package that met each requirement), built from strongly connected
// components; inside a loop the package whose unplaced requirements are
// plain Requires goes first, so, as rpm's tsort, a Requires(pre) edge is
// dropped only in a loop made of Requires(pre) alone. Keys break ties, so
// the order is deterministic.
package solve
