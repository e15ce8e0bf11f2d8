package metadata

import (
	"bufio"
	"context"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/lint/golden.txt from the current output (review the diff!)")

// TestLintGolden lints every broken file in testdata/lint and compares each
// file:line:col: message with the reviewed golden list.
func TestLintGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/lint/[0-9]*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("only %d broken files", len(files))
	}
	var got []string
	for _, f := range files {
		probs := Lint(f)
		if len(probs) == 0 {
			t.Errorf("%s: no problem reported", f)
		}
		for _, p := range probs {
			got = append(got, p.String())
		}
	}
	sort.Strings(got)
	golden := "testdata/lint/golden.txt"
	if *update {
		if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readLines(t, golden)
	sort.Strings(want)
	gotSet, wantSet := set(got), set(want)
	for _, w := range want {
		if !gotSet[w] {
			t.Errorf("missing: %s", w)
		}
	}
	for _, g := range got {
		if !wantSet[g] {
			t.Errorf("unexpected: %s", g)
		}
	}
}

func readLines(t *testing.T, name string) []string {
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func set(l []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range l {
		m[s] = true
	}
	return m
}

func TestLintGoodFile(t *testing.T) {
	l := &Loader{}
	if probs := l.Lint(context.Background(), "testdata/lint/base.yaml"); len(probs) != 0 {
		t.Errorf("base.yaml should lint clean: %v", probs)
	}
}
