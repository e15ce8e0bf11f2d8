package metadata

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// FuzzLoad feeds arbitrary bytes as a template that may extend the shipped
// ones: loading must not panic, every problem must have a position, and a
// template that loads must be complete and expandable without panics.
func FuzzLoad(f *testing.F) {
	shipped, err := filepath.Glob("../distros/templates/*.yaml")
	if err != nil || len(shipped) == 0 {
		f.Fatalf("no shipped templates to seed from: %v", err)
	}
	fsys := fstest.MapFS{}
	for _, p := range shipped {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		fsys["t/"+filepath.Base(p)] = &fstest.MapFile{Data: b}
		f.Add(b)
	}
	lint, _ := filepath.Glob("testdata/lint/*.yaml")
	for _, p := range lint {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	// Hostile files: what the pre-scan refuses, and near misses.
	for _, s := range append(hostileSeeds(), prescanSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := fstest.MapFS{}
		for k, v := range fsys {
			m[k] = v
		}
		m["t/fuzz.yaml"] = &fstest.MapFile{Data: b}
		l := &Loader{Sources: []Source{{Name: "mem", FS: m, Dir: "t"}}}
		tp, err := l.Load(context.Background(), "fuzz")
		var ps Problems
		switch {
		case errors.As(err, &ps):
			for _, p := range ps {
				if p.Pos.Line < 1 || p.Pos.Col < 1 || p.Pos.File == "" {
					t.Fatalf("problem without a position: %+v", p)
				}
			}
			return
		case err != nil:
			return
		}
		if tp.Distro == "" || len(tp.Arch) == 0 || len(tp.Repositories) == 0 {
			t.Fatalf("incomplete template loaded without problems: %+v", tp)
		}
		_, _ = tp.Expand(map[string]string{"mirror": "http://m.example.org/debian", "security_mirror": "http://s.example.org/debian-security"})
	})
}

// FuzzPrescan checks the pre-scan against go-yaml itself: a file the
// pre-scan lets through must not nest flow collections deeper than
// maxDepth in go-yaml's tokens, nor its nodes deeper than the pre-scan's
// block count allows.
func FuzzPrescan(f *testing.F) {
	for _, s := range prescanSeeds {
		f.Add([]byte(s))
	}
	shipped, _ := filepath.Glob("../distros/templates/*.yaml")
	lint, _ := filepath.Glob("testdata/lint/*.yaml")
	for _, p := range append(shipped, lint...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if prescan("f", b) != nil {
			return
		}
		deepest, ok := flowDepth(b)
		if !ok {
			return // go-yaml refuses the file before parsing it
		}
		if deepest > maxDepth {
			t.Fatalf("pre-scan passed %d levels of flow nesting:\n%q", deepest, b)
		}
		file, err := parser.ParseBytes(b, 0, parser.AllowDuplicateMapKey())
		if err != nil {
			return
		}
		for _, d := range file.Docs {
			// A block level is a mapping node, its value node and a
			// sequence written at the key's column: three AST levels per
			// level the pre-scan counts, plus the document.
			if n := astDepth(d); n > 3*maxDepth+2 {
				t.Fatalf("pre-scan passed %d AST levels:\n%s", n, b)
			}
		}
	})
}

