package metadata

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// lintOne writes a template and lints it, returning its problems.
func lintOne(t *testing.T, name, body string) []Problem {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return Lint(f)
}

// wantOne checks that probs is one problem at line:col (any column for
// 0) whose message contains msg.
func wantOne(t *testing.T, probs []Problem, line, col int, msg string) {
	t.Helper()
	if len(probs) != 1 || probs[0].Pos.Line != line || col != 0 && probs[0].Pos.Col != col || !strings.Contains(probs[0].Message, msg) {
		t.Fatalf("want one problem at %d:%d containing %q, got %v", line, col, msg, probs)
	}
}

// TestDeepBracketsRefused: 100 KB of "[" used to take go-yaml over 3 GB.
// The file is refused where the nesting passes the limit, without the
// parser ever seeing it: the whole lint allocates little (a bound on
// resources, not on time).
func TestDeepBracketsRefused(t *testing.T) {
	f := filepath.Join(t.TempDir(), "deep.yaml")
	if err := os.WriteFile(f, []byte("distro: debian\narch: "+strings.Repeat("[", 100_000)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	probs := Lint(f)
	runtime.ReadMemStats(&after)
	// "arch" is one level, so the maxDepth-th "[" (from column 7) is one
	// too many.
	wantOne(t, probs, 2, 6+maxDepth, fmt.Sprintf("nesting deeper than %d levels", maxDepth))
	if probs[0].Pos.File != f {
		t.Errorf("position names %q, want %q", probs[0].Pos.File, f)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Errorf("linting allocated %d MiB", n>>20)
	}
}

func TestDeepBlockNestingRefused(t *testing.T) {
	var mapping strings.Builder
	for i := range 40 {
		fmt.Fprintf(&mapping, "%sk%d:\n", strings.Repeat(" ", i), i)
	}
	// The 33rd level is the key on line 33, indented 32.
	wantOne(t, lintOne(t, "map.yaml", mapping.String()), 33, 33, "nesting deeper than")
	// Each "-" is a level, the first one the line's; the 33rd is at
	// column 65.
	wantOne(t, lintOne(t, "seq.yaml", "arch:\n"+strings.Repeat("- ", 40)+"amd64\n"), 2, 2*maxDepth+1, "nesting deeper than")
	// Tags and anchors nest the node they apply to, in go-yaml too.
	wantOne(t, lintOne(t, "tags.yaml", "arch: "+strings.Repeat("!replace ", 40)+"[amd64]\n"), 1, 0, "nesting deeper than")
	wantOne(t, lintOne(t, "anchors.yaml", "arch: "+strings.Repeat("&a ", 40)+"[amd64]\n"), 1, 0, "nesting deeper than")
}

func TestPrescanLimits(t *testing.T) {
	var keys strings.Builder
	for i := range maxKeys + 1 {
		fmt.Fprintf(&keys, "k%d: v\n", i)
	}
	wantOne(t, lintOne(t, "keys.yaml", keys.String()), maxKeys+1, len(fmt.Sprint(maxKeys))+2, fmt.Sprintf("more than %d mapping keys", maxKeys))
	wantOne(t, lintOne(t, "docs.yaml", "---\ndistro: a\n---\ndistro: b\n---\ndistro: c\n"), 5, 1, "one YAML document")
	wantOne(t, lintOne(t, "angles.yaml", "distro: "+strings.Repeat("<", 1000)+"\n"), 1, 9+maxAngleRun, "'<' in a row")
	wantOne(t, lintOne(t, "tabs.yaml", "distro: \""+strings.Repeat("\t", 3000)+"x\""+strings.Repeat(" ", 3000)+"\n"), 1, 0, "write \\t")
}

// TestPrescanPassesTemplates: what templates are made of passes.
func TestPrescanPassesTemplates(t *testing.T) {
	files, _ := filepath.Glob("../distros/templates/*.yaml")
	good, _ := filepath.Glob("testdata/good/*.yaml")
	if len(files) == 0 {
		t.Fatal("no shipped templates")
	}
	for _, f := range append(files, good...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if p := prescan(f, b); p != nil {
			t.Errorf("%v", p)
		}
	}
	ok := `# every construct, at the depth templates use
name: x
arch: [amd64, "arm64", 'i386']
variables: {codename: "bookworm", c: 'it''s'}
scripts:
  post-install: |
    if [ -f /x ]; then echo "{[(" 'x' # ]]]
    fi
  pre-cache: >-
    folded
packages:
  include: !replace
    - a
    - "b"
    - ? c
      : d
defaults: &d {A: "1"}
`
	if p := prescan("ok.yaml", []byte(ok)); p != nil {
		t.Errorf("%v", p)
	}
}

func TestOversizeFileRefused(t *testing.T) {
	big := "distro: debian\n# " + strings.Repeat("x", MaxFileSize) + "\n"
	probs := lintOne(t, "big.yaml", big)
	wantOne(t, probs, 1, 1, fmt.Sprintf("big.yaml is larger than %d bytes", MaxFileSize))
}

// TestScriptFileMustBeRegular: a script named by a template is read only
// when it is a regular file in the template's directory, and the problem
// says what it is instead.
func TestScriptFileMustBeRegular(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("CANARY-abc123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "link.sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(secret), filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(dir, "fifo.sh"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.sh"), make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ file, want string }{
		{"link.sh", filepath.Join(dir, "link.sh") + " is a symlink; name the file itself"},
		{"fifo.sh", filepath.Join(dir, "fifo.sh") + " is a FIFO, not a regular file"},
		{"big.sh", fmt.Sprintf("%s is larger than %d bytes", filepath.Join(dir, "big.sh"), MaxFileSize)},
		// A symlinked directory on the way resolves inside the template
		// directory, where there is no "secret".
		{"sub/secret", "no such file beside the template"},
	} {
		f := filepath.Join(dir, "t.yaml")
		if err := os.WriteFile(f, []byte("scripts:\n  post-install:\n    file: "+c.file+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var got []Problem
		for _, p := range Lint(f) {
			if strings.HasPrefix(p.Message, "scripts.") {
				got = append(got, p)
			}
		}
		want := fmt.Sprintf("%s:3:11: scripts.post-install.file %q: %s", f, c.file, c.want)
		if len(got) != 1 || got[0].String() != want {
			t.Errorf("%s: got %v\nwant %s", c.file, got, want)
		}
	}
}

// TestPrescanQuirks: each of these once let deep nesting past the
// pre-scan, by a quirk of go-yaml's scanner that it now follows. The
// brackets at the end are what go-yaml counts and the pre-scan must.
func TestPrescanQuirks(t *testing.T) {
	deep := strings.Repeat("[", maxDepth+8)
	half := strings.Repeat("[", maxDepth/2+4) // twice is too deep
	for _, c := range []struct{ why, src string }{
		{"plain text runs over a line break: no quote", "a: foo\n  'bar\nb: " + deep + "\nc: 'x'\n"},
		{"an empty block scalar leaves text buffered", "[[\n  - ]b c]|\n\n- \n x#\n  - ]\t" + deep},
		{"blanks starting a quoted line skip the tab lookahead", "[\"\n\t#\"''''" + deep},
		{"a tab right of the last key takes no column", half + "\t? c\n" + strings.Repeat(" ", len(half)+1) + "-" + strings.Repeat("]", maxDepth) + "\n" + half},
		{"after a multi-line quote the scanner is at a line start", "['\n' %\"" + deep},
		{"an escaped line break starts a line", "[\"\\\n\t\t\"x#" + deep},
		{"no document marker right after a block header", half + ">\n---\n" + strings.Repeat("]", maxDepth) + "\n---\n" + half},
		{"a tab in double quotes skips a character", "[{\"\t>\n[\"<<:a\n  \t\"" + deep},
		{"plain text over a line break is placed after its first line", "a: [\"\" [|\n\n- \n : \xa9\n -" + deep},
		{"a tag takes one column less", "[\n!!t ? :'\n   \t\"" + deep},
		{"indentation in a block scalar counts for directives", "[? {|\n %'" + deep},
	} {
		if d, ok := flowDepth([]byte(c.src)); !ok || d <= maxDepth {
			t.Fatalf("%s: go-yaml nests %d (ok %v); the case no longer tests anything", c.why, d, ok)
		}
		if prescan("f", []byte(c.src)) == nil {
			t.Errorf("%s: passed: %q", c.why, c.src)
		}
	}
}

// TestPrescanMatchesGoYAML puts brackets on both sides of random runs of
// what go-yaml's scanner treats specially (quotes, escapes, tabs,
// comments, tags, anchors, block scalars, document markers, odd bytes),
// so that a run that made the pre-scan lose count of what go-yaml sees
// would let deep nesting through. Each quirk the pre-scan mirrors was
// found this way; go test -fuzz FuzzPrescan searches further.
func TestPrescanMatchesGoYAML(t *testing.T) {
	pieces := []string{"[", "[", "[", "]", "{", "}", "'", "''", "\"", "\"\t", "\t\"", "\\", "\\x", "\\u", "\\U",
		"#", " #", "x#", "!t ", "!", "&a ", "&", "*a", "*", "%", "@", "`", "?", "? ", "- ", "-", "\n- ", "\n  - ",
		": ", ":", ", ", "<<: ", "|\n", "|-\n", "|+\n", "|2\n", ">\n", ">1\n", "---\n", "...\n",
		" ", "  ", "\t", "\t\t", "\n", "\n ", "\n  ", "\n   ", "\n\t", "\r", "\r\n", "a", "b c", "é", "\xff"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteString("a: ")
		}
		b.WriteString(strings.Repeat("[", 5+r.IntN(25)))
		n := 1 + r.IntN(12)
		for range n {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		b.WriteString(strings.Repeat("]", r.IntN(10)))
		for range n {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		b.WriteString(strings.Repeat("[", 5+r.IntN(25)))
		src := []byte(b.String())
		if prescan("f", src) != nil {
			continue
		}
		if deepest, ok := flowDepth(src); ok && deepest > maxDepth {
			t.Fatalf("pre-scan passed %d levels of flow nesting: %q", deepest, src)
		}
	}
}
