package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime"
)

func newExecCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:     "exec CTID COMMAND [ARG...]",
		Aliases: []string{"exec2"},
		Short:   "Run a command in a running container",
		Long: `Run COMMAND in the running container with the host's stdin, stdout and
stderr, and exit with its exit status (128+N when killed by signal N).
A single argument is run with "sh -c", as OpenVZ does, so that
  vzctl exec 101 'ps ax | grep init'
works; more arguments are run as they are. exec2 is the same command.`,
		Args: usageArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(cmd)
			defer cancel()
			status, err := st.Exec(ctx, id, runtime.ExecOptions{
				Args: args[1:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			})
			if err != nil {
				return ctErr(err)
			}
			return statusErr(status)
		},
	}
	c.Flags().SetInterspersed(false) // flags after CTID belong to COMMAND
	return c
}

// statusErr makes vzctl exit with a command's status, silently.
func statusErr(status int) error {
	if status == 0 {
		return nil
	}
	return cli.WithCode(status, errors.New(""))
}
