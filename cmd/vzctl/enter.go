package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

// enterShell prefers bash, as OpenVZ's enter does, and falls back to sh.
const enterShell = `if [ -x /bin/bash ]; then exec /bin/bash -l; fi; exec /bin/sh -l`

func newEnterCommand(a *app) *cobra.Command {
	var execCmd string
	c := &cobra.Command{
		Use:   "enter CTID [--exec COMMAND [WORD...]]",
		Short: "Open a root shell in a running container",
		Long: `Open a root login shell (bash, else sh) inside the running container.

On a terminal the shell gets a new pty: the terminal is put in raw mode and
window size changes (SIGWINCH) follow to the shell; leave with "exit" or
Ctrl-D. With stdin not a terminal (a pipe, a file) no pty is made: the
shell reads its commands from stdin and ends at its end, so

  echo 'uname -a; id' | vzctl enter 101

works as a script would. vzctl exits with the shell's status.

--exec COMMAND runs COMMAND in the shell as if it were the first line
typed, as OpenVZ's enter --exec does; the words after --exec are joined
with spaces. The session goes on afterwards: leave it with "exit" (or, with
stdin not a terminal, at the end of stdin):

  vzctl enter 101 --exec top
  vzctl enter 101 --exec 'cd /var/log; ls -l'`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			command, err := enterExec(cmd, execCmd, args[1:])
			if err != nil {
				return err
			}
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			o := runtime.ExecOptions{Args: []string{enterShell}, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
			if command != "" {
				o.Stdin = io.MultiReader(strings.NewReader(command+"\n"), os.Stdin)
			}
			fd := int(os.Stdin.Fd())
			if term.IsTerminal(fd) {
				o.TTY, o.Env = true, []string{"TERM=" + termName()}
				old, err := term.MakeRaw(fd)
				if err != nil {
					return err
				}
				defer term.Restore(fd, old)
				if sz, ok := consoleSize(fd); ok {
					o.ConsoleSize = &sz
				}
				winch := make(chan os.Signal, 1)
				signal.Notify(winch, unix.SIGWINCH)
				defer signal.Stop(winch)
				resize := make(chan sandbox.ConsoleSize, 1)
				o.Resize = resize
				done := make(chan struct{})
				defer close(done)
				go func() {
					for {
						select {
						case <-winch:
							if sz, ok := consoleSize(fd); ok {
								select {
								case resize <- sz:
								case <-done:
									return
								}
							}
						case <-done:
							return
						}
					}
				}()
			}
			status, err := st.Exec(cmd.Context(), id, o)
			if err != nil {
				return ctErr(err)
			}
			return statusErr(status)
		},
	}
	// OpenVZ's form puts --exec after CTID, and the command's words after
	// it may look like flags (--exec ls -l): parsing stops at CTID and
	// enterExec reads the rest.
	c.Flags().SetInterspersed(false)
	c.Flags().StringVar(&execCmd, "exec", "", "run COMMAND in the shell first (the words after it join it)")
	return c
}

// enterExec is the command of --exec, given before CTID (flag) or after it
// (rest: "--exec", "--exec=CMD", then the command's words).
func enterExec(cmd *cobra.Command, flag string, rest []string) (string, error) {
	if len(rest) == 0 {
		return flag, nil
	}
	first, rest := rest[0], rest[1:]
	switch {
	case first == "--exec":
	case strings.HasPrefix(first, "--exec="):
		rest = append([]string{strings.TrimPrefix(first, "--exec=")}, rest...)
	default:
		return "", cli.UsageError(fmt.Errorf("enter: unexpected %q after CTID (want --exec COMMAND)", first))
	}
	if cmd.Flags().Changed("exec") {
		rest = append([]string{flag}, rest...)
	}
	if len(rest) == 0 {
		return "", cli.UsageError(fmt.Errorf("enter: --exec needs a COMMAND"))
	}
	return strings.Join(rest, " "), nil
}

func consoleSize(fd int) (sandbox.ConsoleSize, bool) {
	w, h, err := term.GetSize(fd)
	if err != nil || w <= 0 || h <= 0 {
		return sandbox.ConsoleSize{}, false
	}
	return sandbox.ConsoleSize{Rows: uint16(h), Cols: uint16(w)}, true
}

func termName() string {
	if t := os.Getenv("TERM"); t != "" {
		return t
	}
	return "xterm"
}
