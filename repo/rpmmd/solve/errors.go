package solve

import (
	"fmt"
	"strings"
)

// UnmetError reports a dependency no package could satisfy, with the
// chain of packages from a root down to the package that needs it.
type UnmetError struct {
	Chain      []string // root first, the package with the unmet dependency last; empty for a root
	Dependency string   // as written, e.g. "libc.so.6(GLIBC_2.34)(64bit)" or "(a or b)"
	Reason     string   // e.g. "nothing provides it"
}

func (e *UnmetError) Error() string {
	parts := append(append([]string{}, e.Chain...), e.Dependency)
	return "solve: " + strings.Join(parts, " -> ") + ": " + e.Reason
}

// ConflictError reports two chosen packages that cannot be installed
// together.
type ConflictError struct {
	Package  string // the package carrying the relation (name-evr.arch)
	Field    string // "Conflicts", "Obsoletes" or "Requires" (an unless)
	Relation string // the relation as written
	Other    string // the chosen package it hits
	// Chain leads from a root to Other (its last element), to show why it
	// was chosen.
	Chain []string
}

func (e *ConflictError) Error() string {
	why := ""
	if len(e.Chain) > 1 {
		why = " (needed by " + strings.Join(e.Chain, " -> ") + ")"
	}
	return fmt.Sprintf("solve: %s %s %s: %s is chosen too%s", e.Package, e.Field, e.Relation, e.Other, why)
}
