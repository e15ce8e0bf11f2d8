package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/distros"
	"github.com/vzkit/vzkit/internal/namedfile"
	"github.com/vzkit/vzkit/metadata"
	"github.com/vzkit/vzkit/repo/aptsources"
)

// hostAptDir is where the host's apt sources are read from. It is not
// under --vzkit-root/VZKIT_ROOT on purpose: the mirror the host itself uses is
// the default even for a prefixed vzkit tree. Tests point it elsewhere.
var hostAptDir = "/etc/apt"

// templateLoader looks templates up, first match wins, in: --templates
// directories, the TEMPLATES setting (/etc/vzkit/templates under the root
// prefix), and the templates shipped inside vzpkg.
func (a *app) templateLoader() (*metadata.Loader, error) {
	conf, err := a.Config()
	if err != nil {
		return nil, err
	}
	l := &metadata.Loader{}
	for _, d := range a.templateDirs {
		st, err := os.Stat(d)
		if err != nil || !st.IsDir() {
			return nil, cli.UsageError(fmt.Errorf("--templates %s: not a directory", d))
		}
		l.Sources = append(l.Sources, metadata.DirSource(d))
	}
	if d := conf.Get("TEMPLATES"); d != "" {
		l.Sources = append(l.Sources, metadata.DirSource(d))
	}
	l.Sources = append(l.Sources, metadata.Source{Name: "(builtin)", FS: distros.Metadata(), Dir: distros.TemplateDir})
	return l, nil
}

// resolveOptions are the command-line choices that feed a template's
// variables; build and show share them.
type resolveOptions struct {
	Mirror         string // --mirror: $mirror
	SecurityMirror string // --security-mirror: $security_mirror
	Arch           string // --arch: $arch
	// hostOnly takes the mirrors from the host's apt sources alone, past
	// VZKIT_MIRROR_* (see containerSources).
	hostOnly bool
}

func addResolveFlags(c *cobra.Command, o *resolveOptions) {
	f := c.Flags()
	f.StringVar(&o.Mirror, "mirror", "", "archive URL for $mirror (default: $VZKIT_MIRROR_<DISTRO>, else the host's apt sources)")
	f.StringVar(&o.SecurityMirror, "security-mirror", "", "security archive URL for $security_mirror (default: $VZKIT_SECURITY_MIRROR_<DISTRO>, else the host's apt sources)")
	f.StringVar(&o.Arch, "arch", "", "architecture to build for (default: the host's when the template lists it, else the template's first)")
}

// varValue is one resolved variable and where its value came from:
// "--mirror", "VZKIT_MIRROR_DEBIAN", "/etc/apt/sources.list.d/debian.sources:3", ...
type varValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	From  string `json:"from"`
}

// resolvedTemplate is a template ready to build: Template has inheritance
// applied and variables substituted; Vars says where each supplied
// variable came from.
type resolvedTemplate struct {
	Template *metadata.Template
	Vars     []varValue
	// Unexpanded is Template before variable substitution, to expand
	// again with other values (the cache's own apt sources).
	Unexpanded *metadata.Template
}

// CheckKeys reports host key files the template names that are missing,
// naming the host package that provides each (debian-archive-keyring for
// Debian), or that could not be read (a symlink, a FIFO, a device), without
// opening them: a build cannot verify anything without them.
func (r *resolvedTemplate) CheckKeys() error {
	var errs []error
	seen := map[string]bool{}
	check := func(k metadata.Key) {
		if k.FS != nil || k.File == "" || seen[k.File] {
			return
		}
		seen[k.File] = true
		if err := namedfile.Check(k.File); err != nil {
			msg := fmt.Sprintf("%s: template %s: key file %v", k.Pos, r.Template.Name, err)
			if errors.Is(err, fs.ErrNotExist) && k.Package != "" {
				msg += fmt.Sprintf(" (install the package %s)", k.Package)
			}
			errs = append(errs, errors.New(msg))
		}
	}
	for _, k := range r.Template.Keys {
		check(k)
	}
	for _, repo := range r.Template.Repositories {
		for _, k := range repo.Keys {
			check(k)
		}
	}
	return errors.Join(errs...)
}

