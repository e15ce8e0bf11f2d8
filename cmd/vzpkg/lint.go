package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
)

// lintProblem is one problem in `vzpkg lint -o json`.
type lintProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

func newLintCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "lint FILE...",
		Short: "Check template metadata files and report every problem",
		Long: `Check template metadata files and print every problem as FILE:LINE:COL: message:
unknown keys (with a suggestion), missing or wrongly typed fields, malformed
URLs, bad fingerprints, unknown variables, missing script or key files,
broken or cyclic extends, bad architectures and zstd levels. A template may
extend templates beside it, in --templates directories, /etc/vzkit/templates
or the shipped ones. Files without problems print nothing.

Exit codes: 0 no problems, 3 problems found, 2 bad command line.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cli.UsageError(errors.New("lint: name at least one FILE"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := a.Format()
			if err != nil {
				return err
			}
			l, err := a.templateLoader()
			if err != nil {
				return err
			}
			probs := l.Lint(cmd.Context(), args...)
			if f == cli.JSON {
				out := make([]lintProblem, 0, len(probs))
				for _, p := range probs {
					out = append(out, lintProblem{p.Pos.File, p.Pos.Line, p.Pos.Col, p.Message})
				}
				if err := cli.WriteJSON(cmd.OutOrStdout(), out); err != nil {
					return err
				}
			} else {
				for _, p := range probs {
					fmt.Fprintln(cmd.OutOrStdout(), p.String())
				}
			}
			if len(probs) > 0 {
				return cli.WithCode(cli.ExitLint, fmt.Errorf("%d problem(s) found", len(probs)))
			}
			return nil
		},
	}
	a.AddOutputFlag(c)
	return c
}
