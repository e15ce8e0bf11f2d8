package solve

import (
	"fmt"
	"strings"

	"github.com/vzkit/vzkit/repo/rpmmd"
)

// ExprOp is the operator of a dependency expression node.
type ExprOp int

const (
	// OpAtom is a plain dependency: a name, optionally versioned.
	OpAtom ExprOp = iota
	OpAnd
	OpOr
	OpIf      // Args: A, B [, C]: B ? A : C (C absent: true)
	OpUnless  // Args: A, B [, C]: B ? C : A (C absent: false)
	OpWith    // one package satisfies every operand
	OpWithout // one package satisfies the first operand and not the second
)

var opWords = map[string]ExprOp{"and": OpAnd, "or": OpOr, "if": OpIf, "unless": OpUnless, "with": OpWith, "without": OpWithout}

func (o ExprOp) String() string {
	for w, x := range opWords {
		if x == o {
			return w
		}
	}
	return "atom"
}

// Expr is a parsed dependency: an atom, or a rich (boolean) expression of
// rpm 4.13/4.14 over atoms.
type Expr struct {
	Op ExprOp
	// An atom's name, comparison and version.
	Name string
	Cmp  rpmmd.Op
	EVR  rpmmd.EVR
	// Args are the operands of every other operator; and, or and with
	// may have more than two.
	Args []*Expr
}

// maxRichLen and maxRichDepth bound what ParseRich accepts: the longest
// rich dependency in CentOS Stream 9 is under 200 bytes.
const (
	maxRichLen   = 1 << 16
	maxRichDepth = 64
)

// ParseDep turns one primary.xml entry into an Expr: a rich dependency
// (a Name starting with "(") is parsed, any other is an atom as given.
func ParseDep(d rpmmd.Dep) (*Expr, error) {
	if strings.HasPrefix(d.Name, "(") {
		if d.Op != rpmmd.OpAny {
			return nil, fmt.Errorf("rich dependency %s has a version comparison outside it", d.Name)
		}
		return ParseRich(d.Name)
	}
	if d.Name == "" {
		return nil, fmt.Errorf("dependency without a name")
	}
	return &Expr{Op: OpAtom, Name: d.Name, Cmp: d.Op, EVR: d.EVR}, nil
}

// ParseRich parses a rich dependency as rpm's rpmrichParse does:
// "(" operand op operand ... ")", where an operand is a nested expression
// or "name [cmp evr]"; a name may contain balanced parentheses
// ("python3.11dist(pysocks)"). and, or and with chain with themselves
// only; if and unless take one else; other mixes need parentheses.
func ParseRich(s string) (*Expr, error) {
	if len(s) > maxRichLen {
		return nil, fmt.Errorf("rich dependency is %d bytes, limit %d", len(s), maxRichLen)
	}
	p := &richParser{s: s}
	p.skipSpace()
	if p.peek() != '(' {
		return nil, p.errorf("a rich dependency starts with '('")
	}
	e, err := p.group(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, p.errorf("unexpected %q after the closing parenthesis", p.s[p.i:])
	}
	return e, nil
}

type richParser struct {
	s string
	i int
}

func (p *richParser) errorf(format string, args ...any) error {
	return fmt.Errorf("rich dependency %q at offset %d: %s", p.s, p.i, fmt.Sprintf(format, args...))
}

func (p *richParser) peek() byte { return at(p.s, p.i) }

func (p *richParser) skipSpace() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// word reads up to white space or an unbalanced ')', as rpm's
// SKIPNONWHITEX.
func (p *richParser) word() string {
	start, depth := p.i, 0
	for p.i < len(p.s) {
		c := p.s[p.i]
		if isSpace(c) || c == ')' && depth <= 0 {
			break
		}
		if c == '(' {
			depth++
		} else if c == ')' {
			depth--
		}
		p.i++
	}
	return p.s[start:p.i]
}

