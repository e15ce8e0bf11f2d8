package main

import (
	"context"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/metadata"
	"github.com/vzkit/vzkit/pipeline"
)

// TestContainerSources: the cache's apt sources get every suite on the
// public mirrors, never a build-time loopback mirror unless asked.
func TestContainerSources(t *testing.T) {
	sampleApt(t)
	t.Setenv("VZKIT_MIRROR_DEBIAN", "")
	t.Setenv("VZKIT_SECURITY_MIRROR_DEBIAN", "")
	a := &app{}
	a.Root = t.TempDir()
	ctx := context.Background()
	const loop = "http://127.0.0.1:3142/debian"
	pub := func(m, s string) string {
		return "deb " + m + " bookworm main\ndeb " + m + " bookworm-updates main\ndeb " + s + " bookworm-security main\n"
	}
	host, hostSec := "http://example.org/debian", "http://example.org/debian-security"
	for _, c := range []struct {
		name  string
		build resolveOptions
		env   string // VZKIT_MIRROR_DEBIAN
		o     sourcesOptions
		want  string
		err   string
	}{
		{name: "host mirrors", want: pub(host, hostSec)},
		{name: "loopback --mirror: the host's public mirror", build: resolveOptions{Mirror: loop}, want: pub(host, hostSec)},
		{name: "loopback from the environment", env: loop, want: pub(host, hostSec)},
		{name: "--sources-mirror", build: resolveOptions{Mirror: loop}, o: sourcesOptions{Mirror: "http://deb.example.net/debian"},
			want: pub("http://deb.example.net/debian", hostSec)},
		{name: "--sources-mirror build", build: resolveOptions{Mirror: loop}, o: sourcesOptions{Mirror: "build"}, want: pub(loop, hostSec)},
		{name: "both", build: resolveOptions{Mirror: loop, SecurityMirror: "file:///srv/sec"},
			o: sourcesOptions{SecurityMirror: "http://sec.example.net/debian-security"}, want: pub(host, "http://sec.example.net/debian-security")},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("VZKIT_MIRROR_DEBIAN", c.env)
			r, err := a.resolveTemplate(ctx, "debian-12-minimal", c.build)
			if err != nil {
				t.Fatal(err)
			}
			s, _, err := containerSources(r, c.build, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := sourcesList(s); got != c.want {
				t.Errorf("sources:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}

	// A loopback build mirror and no host entry for the distro: refused,
	// naming the flag that fixes it.
	t.Setenv("VZKIT_MIRROR_UBUNTU", "")
	build := resolveOptions{Mirror: "http://localhost:8000/ubuntu"}
	r, err := a.resolveTemplate(ctx, "ubuntu-22.04-minimal", build)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := containerSources(r, build, sourcesOptions{}); err == nil ||
		!strings.Contains(err.Error(), "--sources-mirror") || !strings.Contains(err.Error(), "localhost:8000") {
		t.Errorf("loopback Ubuntu mirror without a host entry: %v", err)
	}
	// A remote one is kept, with all three suites.
	build.Mirror = "http://ubuntu.example.net/ubuntu"
	r, err = a.resolveTemplate(ctx, "ubuntu-22.04-minimal", build)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := containerSources(r, build, sourcesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := build.Mirror
	if got, want := sourcesList(s), "deb "+m+" jammy main\ndeb "+m+" jammy-updates main\ndeb "+m+" jammy-security main\n"; got != want {
		t.Errorf("Ubuntu sources:\n%s\nwant:\n%s", got, want)
	}
}

// sourcesList renders repos as the one-line sources.list the root gets.
func sourcesList(repos []metadata.Repository) string {
	var b strings.Builder
	for _, e := range pipeline.AptSources(repos).Entries {
		b.WriteString("deb " + e.Mirror + " " + e.Suite + " " + strings.Join(e.Components, " ") + "\n")
	}
	return b.String()
}

func TestIsLocalURL(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:3142/debian": true, "http://[::1]/debian": true, "http://localhost/debian": true,
		"file:///srv/mirror": true, "http://deb.example.org/debian": false, "https://10.0.0.5/debian": false,
	} {
		if got := isLocalURL(u); got != want {
			t.Errorf("isLocalURL(%q) = %v, want %v", u, got, want)
		}
	}
}
