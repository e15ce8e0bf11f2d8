package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// complete asks the vzctl binary for completions, as the shell scripts of
// "vzctl completion bash" do, and returns the words (descriptions cut).
func (e *env) complete(args ...string) []string {
	e.t.Helper()
	out := e.ok(append([]string{"__complete"}, args...)...)
	var words []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, ":") { // the directive line
			continue
		}
		w, _, _ := strings.Cut(l, "\t")
		words = append(words, w)
	}
	return words
}

func TestCompletion(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "101", "--ostemplate", "debian-12-minimal", "--name", "web", "--hostname", "web.example")
	e.ok("create", "102", "--ostemplate", "debian-12-minimal", "--layout", "overlay")
	if err := os.WriteFile(e.path("etc/vzkit/conf/ve-vswap-256m.conf-sample"), []byte("PHYSPAGES=\"0:256M\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want []string // exactly, in order
		has  []string // at least
	}{
		{args: []string{"start", ""}, want: []string{"101", "web", "102"}},
		{args: []string{"exec", ""}, want: []string{"101", "web", "102"}},
		{args: []string{"exec", "101", ""}, want: nil}, // the command: nothing of ours
		{args: []string{"clone", ""}, want: []string{"101", "web", "102"}},
		{args: []string{"clone", "101", ""}, want: nil}, // a new CTID
		{args: []string{"create", ""}, want: nil},
		{args: []string{"create", "103", "--ostemplate", ""}, want: []string{"debian-12-minimal"}},
		{args: []string{"create", "103", "--config", ""}, want: []string{"basic", "vswap-1g", "vswap-256m", "vswap-2g", "vswap-512m"}},
		{args: []string{"create", "103", "--layout", ""}, want: []string{"plain", "simfs", "overlay", "image", "ploop"}},
		{args: []string{"set", "101", "--onboot", ""}, want: []string{"yes", "no"}},
		{args: []string{"set", "101", "--init", ""}, want: []string{"systemd", "sysvinit", "minimal"}},
		{args: []string{"list", "-o", ""}, has: []string{"json", "table", "ctid", "hostname", "status"}},
		{args: []string{"list", "-o", "ctid,"}, has: []string{"ctid,hostname", "ctid,ip"}},
		{args: []string{"status", "-o", ""}, want: []string{"table", "json"}},
	} {
		got := e.complete(c.args...)
		if c.has == nil && !slices.Equal(got, c.want) {
			t.Errorf("complete %q: %q, want %q", c.args, got, c.want)
		}
		for _, w := range c.has {
			if !slices.Contains(got, w) {
				t.Errorf("complete %q: %q lacks %q", c.args, got, w)
			}
		}
		if slices.Contains(c.args[:len(c.args)-1], "-o") && strings.HasSuffix(c.args[len(c.args)-1], ",") && slices.Contains(got, "ctid,json") {
			t.Errorf("complete %q offers a format after a field: %q", c.args, got)
		}
	}
}
