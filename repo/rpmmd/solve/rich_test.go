package solve

import (
	"os"
	"reflect"
	"strings"
	"testing"

	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/vzkit/vzkit/internal/testfixtures"
	"github.com/vzkit/vzkit/repo/rpmmd"
)

func TestParseRich(t *testing.T) {
	atom := func(name string) *Expr { return &Expr{Op: OpAtom, Name: name} }
	ver := func(name string, op rpmmd.Op, v string) *Expr {
		return &Expr{Op: OpAtom, Name: name, Cmp: op, EVR: ParseEVR(v)}
	}
	node := func(op ExprOp, args ...*Expr) *Expr { return &Expr{Op: op, Args: args} }
	for _, c := range []struct {
		in   string
		want *Expr
	}{
		{"(a or b)", node(OpOr, atom("a"), atom("b"))},
		{"(a or b or c)", node(OpOr, atom("a"), atom("b"), atom("c"))},
		{"(a and b)", node(OpAnd, atom("a"), atom("b"))},
		{"(a if b)", node(OpIf, atom("a"), atom("b"))},
		{"(a if b else c)", node(OpIf, atom("a"), atom("b"), atom("c"))},
		{"(a unless b)", node(OpUnless, atom("a"), atom("b"))},
		{"(a unless b else c)", node(OpUnless, atom("a"), atom("b"), atom("c"))},
		{"(a with b)", node(OpWith, atom("a"), atom("b"))},
		{"(a without b)", node(OpWithout, atom("a"), atom("b"))},
		{"(NetworkManager)", atom("NetworkManager")},
		{"(foo >= 1.2 or bar)", node(OpOr, ver("foo", rpmmd.OpGE, "1.2"), atom("bar"))},
		{"(container-selinux >= 2:2.162.1 if selinux-policy)", node(OpIf, ver("container-selinux", rpmmd.OpGE, "2:2.162.1"), atom("selinux-policy"))},
		{"((selinux-policy >= 3.14.3-23) if openssh)", node(OpIf, ver("selinux-policy", rpmmd.OpGE, "3.14.3-23"), atom("openssh"))},
		{"((python3.11dist(pysocks) < 1.5.7 or python3.11dist(pysocks) > 1.5.7) with python3.11dist(pysocks) >= 1.5.6)",
			node(OpWith, node(OpOr, ver("python3.11dist(pysocks)", rpmmd.OpLT, "1.5.7"), ver("python3.11dist(pysocks)", rpmmd.OpGT, "1.5.7")),
				ver("python3.11dist(pysocks)", rpmmd.OpGE, "1.5.6"))},
		{"((a and b) if (c or d))", node(OpIf, node(OpAnd, atom("a"), atom("b")), node(OpOr, atom("c"), atom("d")))},
		{"( a  or\tb )", node(OpOr, atom("a"), atom("b"))},
		{"(a = 1 or b == 2 or c =< 3 or d => 4)", node(OpOr, ver("a", rpmmd.OpEQ, "1"), ver("b", rpmmd.OpEQ, "2"), ver("c", rpmmd.OpLE, "3"), ver("d", rpmmd.OpGE, "4"))},
	} {
		got, err := ParseRich(c.in)
		if err != nil {
			t.Errorf("ParseRich(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseRich(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestParseRichErrors(t *testing.T) {
	for in, msg := range map[string]string{
		"a or b":                 "starts with '('",
		"(a or b":                "missing ')'",
		"(a or b and c)":         "and cannot follow or",
		"(a if b if c)":          "if cannot be chained",
		"(a else b)":             "else without if or unless",
		"(a if b else c else d)": "else without if or unless",
		"(a xor b)":              `"xor" is not an operator`,
		"(a or)":                 "missing operand",
		"(or a)":                 "missing operand before",
		"()":                     "missing operand",
		"(a >= )":                "missing version",
		"(a or b) c":             "after the closing parenthesis",
		"(a with b without c)":   "without cannot follow with",
		"(a unless b unless c)":  "unless cannot be chained",
	} {
		_, err := ParseRich(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseRich(%q) = %v, want an error with %q", in, err, msg)
		}
	}
	if _, err := ParseRich(strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100)); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep nesting: %v", err)
	}
}

// richSamples are real rich dependencies (CentOS Stream 9 AppStream,
// rpm-rs's rich-deps test package), for fuzz seeds when the fixtures are
// absent.
var richSamples = []string{
	"(usbguard-selinux if selinux-policy-targeted)",
	"((policycoreutils-python-utils and libselinux-utils) if (selinux-policy-targeted or selinux-policy-mls))",
	"((python3.11dist(pysocks) < 1.5.7 or python3.11dist(pysocks) > 1.5.7) with python3.11dist(pysocks) >= 1.5.6)",
	"((selinux-policy >= 3.14.3-23) if openssh)",
	"(adwaita-gtk2-theme = 3.28-14.el9 if gtk2)",
	"(annobin if (gcc or clang))",
	"(ansible-core >= 2.11.0 or ansible >= 2.9.0)",
	"(container-selinux >= 2:2.162.1 if selinux-policy)",
	"(NetworkManager)",
	"(pkgL unless pkgM else pkgN)",
	"(pkgQ without pkgR)",
	"((pkgY and pkgZ) or pkgAA)",
}

// richSeeds gathers every rich dependency of the AppStream primary and
// of rpm-rs's rpm-rich-deps package.
func richSeeds(tb testing.TB) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if strings.HasPrefix(s, "(") && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, s := range richSamples {
		add(s)
	}
	if _, err := os.Stat(appstreamPrimary(tb)); err == nil {
		for _, p := range appstreamPackages(tb) {
			for _, l := range [][]rpmmd.Dep{p.Requires, p.Conflicts, p.Recommends, p.Supplements} {
				for _, d := range l {
					add(d.Name)
				}
			}
		}
	}
	if f, err := os.Open(testfixtures.Path("rpm-rs/tests/assets/RPMS/v6/rpm-rich-deps-1.0-1.noarch.rpm")); err == nil {
		defer f.Close()
		h, err := rpmutils.ReadHeader(f)
		if err != nil {
			tb.Fatal(err)
		}
		// Requires, Conflicts, Recommends, Suggests, Supplements, Enhances.
		for _, tag := range []int{rpmutils.REQUIRENAME, rpmutils.CONFLICTNAME, 5046, 5049, 5052, 5055} {
			names, _ := h.GetStrings(tag)
			for _, n := range names {
				add(n)
			}
		}
	}
	return out
}

