package pipeline

import (
	"errors"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/metadata"
)

// New picks the back end from the repositories' type (apt: deb, rpm-md:
// rpm), refuses an unknown type with ErrNoBackend, and one template cannot
// mix formats.
func TestNewChoosesBackend(t *testing.T) {
	tmpl := func(types ...string) *metadata.Template {
		t := &metadata.Template{Name: "t", Arch: []string{"amd64"}}
		for i, typ := range types {
			t.Repositories = append(t.Repositories, metadata.Repository{Name: []string{"main", "extra"}[i], Type: typ})
		}
		return t
	}
	p, err := New(Config{Template: tmpl(metadata.TypeApt)})
	if err != nil || p.Format() != "deb" {
		t.Fatalf("apt template: %v", err)
	}
	p, err = New(Config{Template: tmpl(metadata.TypeRPMMD)})
	if err != nil || p.Format() != "rpm" {
		t.Errorf("rpm-md template: %v", err)
	}
	_, err = New(Config{Template: tmpl("yast2")})
	if !errors.Is(err, ErrNoBackend) || !strings.Contains(err.Error(), "template t: repository main: unknown type") {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := New(Config{Template: tmpl(metadata.TypeApt, metadata.TypeRPMMD)}); err == nil || !strings.Contains(err.Error(), "one package format") {
		t.Errorf("mixed template: %v", err)
	}
	if _, err := New(Config{Template: &metadata.Template{Name: "t", Arch: []string{"amd64", "arm64"}}}); err == nil {
		t.Error("unexpanded template accepted")
	}
}
