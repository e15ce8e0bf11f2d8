package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/runtime"
)

func newRunscriptCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "runscript CTID FILE",
		Short: "Run a script from the host inside a container, running or stopped",
		Long: `Copy FILE from the host into the container under a fresh random name, run
it with the interpreter its first line names (#!/bin/bash, #!/usr/bin/env
python3, ...; /bin/sh when it has no #! line), remove the copy, and exit
with the script's status. The script gets vzctl's stdin, stdout and
stderr.

On a running container the script runs beside its other processes. On a
stopped container it runs as OpenVZ runs it: the container's root is
mounted, the script runs in the container's namespaces, with its
privileges but without its init (no services, no network beyond
loopback), and the root is unmounted again; the container stays stopped,
and is locked meanwhile, so it cannot be started under the script.

  vzctl runscript 101 setup.sh
  vzctl runscript 101 ./fix-fstab.sh    # on a stopped container too`,
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