// TestParseRealRich parses every rich dependency the fixtures hold and
// checks that writing one back parses to the same tree.
func TestParseRealRich(t *testing.T) {
	seeds := richSeeds(t)
	if len(seeds) < 400 {
		t.Fatalf("only %d rich dependencies found in the fixtures", len(seeds))
	}
	ops := map[ExprOp]int{}
	for _, s := range seeds {
		e, err := ParseRich(s)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		var walk func(e *Expr)
		walk = func(e *Expr) {
			ops[e.Op]++
			for _, a := range e.Args {
				walk(a)
			}
		}
		walk(e)
		again, err := ParseRich(richString(e))
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Errorf("%q written back as %q parses to %v (%v)", s, richString(e), again, err)
		}
	}
	for _, op := range []ExprOp{OpAnd, OpOr, OpIf, OpUnless, OpWith, OpWithout} {
		if ops[op] == 0 {
			t.Errorf("no %s in the real rich dependencies", op)
		}
	}
}

func FuzzParseRich(f *testing.F) {
	for _, s := range richSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseRich(s)
		if err != nil {
			return
		}
		out := richString(e)
		again, err := ParseRich(out)
		if err != nil {
			t.Fatalf("%q parsed, but its String %q does not: %v", s, out, err)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("%q: String %q parses to %s", s, out, again)
		}
		if richString(again) != out {
			t.Fatalf("String is not stable: %q then %q", out, richString(again))
		}
	})
}

// richString writes e as a rich dependency: an atom in parentheses.
func richString(e *Expr) string {
	if e.Op == OpAtom {
		return "(" + e.String() + ")"
	}
	return e.String()
}
