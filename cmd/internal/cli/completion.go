package cli

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Completers tell, for a command, how to complete a flag (by its name) and a
// positional argument (by its placeholder in the command's Use line: CTID,
// NAME, FILE...). Either returns nil for "nothing special": a FILE
// placeholder then completes file names, any other nothing.
//
// Completion is wired by name once for the whole tree (CompleteTree), so a
// flag such as --ostemplate completes the same in every command that has it,
// and a new command gets its completions from the words of its Use line.
type Completers struct {
	Flag func(cmd *cobra.Command, flag string) cobra.CompletionFunc
	Arg  func(cmd *cobra.Command, placeholder string) cobra.CompletionFunc
}

// CompleteTree registers completions on root and every command below it.
func CompleteTree(root *cobra.Command, c Completers) {
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		if c.Flag != nil {
			// Only the flags a command defines itself: an inherited
			// persistent flag is registered once, where it is defined.
			cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if fn := c.Flag(cmd, f.Name); fn != nil {
					_ = cmd.RegisterFlagCompletionFunc(f.Name, fn)
				}
			})
		}
		if c.Arg != nil && cmd.ValidArgsFunction == nil && cmd.HasParent() {
			cmd.ValidArgsFunction = argCompletion(cmd, c.Arg)
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// Placeholders are the argument words of a Use line: "exec CTID COMMAND
// [ARG...]" has CTID, COMMAND and ARG...; flags and alternatives after a
// "|" are left out.
func Placeholders(use string) []string {
	var out []string
	for _, w := range strings.Fields(use)[1:] {
		if w == "|" {
			break
		}
		w = strings.Trim(w, "[]()")
		if w == "" || strings.HasPrefix(w, "-") || strings.ToUpper(w) != w {
			continue
		}
		if i := strings.IndexAny(w, "|="); i >= 0 {
			w = w[:i]
		}
		out = append(out, w)
	}
	return out
}

func argCompletion(cmd *cobra.Command, arg func(*cobra.Command, string) cobra.CompletionFunc) cobra.CompletionFunc {
	words := Placeholders(cmd.Use)
	return func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(words) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		i := len(args)
		if i >= len(words) {
			if !strings.HasSuffix(words[len(words)-1], "...") {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			i = len(words) - 1
		}
		w := strings.TrimSuffix(words[i], "...")
		if fn := arg(c, w); fn != nil {
			return fn(c, args, toComplete)
		}
		if w == "FILE" || w == "DIR" || w == "SCRIPT" {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// Values completes a fixed set of words.
func Values(words ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp)
}

// ListValues completes one item of a comma-separated list (-o ctid,hostname):
// the words are offered after what has been typed up to the last comma.
func ListValues(words func() []string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		done := ""
		if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
			done = toComplete[:i+1]
		}
		var out []cobra.Completion
		for _, w := range words() {
			out = append(out, done+w)
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}
