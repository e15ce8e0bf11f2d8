package main

import (
	"errors"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime"
)

func newExecCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:     "exec CTID COMMAND [WORD...] | exec CTID -",
		Aliases: []string{"exec2"},
		Short:   "Run a command in a running container",
		Long: `Run COMMAND in the running container, as OpenVZ's vzctl does: the words
after CTID are joined with spaces and run by the container's shell
(/bin/sh -c), so pipes, redirections and variables work as typed and
are expanded inside the container, not by the host's shell. Quote them
for the host's shell:

  vzctl exec 101 'ps ax | grep init'
  vzctl exec 101 cat /etc/os-release
  vzctl exec 101 'echo $HOSTNAME'

"-" in place of COMMAND runs the commands read from stdin:

  vzctl exec 101 - <<'EOF'
  apt-get update
  apt-get -y install nginx
  EOF

The command gets the host's stdin, stdout and stderr, and vzctl exits with
its exit status (128+N when it was killed by signal N). exec2 is the same
command: in OpenVZ exec2 returns the command's status and exec returns 8
on any failure; vzkit's exec returns the command's status too, which
scripts written for either form can test.`,
		Args: usageArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			o := runtime.ExecOptions{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
			if len(args) == 2 && args[1] == "-" {
				o.Args = []string{"/bin/sh", "-s"}
			} else {
				o.Args = []string{strings.Join(args[1:], " ")} // one element: sh -c
			}
			ctx, cancel := signalContext(cmd)
			defer cancel()
			status, err := st.Exec(ctx, id, o)
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
