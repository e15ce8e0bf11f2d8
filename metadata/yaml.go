package metadata

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// MaxFileSize bounds a template file and a script file it names. Templates
// are hand-written: the largest shipped one is 2.2 KB, and 256 KiB leaves
// room for long inline scripts. The bound is also what go-yaml costs at
// worst once the pre-scan has passed a file: it keeps about 400 bytes of
// tree per byte of a bracket-heavy file and takes seconds per MiB, so 1
// MiB would cost 400 MB and 256 KiB costs about 100 MB.
const MaxFileSize = 256 << 10

// Pos is a place in a metadata file.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

type kind int

const (
	kNull kind = iota
	kScalar
	kMap
	kSeq
)

func (k kind) String() string {
	return [...]string{"null", "a scalar", "a mapping", "a list"}[k]
}

// node is the YAML tree reduced to what the schema needs: kinds, scalar
// text, the scalar's YAML type, the tag, and a position for every node.
type node struct {
	kind   kind
	tag    string // "!replace" or "" (other tags are rejected while converting)
	value  string
	scalar string // YAML type of a scalar: string, int, float, bool
	pos    Pos
	keys   []*node // mapping keys (scalars), in file order
	vals   []*node
	items  []*node
}

// get returns the value for a mapping key.
func (n *node) get(key string) *node {
	for i, k := range n.keys {
		if k.value == key {
			return n.vals[i]
		}
	}
	return nil
}

// parseYAML turns one file into a node tree; problems are syntax errors or
// unsupported constructs. A nil node with no problems is an empty file.
func parseYAML(file string, src []byte) (*node, []Problem) {
	if p := prescan(file, src); p != nil {
		return nil, []Problem{*p}
	}
	// Duplicate keys are reported by the converter, which goes on to find
	// the other problems; the parser would stop at the first.
	f, err := parser.ParseBytes(src, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, []Problem{syntaxProblem(file, err)}
	}
	var docs []ast.Node
	for _, d := range f.Docs {
		if d.Body != nil {
			docs = append(docs, d.Body)
		}
	}
	if len(docs) == 0 {
		return nil, nil
	}
	c := converter{file: file, lines: strings.Split(string(src), "\n")}
	n := c.convert(docs[0], 0)
	if len(docs) > 1 {
		c.add(docs[1], "a template file holds one YAML document, found another one here")
	}
	return n, c.problems
}

func syntaxProblem(file string, err error) Problem {
	var se *yaml.SyntaxError
	if errors.As(err, &se) && se.Token != nil {
		msg := se.Message
		return Problem{Pos: Pos{file, se.Token.Position.Line, se.Token.Position.Column}, Message: "YAML syntax: " + msg}
	}
	return Problem{Pos: Pos{file, 1, 1}, Message: "YAML syntax: " + firstLine(err.Error())}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

type converter struct {
	file     string
	lines    []string
	problems []Problem
}

func (c *converter) pos(n ast.Node) Pos {
	t := n.GetToken()
	if t == nil || t.Position == nil {
		return Pos{c.file, 1, 1}
	}
	line, col := t.Position.Line, t.Position.Column
	// go-yaml v1.19 reports flow-collection tokens after a tag one column
	// early (`!replace [a]` puts "[" on the space). A token never starts
	// on a space or a flow delimiter that is not its own text, so move on.
	if line >= 1 && line <= len(c.lines) && col >= 1 && col < len(c.lines[line-1]) {
		l := c.lines[line-1]
		if strings.ContainsRune(" [,{", rune(l[col-1])) && !strings.HasPrefix(t.Value, l[col-1:col]) && strings.HasPrefix(l[col:], t.Value) {
			col++
		}
	}
	return Pos{c.file, line, col}
}

func (c *converter) add(n ast.Node, format string, args ...any) {
	c.problems = append(c.problems, Problem{Pos: c.pos(n), Message: fmt.Sprintf(format, args...)})
}

func (c *converter) convert(n ast.Node, depth int) *node {
	if depth > maxDepth {
		c.add(n, "nesting deeper than %d levels", maxDepth)
		return &node{kind: kNull, pos: c.pos(n)}
	}
	switch v := n.(type) {
	case *ast.TagNode:
		tag := v.Start.Value
		if tag != ReplaceTag {
			c.add(v, "unknown tag %s (the only tag is %s)", tag, ReplaceTag)
		}
		out := c.convert(v.Value, depth+1)
		if tag == ReplaceTag {
			out.tag = tag
			out.pos = c.pos(v)
		}
		return out
	case *ast.AnchorNode:
		return c.convert(v.Value, depth+1)
	case *ast.AliasNode:
		// Aliases could expand exponentially; templates use extends instead.
		c.add(v, "YAML aliases (*name) are not supported; use extends to share settings")
		return &node{kind: kNull, pos: c.pos(v)}
	case *ast.MappingNode:
		out := &node{kind: kMap, pos: c.pos(v)}
		if len(v.Values) > 0 && !v.IsFlowStyle {
			out.pos = c.pos(v.Values[0].Key)
		}
		for _, mv := range v.Values {
			c.mapEntry(out, mv, depth)
		}
		return out
	case *ast.MappingValueNode:
		out := &node{kind: kMap, pos: c.pos(v.Key)}
		c.mapEntry(out, v, depth)
		return out
	case *ast.SequenceNode:
		out := &node{kind: kSeq, pos: c.pos(v)}
		for _, it := range v.Values {
			out.items = append(out.items, c.convert(it, depth+1))
		}
		return out
	case *ast.NullNode:
		return &node{kind: kNull, pos: c.pos(v)}
	case *ast.LiteralNode:
		return &node{kind: kScalar, scalar: "string", value: v.Value.Value, pos: c.pos(v)}
	case *ast.StringNode:
		return &node{kind: kScalar, scalar: "string", value: v.Value, pos: c.pos(v)}
	case *ast.IntegerNode:
		return &node{kind: kScalar, scalar: "int", value: v.GetToken().Value, pos: c.pos(v)}
	case *ast.FloatNode:
		return &node{kind: kScalar, scalar: "float", value: v.GetToken().Value, pos: c.pos(v)}
	case *ast.BoolNode:
		return &node{kind: kScalar, scalar: "bool", value: fmt.Sprint(v.Value), pos: c.pos(v)}
	case *ast.MergeKeyNode:
		c.add(v, "YAML merge keys (<<) are not supported; use extends to share settings")
		return &node{kind: kNull, pos: c.pos(v)}
	case ast.ScalarNode:
		return &node{kind: kScalar, scalar: "string", value: fmt.Sprint(v.GetValue()), pos: c.pos(v)}
	}
	c.add(n, "unsupported YAML construct %s", n.Type())
	return &node{kind: kNull, pos: c.pos(n)}
}

func (c *converter) mapEntry(out *node, mv *ast.MappingValueNode, depth int) {
	k := c.convert(mv.Key, depth+1)
	if k.kind != kScalar {
		c.add(mv.Key, "mapping keys must be plain names")
		return
	}
	if prev := out.get(k.value); prev != nil {
		c.add(mv.Key, "key %q given twice (first at line %d)", k.value, keyLine(out, k.value))
		return
	}
	out.keys = append(out.keys, k)
	out.vals = append(out.vals, c.convert(mv.Value, depth+1))
}

func keyLine(n *node, key string) int {
	for _, k := range n.keys {
		if k.value == key {
			return k.pos.Line
		}
	}
	return 0
}
