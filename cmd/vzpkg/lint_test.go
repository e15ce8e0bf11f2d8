package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/vzkit/vzkit/cmd/internal/cli"
)

func TestLintCommand(t *testing.T) {
	root := t.TempDir()
	good, _ := filepath.Glob("../../distros/templates/*.yaml")
	if len(good) == 0 {
		t.Fatal("no shipped templates")
	}
	out, code, err := run(t, root, append([]string{"lint"}, good...)...)
	if code != 0 || out != "" {
		t.Errorf("shipped templates: exit %d (%v), output:\n%s", code, err, out)
	}
	dir := t.TempDir()
	// A user template extends a shipped one by name.
	write(t, filepath.Join(dir, "ok.yaml"), "extends: debian-12-minimal\nvariant: ok\n")
	write(t, filepath.Join(dir, "bad.yaml"), "extends: debian-12-minimal\nvariant: bad\nrelase: \"13\"\nkeys:\n  - file: /x.gpg\n    fingerprint: 1234\n")
	out, code, _ = run(t, root, "lint", filepath.Join(dir, "ok.yaml"))
	if code != 0 || out != "" {
		t.Errorf("ok.yaml: exit %d, output %q", code, out)
	}
	out, code, err = run(t, root, "lint", filepath.Join(dir, "ok.yaml"), filepath.Join(dir, "bad.yaml"))
	want := filepath.Join(dir, "bad.yaml") + `:3:1: unknown key "relase" in template (did you mean "release"?)` + "\n" +
		filepath.Join(dir, "bad.yaml") + `:6:18: keys[0].fingerprint must be 40 hex digits (a v4 fingerprint), got "1234"` + "\n"
	if code != cli.ExitLint || out != want {
		t.Errorf("bad.yaml: exit %d (%v), output:\n%s\nwant:\n%s", code, err, out, want)
	}
	out, code, _ = run(t, root, "lint", "-o", "json", filepath.Join(dir, "bad.yaml"))
	var ps []lintProblem
	if err := json.Unmarshal([]byte(out), &ps); err != nil || code != cli.ExitLint || len(ps) != 2 || ps[1].Line != 6 || ps[1].Col != 18 {
		t.Errorf("json: %v %d %+v", err, code, ps)
	}
	if _, code, _ := run(t, root, "lint"); code != cli.ExitUsage {
		t.Errorf("lint without files: exit %d", code)
	}
}
