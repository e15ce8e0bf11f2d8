package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime"
)

func newStartCommand(a *app) *cobra.Command {
	var onboot bool
	var o runtime.StartOptions
	c := &cobra.Command{
		Use:   "start CTID [--wait] [--force] | --all-onboot",
		Short: "Start a container",
		Long: `Mount the container's root at VE_ROOT and start its /sbin/init (systemd or
SysV-style). An image without /sbin/init (a minbase Debian, say) runs
vzkit's minimal init, which reaps processes and ends on SIGTERM. start
returns once the init is up: systemd has finished its boot jobs
("systemctl is-system-running --wait"), SysV init has left the rc scripts
of its runlevel. No vzctl process stays behind.

A boot that takes longer than 90 seconds is logged and start returns, the
container still booting; with --wait it is an error instead (exit 133, as
OpenVZ's --wait). A container with DISABLED="yes" (vzctl set --disabled
yes) is refused with exit 105 unless --force.

--all-onboot starts every stopped container with ONBOOT="yes" and without
DISABLED="yes" (the vzkit.service unit runs it at boot).`,
		Example: `  vzctl start 101
  vzctl start 101 --wait      # exit 133 if the boot does not finish in time
  vzctl start 101 --force     # although DISABLED="yes"
  vzctl start --all-onboot`,
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
			if err := st.Start(ctx, id, o); err != nil {
				return ctErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Container %s started\n", id)
			return nil
		},
	}
	c.Flags().BoolVar(&onboot, "all-onboot", false, `start every container with ONBOOT="yes"`)
	c.Flags().BoolVar(&o.Wait, "wait", false, "fail (exit 133) unless the boot finishes in time")
	c.Flags().BoolVar(&o.Force, "force", false, `start even with DISABLED="yes"`)
	return c
}
