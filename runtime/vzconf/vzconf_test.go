package vzconf

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `# OpenVZ container config
ONBOOT="yes"
PHYSPAGES="0:262144"
# kept as the admin wrote it
CUSTOM_TOOL_KEY='left alone'
HOSTNAME="ct101.example.org"
IP_ADDRESS="192.0.2.10 192.0.2.11"
`

func TestRewriteKeepsUnknownKeysAndComments(t *testing.T) {
	f, err := Parse(strings.NewReader(sample), "101.conf")
	if err != nil {
		t.Fatal(err)
	}
	f.Set("HOSTNAME", "web1")
	f.Set("NAMESERVER", "192.0.2.53")
	got := string(f.Bytes())
	want := strings.Replace(sample, `HOSTNAME="ct101.example.org"`, `HOSTNAME="web1"`, 1) + "NAMESERVER=\"192.0.2.53\"\n"
	if got != want {
		t.Errorf("rewrite changed more than the set keys:\n%s\nwant:\n%s", got, want)
	}
	if v, _ := f.Get("CUSTOM_TOOL_KEY"); v != "left alone" {
		t.Errorf("single-quoted value: got %q", v)
	}
}

// A shell sourcing the file must see the values vzconf reads and writes.
func TestValuesRoundTripThroughShell(t *testing.T) {
	f := &File{Name: "x"}
	tricky := `a "quoted" $HOME \back` + "`tick`"
	f.Set("V", tricky)
	path := filepath.Join(t.TempDir(), "x.conf")
	if err := f.WriteFile(path, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", `. "$1"; printf %s "$V"`, "sh", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != tricky {
		t.Errorf("shell read %q, want %q", out, tricky)
	}
	back, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Get("V"); v != tricky {
		t.Errorf("vzconf read back %q, want %q", v, tricky)
	}
}

// $VEID stays a reference, as OpenVZ writes VE_ROOT="/vz/root/$VEID": a
// script sourcing the file with VEID set gets the container's path, and
// vzconf reads back what was set.
func TestVEIDStaysAReference(t *testing.T) {
	f := &File{Name: "x"}
	f.Set("VE_ROOT", "/vz/root/$VEID")
	f.Set("VE_PRIVATE", "/vz/private/${VEID}/$HOME")
	if got := string(f.Bytes()); got != "VE_ROOT=\"/vz/root/$VEID\"\nVE_PRIVATE=\"/vz/private/${VEID}/\\$HOME\"\n" {
		t.Errorf("written as %q", got)
	}
	path := filepath.Join(t.TempDir(), "x.conf")
	if err := f.WriteFile(path, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", `VEID=101; . "$1"; printf %s "$VE_ROOT $VE_PRIVATE"`, "sh", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "/vz/root/101 /vz/private/101/$HOME" {
		t.Errorf("shell read %q", out)
	}
	back, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Get("VE_PRIVATE"); v != "/vz/private/${VEID}/$HOME" {
		t.Errorf("vzconf read back %q", v)
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		text, want string
		line       int
	}{
		{"A=\"1\"\nB=\"unterminated\n", "101.conf:2: key B: unterminated double quote", 2},
		{"just words\n", "101.conf:1: expected KEY=\"value\"", 1},
		{"# c\n\n1ABC=\"x\"\n", "101.conf:3: invalid key \"1ABC\"", 3},
		{"A=\"x\" trailing\n", "101.conf:1: key A: unexpected text after value", 1},
	} {
		_, err := Parse(strings.NewReader(tc.text), "101.conf")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error %v, want it to contain %q", tc.text, err, tc.want)
		}
		// Callers tell a broken file from an unreadable one by type.
		var se *SyntaxError
		if !errors.As(err, &se) || se.File != "101.conf" || se.Line != tc.line {
			t.Errorf("Parse(%q) error %#v, want a SyntaxError at 101.conf:%d", tc.text, err, tc.line)
		}
	}
}

func TestLoadDefaultsRootPrefixAndFileOrigin(t *testing.T) {
	root := t.TempDir()
	g, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.CacheDir(), filepath.Join(root, "var/lib/vzkit/template/cache"); got != want {
		t.Errorf("cache dir %q, want %q", got, want)
	}
	if got, want := g.Path("VE_PRIVATE", "101"), filepath.Join(root, "var/lib/vzkit/private/101"); got != want {
		t.Errorf("VE_PRIVATE %q, want %q", got, want)
	}
	conf := filepath.Join(root, "etc/vzkit/vz.conf")
	os.MkdirAll(filepath.Dir(conf), 0o755)
	os.WriteFile(conf, []byte("# site\nTEMPLATE=\"/srv/vz/template\"\nVE_LAYOUT=overlay\n"), 0o644)
	g, err = Load(root)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl Setting
	for _, s := range g.Settings() {
		if s.Key == "TEMPLATE" {
			tmpl = s
		}
	}
	if tmpl.Value != filepath.Join(root, "srv/vz/template") || tmpl.Origin != conf+":2" {
		t.Errorf("TEMPLATE = %+v, want prefixed value from %s:2", tmpl, conf)
	}
	if g.Get("VE_LAYOUT") != "overlay" || g.Get("CRIU") != "criu" {
		t.Errorf("VE_LAYOUT=%q CRIU=%q", g.Get("VE_LAYOUT"), g.Get("CRIU"))
	}

	os.WriteFile(conf, []byte("LOCKDIR=\"relative/lock\"\n"), 0o644)
	if _, err := Load(root); err == nil || !strings.Contains(err.Error(), conf+":1: LOCKDIR must be an absolute path") {
		t.Errorf("relative path accepted or badly reported: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("A='x'\"y\"z\nexport B=1 # c\n")
	f.Fuzz(func(t *testing.T, text string) {
		cf, err := Parse(strings.NewReader(text), "fuzz.conf")
		if err != nil {
			return
		}
		// Whatever parsed must survive a rewrite of every key unchanged.
		for _, k := range cf.Keys() {
			v, _ := cf.Get(k)
			cf.Set(k, v)
		}
		again, err := Parse(strings.NewReader(string(cf.Bytes())), "again.conf")
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v\n%s", err, cf.Bytes())
		}
		for _, k := range cf.Keys() {
			a, _ := cf.Get(k)
			b, _ := again.Get(k)
			if a != b {
				t.Fatalf("key %s: %q became %q", k, a, b)
			}
		}
	})
}
