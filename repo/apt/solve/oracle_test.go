package solve

// The oracle: mmdebstrap (which drives apt) simulates a bootstrap, keeps the
// Packages list it downloaded, and our solver must choose the same names
// from that very list.

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"
)

// hostMirror returns the first Debian archive URI of the host's apt sources
// (deb822 .sources first, then one-line sources.list) that serves suite.
func hostMirror(tb testing.TB, suite string) string {
	tb.Helper()
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, stanza := range strings.Split(string(data), "\n\n") {
			kv := map[string]string{}
			for _, line := range strings.Split(stanza, "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, " ") {
					kv[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
				}
			}
			if !slices.Contains(strings.Fields(kv["types"]), "deb") || kv["uris"] == "" {
				continue
			}
			if slices.Contains(strings.Fields(kv["suites"]), suite) && slices.Contains(strings.Fields(kv["components"]), "main") {
				return strings.Fields(kv["uris"])[0]
			}
		}
	}
	if f, err := os.Open("/etc/apt/sources.list"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) >= 4 && fs[0] == "deb" && !strings.HasPrefix(fs[1], "[") && fs[2] == suite && slices.Contains(fs[3:], "main") {
				return fs[1]
			}
		}
	}
	tb.Skipf("no host apt source serves %s main", suite)
	return ""
}

// oracle is what mmdebstrap --simulate would install.
type oracle struct {
	all       []string // "name=version", sorted: union of both stages
	essential []string // names of the first (essential) stage, sorted
	list      string   // the Packages list mmdebstrap used
	listDir   string   // the apt lists directory holding it
}

// mmdebstrapOracle runs mmdebstrap --simulate, collects the Inst lines apt
// prints for its two stages, and keeps the Packages list it downloaded.
func mmdebstrapOracle(t *testing.T, suite, variant, mirror string, include []string) oracle {
	t.Helper()
	dir := t.TempDir()
	target := filepath.Join(dir, "root")
	args := []string{"--verbose", "--variant=" + variant, "--simulate", "--skip=cleanup/apt/lists", "--format=directory"}
	if len(include) > 0 {
		args = append(args, "--include="+strings.Join(include, ","))
	}
	args = append(args, suite, target, "deb "+mirror+" "+suite+" main")
	cmd := exec.Command("mmdebstrap", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mmdebstrap %s %s: %v\n%s", variant, suite, err, out)
	}
	all, essential := map[string]bool{}, map[string]bool{}
	stage1 := true
	for _, line := range strings.Split(string(out), "\n") {
		// mmdebstrap's marker between the essential stage and the rest.
		if strings.HasPrefix(line, "I: simulate installing remaining packages") {
			stage1 = false
		}
		fs := strings.Fields(line)
		if len(fs) < 3 || fs[0] != "Inst" {
			continue
		}
		name := strings.SplitN(fs[1], ":", 2)[0]
		all[name+"="+strings.TrimPrefix(fs[2], "(")] = true
		if stage1 {
			essential[name] = true
		}
	}
	if len(all) == 0 {
		t.Fatalf("mmdebstrap %s %s printed no Inst lines:\n%s", variant, suite, out)
	}
	listDir := filepath.Join(target, "var/lib/apt/lists")
	lists, _ := filepath.Glob(filepath.Join(listDir, "*_dists_"+suite+"_main_binary-amd64_Packages*"))
	if len(lists) != 1 {
		t.Fatalf("mmdebstrap left %d Packages lists for %s (want 1): %v", len(lists), suite, lists)
	}
	return oracle{all: sortedKeys(all), essential: sortedKeys(essential), list: lists[0], listDir: listDir}
}