// resolveTemplate finds a template by name (see templateLoader), resolves
// the variables it uses ($mirror, $security_mirror, $arch) and expands it.
// It is what `vzpkg build` and `vzpkg show` call.
func (a *app) resolveTemplate(ctx context.Context, name string, o resolveOptions) (*resolvedTemplate, error) {
	l, err := a.templateLoader()
	if err != nil {
		return nil, err
	}
	t, err := l.Load(ctx, name)
	if err != nil {
		return nil, err
	}
	return resolveVars(t, o)
}

func resolveVars(t *metadata.Template, o resolveOptions) (*resolvedTemplate, error) {
	r := &resolvedTemplate{}
	values := map[string]string{}
	arch := archFor(t, o.Arch)
	values["arch"] = arch.Value
	r.Vars = append(r.Vars, arch)
	var entries []aptsources.Entry
	var entriesErr error
	entriesRead := false
	for _, name := range t.Referenced() {
		if name == "arch" {
			continue
		}
		security := name == "security_mirror"
		flag, env := "--mirror", "VZKIT_MIRROR_"+envName(t.Distro)
		given := o.Mirror
		if security {
			flag, env, given = "--security-mirror", "VZKIT_SECURITY_MIRROR_"+envName(t.Distro), o.SecurityMirror
		}
		v := varValue{Name: name}
		switch {
		case given != "":
			v.Value, v.From = given, flag
		case os.Getenv(env) != "" && !o.hostOnly:
			v.Value, v.From = os.Getenv(env), env
		default:
			if !entriesRead {
				entries, entriesErr = aptsources.ReadHost(hostAptDir)
				entriesRead = true
			}
			if entriesErr != nil {
				return nil, fmt.Errorf("template %s needs $%s: give %s URL or set %s (%w)", t.Name, name, flag, env, entriesErr)
			}
			m, err := aptsources.Pick(entries, aptsources.Query{Distro: t.Distro, Suite: t.Variables["codename"], Security: security})
			if err != nil {
				return nil, fmt.Errorf("template %s needs $%s: give %s URL or set %s (%v under %s)", t.Name, name, flag, env, err, hostAptDir)
			}
			v.Value, v.From = m.URI, m.Origin()
		}
		v.Value = strings.TrimRight(v.Value, "/")
		values[name] = v.Value
		r.Vars = append(r.Vars, v)
	}
	x, err := t.Expand(values)
	if err != nil {
		return nil, err
	}
	r.Template, r.Unexpanded = x, t
	return r, nil
}

// archFor picks the architecture: --arch, else the host's (in the
// template's naming: amd64 or x86_64), else the template's first.
func archFor(t *metadata.Template, flag string) varValue {
	if flag != "" {
		return varValue{Name: "arch", Value: flag, From: "--arch"}
	}
	names := map[string][]string{"amd64": {"amd64", "x86_64"}, "arm64": {"arm64", "aarch64"}, "386": {"i386", "i686"},
		"ppc64le": {"ppc64el", "ppc64le"}, "s390x": {"s390x"}, "riscv64": {"riscv64"}, "loong64": {"loong64"}}[runtime.GOARCH]
	for _, n := range names {
		for _, a := range t.Arch {
			if a == n {
				return varValue{Name: "arch", Value: a, From: "host"}
			}
		}
	}
	if len(t.Arch) == 0 {
		return varValue{Name: "arch", From: "template"}
	}
	return varValue{Name: "arch", Value: t.Arch[0], From: "template (first listed)"}
}

// envName turns a distro name into the suffix of its variables:
// centos-stream -> CENTOS_STREAM.
func envName(distro string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, distro)
}
