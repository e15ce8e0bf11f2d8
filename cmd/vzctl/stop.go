package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/runtime"
)

func newStopCommand(a *app) *cobra.Command {
	var o runtime.StopOptions
	c := &cobra.Command{
		Use:   "stop CTID [--fast] [--skip-umount]",
		Short: "Stop a container",
		Long: `Shut the container down cleanly through its init (SIGRTMIN+3 to systemd,
a "telinit 0" request to SysV init, SIGTERM to vzkit's minimal init), kill what is left
after STOP_TIMEOUT seconds (of CTID.conf, else of vz.conf; 60 by default),
and unmount its root. --fast kills at once; --skip-umount leaves the root
mounted at VE_ROOT (status "mounted"; vzctl umount unmounts it).`,
		Example: `  vzctl stop 101
  vzctl stop 101 --fast
  vzctl stop 101 --skip-umount && ls /var/lib/vzkit/root/101`,
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
	c.Flags().BoolVar(&o.SkipUmount, "skip-umount", false, "leave the root mounted after the stop")
	return c
}
