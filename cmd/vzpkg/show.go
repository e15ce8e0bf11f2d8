package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/metadata"
)

// The YAML form of a resolved template: the same keys a maintainer writes,
// in the same order, so that show's output is itself valid metadata.
type showDoc struct {
	Name         string            `yaml:"name"`
	Distro       string            `yaml:"distro"`
	Release      string            `yaml:"release"`
	Variant      string            `yaml:"variant"`
	Arch         []string          `yaml:"arch,flow"`
	Variables    map[string]string `yaml:"variables,omitempty"`
	Repositories []showRepo        `yaml:"repositories"`
	Keys         []showKey         `yaml:"keys,omitempty"`
	Packages     showPackages      `yaml:"packages"`
	Scripts      map[string]string `yaml:"scripts,omitempty"`
	Cache        showCache         `yaml:"cache"`
	Defaults     map[string]string `yaml:"defaults,omitempty"`
}

type showRepo struct {
	Name       string    `yaml:"name"`
	Type       string    `yaml:"type"`
	URL        string    `yaml:"url,omitempty"`
	Mirrors    []string  `yaml:"mirrors,omitempty"`
	Metalink   string    `yaml:"metalink,omitempty"`
	Mirrorlist string    `yaml:"mirrorlist,omitempty"`
	Suites     []string  `yaml:"suites,omitempty,flow"`
	Components []string  `yaml:"components,omitempty,flow"`
	Keys       []showKey `yaml:"keys,omitempty"`
	Insecure   bool      `yaml:"insecure,omitempty"`
}

type showKey struct {
	File        string `yaml:"file,omitempty"`
	Armored     string `yaml:"armored,omitempty"`
	URL         string `yaml:"url,omitempty"`
	Package     string `yaml:"package,omitempty"`
	Fingerprint string `yaml:"fingerprint"`
}

type showPackages struct {
	Variant string   `yaml:"variant,omitempty"`
	Include []string `yaml:"include,omitempty"`
	Exclude []string `yaml:"exclude,omitempty"`
}

type showCache struct {
	Name      string `yaml:"name"`
	ZstdLevel int    `yaml:"zstd-level"`
}

func keysDoc(ks []metadata.Key) []showKey {
	var out []showKey
	for _, k := range ks {
		file := k.File
		if k.FS != nil {
			file = "(builtin)/" + file // shipped inside vzpkg
		}
		out = append(out, showKey{File: file, Armored: k.Armored, URL: k.URL, Package: k.Package, Fingerprint: k.Fingerprint})
	}
	return out
}

func toDoc(t *metadata.Template) showDoc {
	d := showDoc{Name: t.Name, Distro: t.Distro, Release: t.Release, Variant: t.Variant, Arch: t.Arch,
		Variables: t.Variables, Keys: keysDoc(t.Keys), Defaults: t.Defaults,
		Packages: showPackages{t.Packages.Variant, t.Packages.Include, t.Packages.Exclude},
		Cache:    showCache{t.Cache.Name, t.Cache.ZstdLevel}}
	for _, r := range t.Repositories {
		d.Repositories = append(d.Repositories, showRepo{r.Name, r.Type, r.URL, r.Mirrors, r.Metalink, r.Mirrorlist, r.Suites, r.Components, keysDoc(r.Keys), r.Insecure})
	}
	for name, s := range t.Scripts {
		if d.Scripts == nil {
			d.Scripts = map[string]string{}
		}
		d.Scripts[name] = s.Body
	}
	return d
}

func newShowCommand(a *app) *cobra.Command {
	var o resolveOptions
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Print a template fully resolved: inheritance applied, variables substituted",
		Long: `Print the template NAME as vzpkg build would use it: every template it extends
merged in and every variable substituted, as YAML (or JSON with -o json).
A header says which files it came from and where each variable's value came
from: --mirror, VZKIT_MIRROR_<DISTRO>, or the host's apt sources (file:line).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cli.UsageError(errors.New("show: name exactly one template (see vzpkg list)"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := a.Format()
			if err != nil {
				return err
			}
			r, err := a.resolveTemplate(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			t := r.Template
			if f == cli.JSON {
				out := map[string]any{"template": t, "variables": r.Vars}
				if err := r.CheckKeys(); err != nil {
					out["warnings"] = strings.Split(err.Error(), "\n")
				}
				return cli.WriteJSON(cmd.OutOrStdout(), out)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "# template %s from %s\n", t.Name, t.File)
			for _, p := range t.Chain[1:] {
				fmt.Fprintf(&b, "#   extends %s\n", p)
			}
			for _, v := range r.Vars {
				fmt.Fprintf(&b, "# $%s = %s (from %s)\n", v.Name, v.Value, v.From)
			}
			if err := r.CheckKeys(); err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					fmt.Fprintf(&b, "# WARNING: %s\n", line)
				}
			}
			y, err := yaml.MarshalWithOptions(toDoc(t), yaml.UseLiteralStyleIfMultiline(true))
			if err != nil {
				return fmt.Errorf("show %s: %w", t.Name, err)
			}
			b.Write(y)
			_, err = fmt.Fprint(cmd.OutOrStdout(), b.String())
			return err
		},
	}
	addResolveFlags(c, &o)
	a.AddOutputFlag(c)
	return c
}
