package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newMountCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "mount CTID",
		Short: "Mount a container's root at VE_ROOT without starting it",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			if err := st.Mount(cmd.Context(), id); err != nil {
				return ctErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Container %s mounted\n", id)
			return nil
		},
	}
}
