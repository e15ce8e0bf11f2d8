package metadata

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
)

// Problem is one thing wrong in a metadata file.
type Problem struct {
	Pos     Pos
	Message string
}

func (p Problem) String() string { return p.Pos.String() + ": " + p.Message }

// Problems is every problem found in a template; it is the error Load
// returns when a template is not valid.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Lint checks host files and reports every problem in them (and in the
// templates they extend), sorted by file and position. Extends are looked
// up beside each file, then in the loader's sources.
func (l *Loader) Lint(ctx context.Context, files ...string) []Problem {
	var out []Problem
	for _, f := range files {
		src := DirSource(filepath.Dir(f))
		_, probs := l.resolve(ctx, &src, filepath.Base(f))
		out = append(out, probs...)
	}
	out = dedupe(out)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return out
}

// Lint checks host files with extends looked up beside each file only.
func Lint(files ...string) []Problem {
	return (&Loader{}).Lint(context.Background(), files...)
}

func dedupe(ps []Problem) []Problem {
	seen := map[string]bool{}
	out := ps[:0:0]
	for _, p := range ps {
		if s := p.String(); !seen[s] {
			seen[s] = true
			out = append(out, p)
		}
	}
	return out
}

// suggest returns the candidate closest to s when it is close enough to be
// a typo (edit distance at most 2, and less than half of s).
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := distance(s, c); d < bestD && d*2 < len(s)+1 {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
