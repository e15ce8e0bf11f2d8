package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/runtime"
)

func newRestartCommand(a *app) *cobra.Command {
	var o runtime.StopOptions
	var so runtime.StartOptions
	c := &cobra.Command{
		Use:   "restart CTID [--fast] [--wait] [--force]",
		Short: "Stop a container (if running) and start it again",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(cmd)
			defer cancel()
			if err := st.Restart(ctx, id, o, so); err != nil {
				return ctErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Container %s restarted\n", id)
			return nil
		},
	}
	c.Flags().BoolVar(&o.Fast, "fast", false, "kill at once, no clean shutdown")
	c.Flags().BoolVar(&so.Wait, "wait", false, "fail (exit 133) unless the boot finishes in time, as start --wait")
	c.Flags().BoolVar(&so.Force, "force", false, `start even with DISABLED="yes"`)
	return c
}
