package solve

import (
	"fmt"
	"strings"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"
)

// maxFieldLen bounds one relationship field. The longest real one seen is
// librust-winapi-dev's Provides (75 KiB); much longer is hostile input.
const maxFieldLen = 1 << 20

// alt is one alternative of a relation ("b (>= 1)" in "a | b (>= 1)").
type alt struct {
	name string
	// qual is the architecture qualifier after ':' ("", "any", "native",
	// or an architecture name).
	qual string
	// op is "" for an unversioned alternative, else <<, <=, =, >= or >>.
	op  string
	ver version.Version
	// verText is the version as written: go-debian's Version.String drops
	// a zero epoch, which changes what "0:1:2" means.
	verText string
}

// native is the architecture relations are parsed for.
type native struct {
	name string
	spec *dependency.Arch
}

// relation is one comma-separated group of alternatives.
type relation struct {
	alts []alt
}

func (a alt) String() string {
	s := a.name
	if a.qual != "" {
		s += ":" + a.qual
	}
	if a.op != "" {
		s += " (" + a.op + " " + a.verText + ")"
	}
	return s
}

func (r relation) String() string {
	parts := make([]string, len(r.alts))
	for i, a := range r.alts {
		parts[i] = a.String()
	}
	return strings.Join(parts, " | ")
}

// parseRelations parses one relationship field (Depends, Provides, ...) for
// the native architecture arch. Alternatives restricted to other
// architectures ("[!amd64]") are dropped, and so is a relation left empty by
// that, as dpkg does. Substitution variables are not allowed in binary
// package indexes and are rejected.
func parseRelations(field string, nat native) ([]relation, error) {
	field = strings.TrimSpace(field)
	if field == "" {
		return nil, nil
	}
	if len(field) > maxFieldLen {
		return nil, fmt.Errorf("relationship field is %d bytes, limit %d", len(field), maxFieldLen)
	}
	// The parser works byte by byte and would turn UTF-8 into other runes;
	// Debian relationship fields are ASCII anyway.
	for i := 0; i < len(field); i++ {
		if field[i] >= 0x80 || (field[i] < 0x20 && field[i] != '\t' && field[i] != '\n') {
			return nil, fmt.Errorf("byte %#x at offset %d is not allowed in a relationship field", field[i], i)
		}
	}
	dep, err := dependency.Parse(field)
	if err != nil {
		return nil, err
	}
	rels := make([]relation, 0, len(dep.Relations))
	for _, r := range dep.Relations {
		var rel relation
		for _, p := range r.Possibilities {
			if p.Substvar {
				return nil, fmt.Errorf("substitution variable ${%s} in a binary index", p.Name)
			}
			if !validName(p.Name) {
				return nil, fmt.Errorf("invalid package name %q", p.Name)
			}
			if p.Architectures != nil && !p.Architectures.Matches(nat.spec) {
				continue
			}
			a := alt{name: p.Name}
			if p.Arch != nil {
				for _, part := range []string{p.Arch.ABI, p.Arch.Libc, p.Arch.OS, p.Arch.CPU} {
					if !validArchPart(part) {
						return nil, fmt.Errorf("%s: invalid architecture qualifier", p.Name)
					}
				}
				a.qual = qualifier(*p.Arch, nat)
			}
			if p.Version != nil {
				switch p.Version.Operator {
				case "<<", "<=", "=", ">=", ">>":
				default:
					return nil, fmt.Errorf("%s: unknown version operator %q", p.Name, p.Version.Operator)
				}
				text := strings.TrimSpace(p.Version.Number)
				v, err := version.Parse(text)
				if err != nil {
					return nil, fmt.Errorf("%s: version %q: %w", p.Name, p.Version.Number, err)
				}
				a.op, a.ver, a.verText = p.Version.Operator, v, text
			}
			rel.alts = append(rel.alts, a)
		}
		if len(rel.alts) > 0 {
			rels = append(rels, rel)
		}
	}
	return rels, nil
}

// qualifier names an architecture qualifier: "any", the native
// architecture's name (also for ":native"), or the parsed tuple. It avoids
// Arch.String, which panics on tuples missing from go-debian's table.
func qualifier(q dependency.Arch, nat native) string {
	switch {
	case q == dependency.Any:
		return "any"
	case q == *nat.spec, q == dependency.Arch{ABI: "base", Libc: "gnu", OS: "linux", CPU: "native"}:
		return nat.name
	case q.ABI == "base" && q.Libc == "gnu" && q.OS == "linux":
		return q.CPU
	}
	return strings.Join([]string{q.ABI, q.Libc, q.OS, q.CPU}, "-")
}

// validArchPart checks one part of an architecture tuple.
func validArchPart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validName checks a package name as dpkg does (policy 5.6.1 without its
// two-character minimum): lower-case letters, digits, '+', '-' and '.',
// starting alphanumeric.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// versionOK reports whether have satisfies "(op want)"; an empty op accepts
// any version.
func versionOK(op string, want, have version.Version) bool {
	if op == "" {
		return true
	}
	c := version.Compare(have, want)
	switch op {
	case "<<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case ">>":
		return c > 0
	}
	return false
}
