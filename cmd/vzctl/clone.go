package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/runtime"
)

func newCloneCommand(a *app) *cobra.Command {
	var o runtime.CloneOptions
	c := &cobra.Command{
		Use:   "clone SRC DST [--name N] [--hostname H]",
		Short: "Copy a stopped container under a new CTID",
		Long: `Copy the stopped container SRC (CTID or name) to the new CTID DST, all or
nothing. The copy keeps SRC's settings except IP_ADDRESS and NAME, which
must stay unique (give --name for a new one).`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			o.Src, o.Dst = id, args[1]
			ctx, cancel := signalContext(cmd)
			defer cancel()
			if err := st.Clone(ctx, o); err != nil {
				return ctErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Container %s cloned to %s\n", o.Src, o.Dst)
			return nil
		},
	}
	c.Flags().StringVar(&o.Name, "name", "", "name of the copy")
	c.Flags().StringVar(&o.Hostname, "hostname", "", "hostname of the copy (default: the source's)")
	return c
}
