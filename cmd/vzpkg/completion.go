package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/metadata"
)

// completeTree wires shell completion for every vzpkg command by flag name
// and argument placeholder (see cli.Completers): template names for the
// commands that build, cache names under "vzpkg cache".
func completeTree(root *cobra.Command, a *app) {
	cli.CompleteTree(root, cli.Completers{
		Flag: func(cmd *cobra.Command, flag string) cobra.CompletionFunc {
			switch flag {
			case "tmpfs":
				return cli.Values("auto", "always", "never")
			case "output":
				return cli.Values("table", "json")
			}
			return nil
		},
		Arg: func(cmd *cobra.Command, placeholder string) cobra.CompletionFunc {
			if placeholder != "NAME" {
				return nil
			}
			if cmd.Parent() != nil && cmd.Parent().Name() == "cache" {
				return a.completeCaches
			}
			return a.completeTemplates
		},
	})
}

// completeTemplates offers the templates that can be built (abstract ones,
// which only exist to be extended, left out).
func (a *app) completeTemplates(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	l, err := a.templateLoader()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ents, err := l.List()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, e := range ents {
		if _, err := l.Load(cmd.Context(), e.Name); errors.Is(err, metadata.ErrAbstract) {
			continue
		}
		out = append(out, e.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeCaches offers the caches of TEMPLATE/cache.
func (a *app) completeCaches(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	st, err := a.cacheStore()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ents, err := st.List(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, e := range ents {
		out = append(out, cobra.CompletionWithDesc(e.Name, e.Distro+" "+e.Release))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
