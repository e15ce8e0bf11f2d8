package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/repo/aptsources"
)

func TestShowMirrorOrigin(t *testing.T) {
	sampleApt(t)
	root := t.TempDir()
	t.Setenv("VZKIT_MIRROR_DEBIAN", "")
	out, code, err := run(t, root, "show", "debian-13-standard")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
	for _, want := range []string{
		"# $mirror = http://example.org/debian (from " + hostAptDir + "/sources.list.d/debian.sources:2)",
		"# $security_mirror = http://example.org/debian-security (from " + hostAptDir + "/sources.list.d/debian.sources:7)",
		"#   extends (builtin)/templates/debian-13-minimal.yaml",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
	// The YAML part is metadata again: parse it and check the substituted values.
	var doc showDoc
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Repositories) != 2 || doc.Repositories[1].URL != "http://example.org/debian-security" ||
		doc.Repositories[1].Suites[0] != "trixie-security" || strings.Join(doc.Repositories[0].Suites, " ") != "trixie trixie-updates" {
		t.Errorf("resolved repositories: %+v", doc.Repositories)
	}

	// The environment beats the apt sources; the flag beats both.
	t.Setenv("VZKIT_MIRROR_DEBIAN", "http://env.example.org/debian/")
	out, _, _ = run(t, root, "show", "debian-12-minimal")
	if !strings.Contains(out, "# $mirror = http://env.example.org/debian (from VZKIT_MIRROR_DEBIAN)") {
		t.Errorf("env mirror:\n%s", out)
	}
	out, _, _ = run(t, root, "show", "debian-12-minimal", "--mirror", "http://flag.example.org/debian", "--arch", "arm64")
	if !strings.Contains(out, "# $mirror = http://flag.example.org/debian (from --mirror)") || !strings.Contains(out, "# $arch = arm64 (from --arch)") {
		t.Errorf("flag mirror:\n%s", out)
	}
}

// TestShowHostSources resolves against this machine's real apt sources.
func TestShowHostSources(t *testing.T) {
	es, err := aptsources.ReadHost(hostAptDir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := aptsources.Pick(es, aptsources.Query{Distro: "debian", Suite: "bookworm"})
	if err != nil {
		t.Skipf("this host lists no Debian archive: %v", err)
	}
	t.Setenv("VZKIT_MIRROR_DEBIAN", "")
	out, code, err := run(t, t.TempDir(), "show", "debian-12-minimal")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
	want := "# $mirror = " + strings.TrimRight(m.URI, "/") + " (from " + m.Origin() + ")"
	if !strings.Contains(out, want) {
		t.Errorf("want %q in:\n%s", want, out)
	}
	if strings.Contains(out, "WARNING") && fileExists("/usr/share/keyrings/debian-archive-keyring.gpg") {
		t.Errorf("unexpected warning:\n%s", out)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestShowUbuntuNeedsMirror(t *testing.T) {
	sampleApt(t)
	t.Setenv("VZKIT_MIRROR_UBUNTU", "")
	_, code, err := run(t, t.TempDir(), "show", "ubuntu-22.04-minimal")
	if code != cli.ExitFailure || err == nil || !strings.Contains(err.Error(), "--mirror") || !strings.Contains(err.Error(), "VZKIT_MIRROR_UBUNTU") {
		t.Fatalf("exit %d, %v: want a failure naming --mirror and VZKIT_MIRROR_UBUNTU", code, err)
	}
	t.Setenv("VZKIT_MIRROR_UBUNTU", "http://example.org/ubuntu")
	out, code, err := run(t, t.TempDir(), "show", "-o", "json", "ubuntu-22.04-minimal")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
	var got struct {
		Template struct {
			Repositories []struct {
				URL    string
				Suites []string
			}
			Keys []struct{ File, Fingerprint string }
		}
		Variables []varValue
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Template.Repositories[0].URL != "http://example.org/ubuntu" || got.Template.Repositories[0].Suites[0] != "jammy" {
		t.Errorf("json: %+v", got.Template)
	}
	if len(got.Template.Keys) != 1 || got.Template.Keys[0].File != "keys/ubuntu-archive-keyring.gpg" {
		t.Errorf("shipped key: %+v", got.Template.Keys)
	}
	found := false
	for _, v := range got.Variables {
		found = found || (v.Name == "mirror" && v.From == "VZKIT_MIRROR_UBUNTU")
	}
	if !found {
		t.Errorf("variables: %+v", got.Variables)
	}
}

func TestShowMissingKeyNamesPackage(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "mine.yaml"), `extends: debian-12-minimal
keys: !replace
  - file: `+dir+`/no-such-keyring.gpg
    package: debian-archive-keyring
    fingerprint: B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8
`)
	a := &app{templateDirs: []string{dir}}
	a.Root = t.TempDir()
	r, err := a.resolveTemplate(context.Background(), "mine", resolveOptions{Mirror: "http://example.org/debian"})
	if err != nil {
		t.Fatal(err)
	}
	err = r.CheckKeys()
	if err == nil || !strings.Contains(err.Error(), "no-such-keyring.gpg") || !strings.Contains(err.Error(), "install the package debian-archive-keyring") {
		t.Errorf("CheckKeys: %v", err)
	}
}
