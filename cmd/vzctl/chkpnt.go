package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newChkpntCommand(a *app) *cobra.Command {
	var dumpfile string
	c := &cobra.Command{
		Use:     "chkpnt CTID [--dumpfile DIR]",
		Aliases: []string{"suspend"},
		Short:   "Save a running container's whole state to a dump and stop it",
		Long: `Freeze the running container and save it with CRIU — processes, memory,
open files, established TCP connections, file locks — into a dump, then
stop it. The dump is a directory: DUMPDIR/Dump.CTID (vz.conf's DUMPDIR,
/var/lib/vzkit/dump by default) unless --dumpfile names another. It appears
only once complete; a failed checkpoint leaves the container running.

vzctl restore (or start, for the default dump: OpenVZ's VE_STOP_MODE=suspend)
resumes it. vzctl check says whether this host can checkpoint. Not yet:
unprivileged containers (the default; PRIVILEGED="yes" ones can) and
containers with a network interface; both are refused with exit 16 and keep
running.`,
		Example: `  vzctl chkpnt 101
  vzctl restore 101
  vzctl chkpnt 101 --dumpfile /srv/dumps/101`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(cmd)
			defer cancel()
			if err := st.Checkpoint(ctx, id, dumpfile); err != nil {
				return ctErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Container %s was checkpointed to %s\n", id, st.DumpPath(id, dumpfile))
			return nil
		},
	}
	c.Flags().StringVar(&dumpfile, "dumpfile", "", "the dump directory (default DUMPDIR/Dump.CTID)")
	return c
}

func newRestoreCommand(a *app) *cobra.Command {
	var dumpfile string
	c := &cobra.Command{
		Use:     "restore CTID [--dumpfile DIR]",
		Aliases: []string{"resume"},
		Short:   "Resume a container from the dump vzctl chkpnt made",
		Long: `Set the container up as start does — root mounted, disk quota, cgroup and
limits from its configuration — and have CRIU resume its processes from the
dump (DUMPDIR/Dump.CTID unless --dumpfile names another), which is removed
once the container runs. A failed restore keeps the dump (exit 17).`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(cmd)
			defer cancel()
			if err := st.Restore(ctx, id, dumpfile); err != nil {
				return ctErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Container %s was restored\n", id)
			return nil
		},
	}
	c.Flags().StringVar(&dumpfile, "dumpfile", "", "the dump directory (default DUMPDIR/Dump.CTID)")
	return c
}
