package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/metadata"
)

// listRow is one template in `vzpkg list -o json`.
type listRow struct {
	Name    string   `json:"name"`
	Distro  string   `json:"distro"`
	Release string   `json:"release"`
	Arch    []string `json:"arch"`
	Variant string   `json:"variant"`
	Cache   string   `json:"cache"`  // cache file for the default architecture
	Cached  bool     `json:"cached"` // whether it exists
	File    string   `json:"file"`
}

func newListCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "List the templates vzpkg can build",
		Long: `List every template found in --templates directories, /etc/vzkit/templates
(the TEMPLATES setting) and the templates shipped with vzpkg, first match by
name wins. CACHE says whether the template's cache (NAME.tar.zst in
$TEMPLATE/cache, for the architecture vzpkg build would pick) exists.
Templates only meant to be extended (abstract: true) are not listed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := a.Format()
			if err != nil {
				return err
			}
			conf, err := a.Config()
			if err != nil {
				return err
			}
			l, err := a.templateLoader()
			if err != nil {
				return err
			}
			entries, err := l.List()
			if err != nil {
				return err
			}
			var rows []listRow
			var broken []string
			for _, e := range entries {
				t, err := l.Load(cmd.Context(), e.Name)
				if errors.Is(err, metadata.ErrAbstract) {
					continue
				}
				if err != nil {
					broken = append(broken, e.File)
					continue
				}
				cache := t.CacheName(archFor(t, "").Value) + ".tar.zst"
				_, statErr := os.Stat(filepath.Join(conf.CacheDir(), cache))
				rows = append(rows, listRow{Name: t.Name, Distro: t.Distro, Release: t.Release, Arch: t.Arch,
					Variant: t.Variant, Cache: cache, Cached: statErr == nil, File: e.File})
			}
			if f == cli.JSON {
				if rows == nil {
					rows = []listRow{}
				}
				err = cli.WriteJSON(cmd.OutOrStdout(), rows)
			} else {
				table := make([][]string, 0, len(rows))
				for _, r := range rows {
					cached := "-"
					if r.Cached {
						cached = "yes"
					}
					table = append(table, []string{r.Name, r.Distro, r.Release, strings.Join(r.Arch, ","), r.Variant, cached})
				}
				err = cli.WriteTable(cmd.OutOrStdout(), []string{"NAME", "DISTRO", "RELEASE", "ARCH", "VARIANT", "CACHE"}, table)
			}
			if err != nil {
				return err
			}
			if len(broken) > 0 {
				return fmt.Errorf("%d template(s) not listed because they have problems (see vzpkg lint %s)", len(broken), strings.Join(broken, " "))
			}
			return nil
		},
	}
	a.AddOutputFlag(c)
	return c
}