// group parses "(" ... ")" at p.i.
func (p *richParser) group(depth int) (*Expr, error) {
	if depth >= maxRichDepth {
		return nil, p.errorf("nested deeper than %d", maxRichDepth)
	}
	p.i++ // '('
	first, err := p.operand(depth)
	if err != nil {
		return nil, err
	}
	var e *Expr
	for {
		p.skipSpace()
		if p.peek() == ')' {
			p.i++
			if e == nil {
				// "(name)" is a valid rich dependency: the atom.
				return first, nil
			}
			return e, nil
		}
		if p.i >= len(p.s) {
			return nil, p.errorf("missing ')'")
		}
		wstart := p.i
		w := p.word()
		op, ok := opWords[w]
		switch {
		case w == "else":
			if e == nil || (e.Op != OpIf && e.Op != OpUnless) || len(e.Args) != 2 {
				p.i = wstart
				return nil, p.errorf("else without if or unless")
			}
		case !ok:
			p.i = wstart
			return nil, p.errorf("%q is not an operator (and, or, if, else, unless, with, without)", w)
		case e != nil && op != e.Op:
			p.i = wstart
			return nil, p.errorf("%s cannot follow %s without parentheses", w, e.Op)
		case e != nil && op != OpAnd && op != OpOr && op != OpWith:
			p.i = wstart
			return nil, p.errorf("%s cannot be chained", w)
		}
		next, err := p.operand(depth)
		if err != nil {
			return nil, err
		}
		if e == nil {
			e = &Expr{Op: op, Args: []*Expr{first}}
		}
		e.Args = append(e.Args, next)
	}
}

// operand parses a nested group or an atom "name [cmp evr]".
func (p *richParser) operand(depth int) (*Expr, error) {
	p.skipSpace()
	if p.peek() == '(' {
		return p.group(depth + 1)
	}
	start := p.i
	name := p.word()
	if name == "" {
		return nil, p.errorf("missing operand")
	}
	if _, isOp := opWords[name]; isOp || name == "else" {
		p.i = start
		return nil, p.errorf("missing operand before %q", name)
	}
	if strings.Count(name, "(") != strings.Count(name, ")") {
		// rpm would take the name as it stands, but it cannot be written
		// back unambiguously, and no real capability looks like this.
		p.i = start
		return nil, p.errorf("unbalanced parentheses in name %q", name)
	}
	e := &Expr{Op: OpAtom, Name: name}
	save := p.i
	p.skipSpace()
	cstart := p.i
	if cmp, ok := parseCmp(p.word()); ok {
		p.skipSpace()
		v := p.word()
		if v == "" || v[0] == '(' {
			p.i = cstart
			return nil, p.errorf("missing version after the comparison")
		}
		e.Cmp, e.EVR = cmp, ParseEVR(v)
		if e.EVR.Version == "" || strings.ContainsRune(e.EVR.Version, '-') {
			// rpm allows no '-' in a version: only one separates the
			// release.
			return nil, p.errorf("version %q is not [epoch:]version[-release]", v)
		}
	} else {
		p.i = save
	}
	return e, nil
}

// parseCmp accepts rpm's comparison spellings (rpmParseDSFlags: any
// order of <, > and =).
func parseCmp(w string) (rpmmd.Op, bool) {
	switch w {
	case "=", "==":
		return rpmmd.OpEQ, true
	case "<":
		return rpmmd.OpLT, true
	case ">":
		return rpmmd.OpGT, true
	case "<=", "=<":
		return rpmmd.OpLE, true
	case ">=", "=>":
		return rpmmd.OpGE, true
	}
	return rpmmd.OpAny, false
}

// ParseEVR splits "[epoch:]version[-release]" as rpm's parseEVR does: the
// epoch is all digits before the first ':', the release follows the last
// '-'.
func ParseEVR(s string) rpmmd.EVR {
	var e rpmmd.EVR
	if i := strings.IndexByte(s, ':'); i >= 0 && strings.Trim(s[:i], "0123456789") == "" {
		e.Epoch, s = s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		e.Version, e.Release = s[:i], s[i+1:]
	} else {
		e.Version = s
	}
	return e
}

var cmpText = map[rpmmd.Op]string{rpmmd.OpEQ: "=", rpmmd.OpLT: "<", rpmmd.OpLE: "<=", rpmmd.OpGT: ">", rpmmd.OpGE: ">="}

// String writes e back in rpm's syntax.
func (e *Expr) String() string {
	if e.Op == OpAtom {
		if e.Cmp == rpmmd.OpAny {
			return e.Name
		}
		v := e.EVR.Version
		if e.EVR.Epoch != "" {
			v = e.EVR.Epoch + ":" + v
		}
		if e.EVR.Release != "" {
			v += "-" + e.EVR.Release
		}
		return e.Name + " " + cmpText[e.Cmp] + " " + v
	}
	var b strings.Builder
	b.WriteByte('(')
	for i, a := range e.Args {
		if i > 0 {
			w := e.Op.String()
			if i == 2 && (e.Op == OpIf || e.Op == OpUnless) {
				w = "else"
			}
			b.WriteString(" " + w + " ")
		}
		b.WriteString(a.String())
	}
	b.WriteByte(')')
	return b.String()
}

// atoms calls f for every atom of e.
func (e *Expr) atoms(f func(*Expr)) {
	if e.Op == OpAtom {
		f(e)
		return
	}
	for _, a := range e.Args {
		a.atoms(f)
	}
}
