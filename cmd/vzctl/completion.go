package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	cachestore "github.com/vzkit/vzkit/cache/store"
	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime"
	"github.com/vzkit/vzkit/runtime/vzlist"
)

// completeTree wires shell completion for every vzctl command by flag name
// and argument placeholder (see cli.Completers): CTIDs and names of
// existing containers, template caches, sample configs, and the fixed
// values of --layout, --onboot and the like.
func completeTree(root *cobra.Command, a *app) {
	yesNo := cli.Values("yes", "no")
	cli.CompleteTree(root, cli.Completers{
		Flag: func(cmd *cobra.Command, flag string) cobra.CompletionFunc {
			switch flag {
			case "ostemplate":
				return a.completeCaches
			case "config", "applyconfig":
				return a.completeSamples
			case "layout":
				return cli.Values("plain", "simfs", "overlay", "image", "ploop")
			case "onboot", "disabled", "privileged":
				return yesNo
			case "init":
				return cli.Values(string(runtime.InitSystemd), string(runtime.InitSysV), string(runtime.InitMinimal))
			case "features":
				return cli.Values("nesting:on", "nesting:off")
			case "output":
				if cmd.Name() == "list" {
					return completeListOutput
				}
				return cli.Values("table", "json")
			case "sort":
				return cli.ListValues(listFieldNames)
			}
			return nil
		},
		Arg: func(cmd *cobra.Command, placeholder string) cobra.CompletionFunc {
			switch {
			case cmd.Name() == "create":
				return nil // a new CTID: nothing to offer
			case placeholder == "CTID" || placeholder == "SRC":
				return a.completeContainers
			}
			return nil
		},
	})
}

// completeContainers offers the CTIDs, described by name and hostname, and
// the names.
func (a *app) completeContainers(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	st, err := a.store()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	cts, err := st.List()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, c := range cts {
		desc := strings.TrimSpace(c.Name() + " " + c.Get("HOSTNAME"))
		out = append(out, cobra.CompletionWithDesc(c.ID, desc))
		if n := c.Name(); n != "" {
			out = append(out, cobra.CompletionWithDesc(n, "container "+c.ID))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeCaches offers the template caches in TEMPLATE/cache.
func (a *app) completeCaches(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	g, err := a.Config()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, ext := range cachestore.Extensions {
		for _, name := range globNames(g.CacheDir(), "*"+ext, "", ext) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeSamples offers the NAMEs of CONFDIR/ve-NAME.conf-sample.
func (a *app) completeSamples(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	g, err := a.Config()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	names := globNames(g.Get("CONFDIR"), "ve-*.conf-sample", "ve-", ".conf-sample")
	if len(names) == 0 {
		names = []string{g.Get("CONFIGFILE")} // written on first use
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// globNames lists the regular files matching pattern in dir, as their names
// without prefix and suffix.
func globNames(dir, pattern, prefix, suffix string) []string {
	paths, _ := filepath.Glob(filepath.Join(dir, pattern))
	var out []string
	for _, p := range paths {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), prefix), suffix))
	}
	return out
}

// completeListOutput completes list -o: a format (json, table) or a list
// of fields.
func completeListOutput(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	fields, dir := cli.ListValues(listFieldNames)(cmd, args, toComplete)
	if strings.Contains(toComplete, ",") {
		return fields, dir
	}
	return append([]cobra.Completion{"json", "table"}, fields...), dir
}

// listFieldNames are the field names vzctl list -o can show now.
func listFieldNames() []string {
	var names []string
	for _, f := range vzlist.All() {
		if f.Unavailable == "" && !f.Alias {
			names = append(names, f.Name)
		}
	}
	return names
}
