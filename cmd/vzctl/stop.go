package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/runtime"
)

func newStopCommand(a *app) *cobra.Command {
	var o runtime.StopOptions
	c := &cobra.Command{
		Use:   "stop CTID [--fast]",
		Short: "Stop a container",
		Long: `Shut the container down cleanly through its init (SIGRTMIN+3 to systemd,
a "telinit 0" request to SysV init, SIGTERM to vzkit's minimal init), kill what is left
after STOP_TIMEOUT seconds of vz.conf, and unmount its root. --fast kills
at once.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(cmd)
			defer cancel()
			if err := st.Stop(ctx, id, o); err != nil {
				return ctErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Container %s stopped\n", id)
			return nil
		},
	}
	c.Flags().BoolVar(&o.Fast, "fast", false, "kill at once, no clean shutdown")
	return c
}