// aptSecondStage is the oracle for what mmdebstrap really does after the
// essential stage (its --simulate runs that stage from an empty status
// instead): apt-get -s install, with the same selection mmdebstrap passes,
// against a dpkg status that holds the essential stage as installed. It
// returns "name=version" of both stages, sorted.
func aptSecondStage(t *testing.T, o oracle, suite, variant, mirror string, include []string) []string {
	t.Helper()
	prio := map[string]string{
		"required":  "?and(?priority(required),?not(?essential))",
		"minbase":   "?and(?priority(required),?not(?essential))",
		"important": "?and(?or(?priority(required),?priority(important)),?not(?essential))",
		"standard":  "?and(?or(~prequired,~pimportant,~pstandard),?not(?essential))",
	}[variant]
	var sel []string
	if prio != "" {
		sel = append(sel, "?narrow(?or(?archive(^"+suite+"$),?codename(^"+suite+"$)),?architecture(amd64),"+prio+")")
	}
	sel = append(sel, include...)
	if len(sel) == 0 {
		return o.all
	}

	// The status file: the essential stage's stanzas, marked installed.
	want := map[string]bool{}
	for _, nv := range o.all {
		want[nv] = true
	}
	ess := map[string]bool{}
	for _, n := range o.essential {
		ess[n] = true
	}
	data, err := os.ReadFile(o.list)
	if err != nil {
		t.Fatal(err)
	}
	var status strings.Builder
	for _, stanza := range strings.Split(string(data), "\n\n") {
		var name, ver string
		for _, line := range strings.Split(stanza, "\n") {
			if v, ok := strings.CutPrefix(line, "Package: "); ok {
				name = v
			} else if v, ok := strings.CutPrefix(line, "Version: "); ok {
				ver = v
			}
		}
		if ess[name] && want[name+"="+ver] {
			status.WriteString(strings.TrimSpace(stanza) + "\nStatus: install ok installed\n\n")
		}
	}
	dir := t.TempDir()
	for _, d := range []string{"cache/archives/partial", "parts", "prefs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"status":       status.String(),
		"sources.list": "deb [trusted=yes] " + mirror + " " + suite + " main\n",
	}
	for f, text := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"-s",
		"-o", "Dir::State::Status=" + filepath.Join(dir, "status"),
		"-o", "Dir::State::Lists=" + o.listDir,
		"-o", "Dir::Etc::SourceList=" + filepath.Join(dir, "sources.list"),
		"-o", "Dir::Etc::SourceParts=" + filepath.Join(dir, "parts"),
		"-o", "Dir::Etc::Preferences=" + filepath.Join(dir, "prefs", "none"),
		"-o", "Dir::Etc::PreferencesParts=" + filepath.Join(dir, "prefs"),
		"-o", "Dir::Cache=" + filepath.Join(dir, "cache"),
		"-o", "Debug::NoLocking=1",
		"-o", "APT::Architecture=amd64",
		"-o", "APT::Architectures=amd64",
		// mmdebstrap's settings: no Recommends, apt not forced essential.
		"-o", "APT::Install-Recommends=false",
		"-o", "pkgCacheGen::ForceEssential=,",
		"install"}
	out, err := exec.Command("apt-get", append(args, sel...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("apt-get %v: %v\n%s", sel, err, out)
	}
	all := map[string]bool{}
	for nv := range want {
		if ess[strings.SplitN(nv, "=", 2)[0]] {
			all[nv] = true
		}
	}
	for _, line := range strings.Split(string(out), "\n") {
		if fs := strings.Fields(line); len(fs) >= 3 && fs[0] == "Inst" {
			all[strings.SplitN(fs[1], ":", 2)[0]+"="+strings.TrimPrefix(fs[2], "(")] = true
		}
	}
	return sortedKeys(all)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func requireOracle(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("oracle test downloads indexes; skipped in -short")
	}
	testenv.NeedRoot(t, "the oracle runs mmdebstrap in root mode")
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		testenv.Missing(t, "mmdebstrap not installed (apt-get install mmdebstrap)")
	}
}

func TestOracleMmdebstrap(t *testing.T) {
	requireOracle(t)
	// A server-ish include list walks many alternatives and virtual
	// packages (debconf-2.0, default-logind | logind, python3:any, ...).
	server := []string{"openssh-server", "python3", "curl", "man-db", "locales", "sudo", "vim", "iproute2", "ifupdown", "cron", "rsyslog"}
	cases := []struct {
		suite, variant string
		include        []string
	}{
		{"bookworm", "essential", nil},
		{"bookworm", "minbase", nil},
		{"bookworm", "required", nil},
		{"bookworm", "important", nil},
		{"bookworm", "standard", nil},
		{"bookworm", "minbase", server},
		{"trixie", "essential", nil},
		{"trixie", "minbase", nil},
		{"trixie", "important", nil},
		{"trixie", "standard", nil},
		{"trixie", "minbase", server},
	}
	mirror := hostMirror(t, "bookworm") // trixie lives in the same archive
	for _, c := range cases {
		name := c.suite + "/" + c.variant
		if c.include != nil {
			name += "+include"
		}
		t.Run(name, func(t *testing.T) {
			want := mmdebstrapOracle(t, c.suite, c.variant, mirror, c.include)
			pkgs := readPackagesFile(t, want.list)
			res, err := Solve(context.Background(), pkgs, "amd64", Options{Variant: Variant(c.variant), Include: c.include})
			if err != nil {
				t.Fatalf("Solve: %v", err)
			}
			var got []string
			for _, p := range res.Packages {
				got = append(got, p.Name+"="+p.Version)
			}
			slices.Sort(got)
			// mmdebstrap --simulate resolves its second stage from an
			// empty status, so with includes it may pull what an
			// essential package Provides (lsb-base, provided by
			// sysvinit-utils); a real run, and we, do not.
			if c.include == nil && !slices.Equal(got, want.all) {
				t.Errorf("%s: %d packages, mmdebstrap %d\nonly ours: %v\nonly mmdebstrap: %v",
					name, len(got), len(want.all), minus(got, want.all), minus(want.all, got))
			}
			real := aptSecondStage(t, want, c.suite, c.variant, mirror, c.include)
			if !slices.Equal(got, real) {
				t.Errorf("%s: %d packages, apt on top of the essential stage %d\nonly ours: %v\nonly apt: %v",
					name, len(got), len(real), minus(got, real), minus(real, got))
			}
			if d := minus(want.all, real); len(d) > 0 {
				t.Logf("%s: mmdebstrap --simulate adds %v that a real two-stage run does not", name, d)
			}
			ess := slices.Sorted(slices.Values(res.Essential))
			if !slices.Equal(ess, want.essential) {
				t.Errorf("%s: essential stage differs\nonly ours: %v\nonly mmdebstrap: %v",
					name, minus(ess, want.essential), minus(want.essential, ess))
			}
			t.Logf("%s: %d packages (%d essential stage)", name, len(got), len(res.Essential))
		})
	}
}

// minus returns the elements of a (sorted) that are not in b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}
