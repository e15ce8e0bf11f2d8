package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's annotated example is what maintainers copy: it must lint
// clean and resolve, so the reference never drifts from the code.
func TestREADMEExampleLintsAndResolves(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "# /etc/vzkit/templates/web-12.yaml\n"
	_, rest, ok := strings.Cut(string(readme), marker)
	if !ok {
		t.Fatalf("README lost its example (marker %q)", marker)
	}
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("README example block not closed")
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "web-12.yaml"), example)
	write(t, filepath.Join(dir, "web-12-post.sh"), "echo post-install\n")
	root := t.TempDir()
	if out, code, err := run(t, root, "lint", filepath.Join(dir, "web-12.yaml")); code != 0 || out != "" {
		t.Fatalf("README example: lint exit %d (%v):\n%s", code, err, out)
	}
	out, code, err := run(t, root, "--templates", dir, "show", "web-12", "--mirror", "http://mirror.example/debian")
	if code != 0 {
		t.Fatalf("show web-12: exit %d (%v):\n%s", code, err, out)
	}
	for _, want := range []string{"name: debian-12-amd64-web", "nginx-light", "suites: [bookworm-updates]", "url: file:///srv/repo"} {
		if !strings.Contains(out, want) {
			t.Errorf("resolved example lacks %q:\n%s", want, out)
		}
	}
}

// TestREADMESecurityModelNamesRealTests: every test the README's Security
// model cites as proof of a promise exists, in the package it names.
func TestREADMESecurityModelNamesRealTests(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Security model\n")
	if !ok {
		t.Fatal("README has no Security model section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	cited := 0
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			continue
		}
		// The tests cell: "`pkg` TestA, TestB; `pkg2` TestC ...".
		for _, group := range strings.Split(cells[3], ";") {
			pkg, names, ok := strings.Cut(strings.TrimSpace(group), "` ")
			pkg = strings.TrimPrefix(pkg, "`")
			if !ok {
				continue
			}
			names, _, _ = strings.Cut(names, " (")
			names, _, _ = strings.Cut(names, " —")
			files, _ := filepath.Glob(filepath.Join("../..", pkg, "*_test.go"))
			var src strings.Builder
			for _, f := range files {
				b, _ := os.ReadFile(f)
				src.Write(b)
			}
			for _, name := range strings.Split(names, ",") {
				name = strings.TrimSpace(name)
				if name == "" || !strings.HasPrefix(name, "Test") && !strings.HasPrefix(name, "Fuzz") {
					continue
				}
				cited++
				if !strings.Contains(src.String(), "func "+name+"(") {
					t.Errorf("README's Security model cites %s in %s, which has no such test", name, pkg)
				}
			}
		}
	}
	if cited < 20 {
		t.Errorf("only %d tests cited: the table's format changed?", cited)
	}
}
