package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime"
)

func newCheckCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "check",
		Short: "Tell whether this host can checkpoint, restore and live-migrate containers",
		Long: `Run the CRIU that vz.conf's CRIU names ("criu" on PATH by default) the way
chkpnt, restore and migrate --online will: criu --version, criu check, and
its checks of the two features that shorten a live migration's frozen
window — memory dirty tracking (iterative pre-dump: copy memory while the
container runs) and lazy pages (post-copy: restore first, fetch memory as it
is touched). Prints what works and, for what does not, criu's own reason;
-o json prints an object.

Exits 0 when checkpoints work, 16 (OpenVZ's "checkpointing failed") when
they do not. Debian 12's criu 3.17 fails criu check on current kernels:
scripts/criu in vzkit's source installs CRIU 4 beside the system.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := a.Format()
			if err != nil {
				return err
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			cs, err := st.CheckCheckpoint(cmd.Context())
			if err != nil {
				return err
			}
			if f == cli.JSON {
				err = cli.WriteJSON(cmd.OutOrStdout(), cs)
			} else {
				printCheck(cmd.OutOrStdout(), cs)
			}
			if err == nil && !cs.Works {
				err = ctErr(fmt.Errorf("%w: %s", runtime.ErrCheckpointUnsupported, cs.Why))
			}
			return err
		},
	}
	a.AddOutputFlag(c)
	return c
}

func printCheck(w io.Writer, cs runtime.CheckpointSupport) {
	yes := func(ok bool, why string) string {
		if ok {
			return "yes"
		}
		if why == "" {
			return "no"
		}
		return "no: " + why
	}
	if !cs.Works {
		fmt.Fprintf(w, "checkpoint/restore: %s\n", yes(false, cs.Why))
		return
	}
	fmt.Fprintf(w, "checkpoint/restore: yes (%s, %s)\n", cs.CRIU, cs.Version)
	fmt.Fprintf(w, "iterative pre-dump (memory dirty tracking): %s\n", yes(cs.PreDump, cs.PreDumpWhy))
	fmt.Fprintf(w, "post-copy restore (lazy pages): %s\n", yes(cs.LazyPages, cs.LazyPagesWhy))
}
