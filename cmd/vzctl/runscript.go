package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/runtime"
)

func newRunscriptCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "runscript CTID FILE",
		Short: "Copy a shell script into a running container and run it",
		Long: `Copy FILE from the host into the container's /tmp under a fresh name, run
it with /bin/sh, remove it, and exit with its status.`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(cmd)
			defer cancel()
			status, err := st.RunScript(ctx, id, args[1], runtime.ExecOptions{
				Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			})
			if err != nil {
				return ctErr(err)
			}
			return statusErr(status)
		},
	}
}
