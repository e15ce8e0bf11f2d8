package solve

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/internal/testfixtures"
	"github.com/vzkit/vzkit/repo/rpmmd"
)

// TestVercmpFixture checks every case of cavaliergopher/rpm's vercmp.json
// (generated with rpm's own rpmvercmp), both ways round.
func TestVercmpFixture(t *testing.T) {
	data, err := os.ReadFile(testfixtures.Path("cavaliergopher-rpm/testdata/vercmp.json"))
	if err != nil {
		testenv.Missing(t, "vercmp fixture: %v", err)
	}
	var cases []struct {
		A, B   string
		Expect int
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 4000 {
		t.Fatalf("only %d cases in the fixture", len(cases))
	}
	bad := 0
	for _, c := range cases {
		if got := Vercmp(c.A, c.B); got != c.Expect {
			bad++
			if bad < 20 {
				t.Errorf("Vercmp(%q, %q) = %d, want %d", c.A, c.B, got, c.Expect)
			}
		}
		if got := Vercmp(c.B, c.A); got != -c.Expect {
			t.Errorf("Vercmp(%q, %q) = %d, want %d", c.B, c.A, got, -c.Expect)
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d cases wrong", bad, len(cases))
	}
}

// caretCases are rpm's own tests for '^' (tests/rpmvercmp.at, rpm 4.15),
// which the fixture predates, and its '~' ones.
var caretCases = []struct {
	a, b string
	want int
}{
	{"1.0^", "1.0^", 0}, {"1.0^", "1.0", 1}, {"1.0", "1.0^", -1},
	{"1.0^git1", "1.0^git1", 0}, {"1.0^git1", "1.0", 1}, {"1.0", "1.0^git1", -1},
	{"1.0^git1", "1.0^git2", -1}, {"1.0^git2", "1.0^git1", 1},
	{"1.0^git1", "1.01", -1}, {"1.01", "1.0^git1", 1},
	{"1.0^20160101", "1.0^20160101", 0}, {"1.0^20160101", "1.0.1", -1}, {"1.0.1", "1.0^20160101", 1},
	{"1.0^20160101^git1", "1.0^20160101^git1", 0},
	{"1.0^20160102", "1.0^20160101^git1", 1}, {"1.0^20160101^git1", "1.0^20160102", -1},
	{"1.0~rc1^git1", "1.0~rc1^git1", 0}, {"1.0~rc1^git1", "1.0~rc1", 1}, {"1.0~rc1", "1.0~rc1^git1", -1},
	{"1.0^git1~pre", "1.0^git1~pre", 0}, {"1.0^git1", "1.0^git1~pre", 1}, {"1.0^git1~pre", "1.0^git1", -1},
	{"1.0~rc1", "1.0", -1}, {"1.0", "1.0~rc1", 1}, {"1.0~rc1", "1.0~rc2", -1}, {"1.0~rc1~git123", "1.0~rc1", -1},
	{"1.0~", "1.0", -1}, {"1.0^", "1.0~", 1},
}

func TestVercmpCaretTilde(t *testing.T) {
	for _, c := range caretCases {
		if got := Vercmp(c.a, c.b); got != c.want {
			t.Errorf("Vercmp(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestVercmpAgainstRPM compares Vercmp with the host's rpm (rpm.vercmp in
// its Lua interpreter) on random strings heavy in separators, '~' and '^',
// the cases the fixture does not cover.
func TestVercmpAgainstRPM(t *testing.T) {
	rpmBin := testenv.NeedTool(t, "rpm", "rpm")
	rng := rand.New(rand.NewSource(11))
	const alphabet = "0012.9aZz~~^^._+"
	gen := func() string {
		b := make([]byte, rng.Intn(7))
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
		return string(b)
	}
	type pair struct{ a, b string }
	var pairs []pair
	for len(pairs) < 3000 {
		a := gen()
		b := a
		if rng.Intn(3) > 0 {
			b = gen()
		} else if len(b) > 0 { // a near miss: one byte changed
			k := rng.Intn(len(b))
			b = b[:k] + string(alphabet[rng.Intn(len(alphabet))]) + b[k+1:]
		}
		// rpm.vercmp parses [epoch:]version[-release]; keep to versions
		// that start with a digit so no epoch or release is seen.
		pairs = append(pairs, pair{"1" + a, "1" + b})
	}
	var lua strings.Builder
	for _, p := range pairs {
		fmt.Fprintf(&lua, "print(rpm.vercmp(%q, %q)) print('\\n')\n", p.a, p.b)
	}
	script := filepath.Join(t.TempDir(), "vercmp.lua")
	if err := os.WriteFile(script, []byte(lua.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(rpmBin, "--eval", "%{lua: dofile(\""+script+"\")}").Output()
	if err != nil {
		t.Fatalf("rpm --eval: %v", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(pairs) {
		t.Fatalf("rpm printed %d results for %d pairs", len(lines), len(pairs))
	}
	for i, p := range pairs {
		want, err := strconv.Atoi(lines[i])
		if err != nil {
			t.Fatal(err)
		}
		if got := Vercmp(p.a, p.b); got != want {
			t.Errorf("Vercmp(%q, %q) = %d, rpm says %d", p.a, p.b, got, want)
		}
	}
}

func evr(s string) rpmmd.EVR {
	var e rpmmd.EVR
	if i := strings.IndexByte(s, ':'); i >= 0 {
		e.Epoch, s = s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		e.Version, e.Release = s[:i], s[i+1:]
	} else {
		e.Version = s
	}
	return e
}

func TestCompareEVR(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1:1.0-1", "2.0-1", 1},    // the epoch bump wins over any version
		{"0:2.0-1", "2.0-1", 0},    // empty epoch is 0
		{"2.0-1", "1:0.1-1", -1},   // and loses to 1
		{"1.0-10", "1.0-9", 1},     // release compared numerically
		{"1.0~rc1-1", "1.0-1", -1}, // tilde: pre-release
		{"1.0^git1-1", "1.0-1", 1}, // caret: post-release snapshot
		{"1.0^git1-1", "1.0.1-1", -1},
	} {
		if got := CompareEVR(evr(c.a), evr(c.b)); got != c.want {
			t.Errorf("CompareEVR(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestOverlaps(t *testing.T) {
	op := map[string]rpmmd.Op{"": rpmmd.OpAny, "=": rpmmd.OpEQ, "<": rpmmd.OpLT, "<=": rpmmd.OpLE, ">": rpmmd.OpGT, ">=": rpmmd.OpGE}
	for _, c := range []struct {
		req, prov string // "op evr"
		want      bool
	}{
		{">= 1.0", "= 1.0-3", true}, // missing release matches any release
		{"= 1.0", "= 1.0-3", true},
		{"> 1.0", "= 1.0-3", false}, // but > 1.0 means a newer version
		{"< 1.0", "= 1.0-3", false},
		{">= 1.0-4", "= 1.0-3", false},
		{">= 1.0-3", "= 1.0-3", true},
		{"< 1.0-4", "= 1.0-3", true},
		{">= 1:1.0", "= 2.0-1", false}, // epoch
		{">= 1.0", "= 1:0.5-1", true},
		{">= 1.0", "", true},     // unversioned provide
		{"", "= 0.1-1", true},    // unversioned require
		{"> 1.0", "> 2.0", true}, // two open ranges
		{"< 1.0", "> 2.0", false},
		{"<= 1.0", ">= 1.0", true},
		{"< 1.0", ">= 1.0", false},
		{">= 1.0~rc1", "= 1.0~beta-1", false},
		{">= 1.0", "= 1.0^git1-1", true},
	} {
		parse := func(s string) (rpmmd.Op, rpmmd.EVR) {
			o, v, _ := strings.Cut(s, " ")
			return op[o], evr(v)
		}
		ro, re := parse(c.req)
		po, pe := parse(c.prov)
		if got := Overlaps(ro, re, po, pe); got != c.want {
			t.Errorf("Overlaps(%q, %q) = %v, want %v", c.req, c.prov, got, c.want)
		}
		if got := Overlaps(po, pe, ro, re); got != c.want {
			t.Errorf("Overlaps(%q, %q) = %v, want %v (swapped)", c.prov, c.req, got, c.want)
		}
	}
}
