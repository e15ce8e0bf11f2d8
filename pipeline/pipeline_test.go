package pipeline

import (
	"errors"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/metadata"
)

// New picks the back end from the repositories' type: rpm-md has none yet
// (ErrNoBackend, naming the template and repository), and one template
// cannot mix formats.
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
	_, err = New(Config{Template: tmpl(metadata.TypeRPMMD)})
	if !errors.Is(err, ErrNoBackend) || !strings.Contains(err.Error(), "template t: repository main is rpm-md") {
		t.Errorf("rpm-md template: %v", err)
	}
	if _, err := New(Config{Template: tmpl(metadata.TypeApt, metadata.TypeRPMMD)}); err == nil || !strings.Contains(err.Error(), "one package format") {
		t.Errorf("mixed template: %v", err)
	}
	if _, err := New(Config{Template: &metadata.Template{Name: "t", Arch: []string{"amd64", "arm64"}}}); err == nil {
		t.Error("unexpanded template accepted")
	}
}
