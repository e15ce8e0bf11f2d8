package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newDestroyCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "destroy CTID",
		Aliases: []string{"delete"},
		Short:   "Remove a stopped container",
		Long: `Remove the container's private area and rename its CTID.conf to
CTID.conf.destroyed. A running container is refused (exit 32).`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(cmd)
			defer cancel()
			if err := st.Destroy(ctx, id); err != nil {
				return ctErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Container %s destroyed\n", id)
			return nil
		},
	}
}
