package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newUmountCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "umount CTID",
		Short: "Unmount a stopped container's root",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			if err := st.Umount(cmd.Context(), id); err != nil {
				return ctErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Container %s unmounted\n", id)
			return nil
		},
	}
}
