package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime"
)

func newStatusCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "status CTID",
		Short: "Print whether a container exists, is mounted and runs",
		Long: `Print OpenVZ's one-line status, e.g. "CTID 101 exist mounted running" or
"CTID 101 deleted unmounted down"; -o json prints an object. status exits
0 whatever the state.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := a.Format()
			if err != nil {
				return err
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			id, err := st.Resolve(args[0])
			if errors.Is(err, runtime.ErrNotExist) {
				id, err = args[0], nil // an unknown name reads as deleted
			}
			if err != nil {
				return ctErr(err)
			}
			s, err := st.StatusOf(id)
			if err != nil {
				return ctErr(err)
			}
			if f == cli.JSON {
				return cli.WriteJSON(cmd.OutOrStdout(), s)
			}
			fmt.Fprintln(cmd.OutOrStdout(), s.String())
			return nil
		},
	}
	a.AddOutputFlag(c)
	return c
}