// hostileSeeds are templates that would cost go-yaml far more than their
// size without the pre-scan, scaled down to what a fuzzer can mutate.
func hostileSeeds() []string {
	var keys, block strings.Builder
	for i := range maxKeys + 1 {
		fmt.Fprintf(&keys, "k%d: v\n", i)
	}
	for i := range maxDepth + 2 {
		fmt.Fprintf(&block, "%sk:\n", strings.Repeat(" ", i))
	}
	return []string{
		"extends: debian-12-minimal\narch: " + strings.Repeat("[", 5000),
		"extends: debian-12-minimal\ndefaults: " + strings.Repeat("{A: ", 5000),
		"extends: debian-12-minimal\npackages:\n  include: " + strings.Repeat("[", maxDepth-2) + "less" + strings.Repeat("]", maxDepth-2) + "\n",
		"extends: debian-12-minimal\narch:\n" + strings.Repeat("- ", maxDepth+2) + "amd64\n",
		"extends: debian-12-minimal\narch: " + strings.Repeat("!replace ", maxDepth+2) + "[amd64]\n",
		"extends: debian-12-minimal\narch: " + strings.Repeat("&a ", maxDepth+2) + "[amd64]\n",
		block.String(),
		keys.String(),
		strings.Repeat("---\nextends: debian-12-minimal\n", 4),
		"extends: debian-12-minimal\nvariant: " + strings.Repeat("<", 2*maxAngleRun) + "\n",
		"extends: debian-12-minimal\nvariant: \"" + strings.Repeat("\t", 2100) + "x\"" + strings.Repeat(" ", 2100) + "\n",
	}
}

// prescanSeeds try to hide brackets from the pre-scan or to close more
// than they open, in the places where go-yaml's scanner reads quotes,
// comments, tags, anchors and block scalars differently from YAML.
var prescanSeeds = []string{
	"a: " + strings.Repeat("[", 40),
	"a: " + strings.Repeat("{b: ", 40),
	"a: foo\n  'bar\nb: " + strings.Repeat("[", 40) + "\nc: 'x'\n",
	"a: [" + strings.Repeat("[", 30) + " \"]]]]]]]]\" " + strings.Repeat("[", 30) + "\n",
	"a: [" + strings.Repeat("[", 30) + " x#]]]]]]]] " + strings.Repeat("[", 30) + "\n",
	"a: [" + strings.Repeat("[", 30) + " !t]]]]]]]] " + strings.Repeat("[", 30) + "\n",
	"a: [" + strings.Repeat("[", 30) + " &a]]]]]]]] " + strings.Repeat("[", 30) + "\n",
	"a: [" + strings.Repeat("[", 30) + " foo\n  - ]]]]]]]]\n" + strings.Repeat("[", 30) + "\n",
	"a: |\n  ]]]]]]]]\nb: " + strings.Repeat("[", 40) + "\n",
	"a: |2\n   x\n  ]]]]\n" + strings.Repeat("[", 40) + "\n",
	"a: " + strings.Repeat("!t ", 40) + "x\n",
	"a: " + strings.Repeat("&a ", 40) + "x\n",
	"a:\n" + strings.Repeat("- ", 40) + "x\n",
	"a: {x: [" + strings.Repeat("{y: [", 20) + "\n",
	"<<: {a: " + strings.Repeat("[", 40) + "\n",
	"a: 'it''s " + strings.Repeat("]", 40) + "' " + strings.Repeat("[", 40) + "\n",
	"a: \"\\\"" + strings.Repeat("]", 40) + "\" " + strings.Repeat("[", 40) + "\n",
}

// flowDepth is how deep go-yaml's tokens of b nest flow collections; ok
// is false when go-yaml's scanner refuses b.
func flowDepth(b []byte) (deepest int, ok bool) {
	tokens := lexer.Tokenize(string(b))
	if tokens.InvalidToken() != nil {
		return 0, false
	}
	var seq, mapping int
	for _, tk := range tokens {
		switch tk.Type {
		case token.SequenceStartType:
			seq++
		case token.SequenceEndType:
			seq = max(0, seq-1)
		case token.MappingStartType:
			mapping++
		case token.MappingEndType:
			mapping = max(0, mapping-1)
		}
		deepest = max(deepest, seq+mapping)
	}
	return deepest, true
}

func astDepth(n ast.Node) int {
	deepest := 0
	ast.Walk(depthVisitor{depth: 1, deepest: &deepest}, n)
	return deepest
}

type depthVisitor struct {
	depth   int
	deepest *int
}

func (v depthVisitor) Visit(n ast.Node) ast.Visitor {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode, *ast.TagNode, *ast.AnchorNode:
		*v.deepest = max(*v.deepest, v.depth)
		return depthVisitor{v.depth + 1, v.deepest}
	}
	return v
}
