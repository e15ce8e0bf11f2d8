package solve

import (
	"fmt"
	"strings"
)

// UnmetError reports a relation no candidate could satisfy, with the chain
// of packages from a selected root down to the package that needs it.
type UnmetError struct {
	Chain    []string // root first, the package with the unmet relation last; empty for an include
	Relation string   // the relation as written, e.g. "libzstd1 (>= 1.5)"
	Reason   string   // e.g. "no such package", "excluded"
}

func (e *UnmetError) Error() string {
	parts := append(append([]string{}, e.Chain...), e.Relation)
	return "solve: " + strings.Join(parts, " -> ") + ": " + e.Reason
}

// ConflictError reports two chosen packages that cannot be installed
// together.
type ConflictError struct {
	Package  string // the package carrying the relation
	Field    string // "Conflicts" or "Breaks"
	Relation string // the offending relation as written
	Other    string // the chosen package it hits
	// Chain leads from a root to Other (the last element), to show why it
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
