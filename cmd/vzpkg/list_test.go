package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/cmd/internal/cli"
)

func TestList(t *testing.T) {
	root := t.TempDir()
	user := filepath.Join(root, "etc/vzkit/templates")
	// A user template extending a shipped one, and a broken one.
	write(t, filepath.Join(user, "debian-12-web.yaml"), "extends: debian-12-minimal\nvariant: web\npackages:\n  include: [nginx]\n")
	write(t, filepath.Join(user, "broken.yaml"), "distro: [x]\n")
	write(t, filepath.Join(root, "var/lib/vzkit/template/cache/debian-12-minimal.tar.zst"), "not really zstd")
	out, code, err := run(t, root, "list")
	if code != cli.ExitFailure || err == nil || !strings.Contains(err.Error(), "broken.yaml") {
		t.Errorf("a broken template must fail the listing after printing it: exit %d, %v", code, err)
	}
	rows := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(l)
		rows[f[0]] = f
	}
	for _, name := range []string{"debian-12-minimal", "debian-13-standard", "ubuntu-22.04-minimal", "fedora-42-minimal", "opensuse-leap-15.6-minimal", "debian-12-web"} {
		if rows[name] == nil {
			t.Errorf("list lacks %s:\n%s", name, out)
		}
	}
	if rows["debian-base"] != nil || rows["rpm-base"] != nil {
		t.Errorf("abstract templates listed:\n%s", out)
	}
	if got := strings.Join(rows["debian-12-minimal"], " "); got != "debian-12-minimal debian 12 amd64,arm64,armhf,i386,ppc64el,s390x minimal yes" {
		t.Errorf("row: %q", got)
	}
	if rows["debian-13-minimal"][5] != "-" || rows["debian-12-web"][4] != "web" {
		t.Errorf("rows: %v %v", rows["debian-13-minimal"], rows["debian-12-web"])
	}

	out, _, _ = run(t, root, "list", "-o", "json")
	var js []listRow
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatal(err)
	}
	for _, r := range js {
		if r.Name == "debian-12-web" && (r.Cached || r.Cache != "debian-12-web.tar.zst" || !strings.HasSuffix(r.File, "etc/vzkit/templates/debian-12-web.yaml")) {
			t.Errorf("json row: %+v", r)
		}
		if r.Name == "debian-12-minimal" && !r.Cached {
			t.Errorf("json row: %+v", r)
		}
	}
}
