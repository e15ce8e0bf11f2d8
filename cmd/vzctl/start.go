package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
)

func newStartCommand(a *app) *cobra.Command {
	var onboot bool
	c := &cobra.Command{
		Use:   "start CTID | --all-onboot",
		Short: "Start a container",
		Long: `Mount the container's root at VE_ROOT and start its /sbin/init (systemd or
SysV-style). An image without /sbin/init (a minbase Debian, say) runs
vzkit's minimal init, which reaps processes and ends on SIGTERM. start
returns once the init is running; no vzctl process stays behind.

--all-onboot starts every stopped container with ONBOOT="yes" (the
vzkit.service unit runs it at boot).`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext(cmd)
			defer cancel()
			if onboot {
				if len(args) != 0 {
					return cli.UsageError(fmt.Errorf("--all-onboot takes no CTID"))
				}
				st, err := a.store()
				if err != nil {
					return err
				}
				started, err := st.StartOnBoot(ctx)
				for _, id := range started {
					fmt.Fprintf(cmd.OutOrStdout(), "Container %s started\n", id)
				}
				return ctErr(err)
			}
			if len(args) != 1 {
				return cli.UsageError(fmt.Errorf("start needs a CTID or --all-onboot"))
			}
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			if err := st.Start(ctx, id); err != nil {
				return ctErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Container %s started\n", id)
			return nil
		},
	}
	c.Flags().BoolVar(&onboot, "all-onboot", false, `start every container with ONBOOT="yes"`)
	return c
}
