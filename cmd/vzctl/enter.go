package main

import (
	"os"
	"os/signal"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/vzkit/vzkit/runtime"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

// enterShell prefers bash, as OpenVZ's enter does, and falls back to sh.
const enterShell = `if [ -x /bin/bash ]; then exec /bin/bash -l; fi; exec /bin/sh -l`

func newEnterCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "enter CTID",
		Short: "Open an interactive root shell in a running container",
		Long: `Open a root login shell on a new pty inside the running container. The
terminal is put in raw mode and window size changes (SIGWINCH) follow to
the shell; leave with "exit" or Ctrl-D. vzctl exits with the shell's status.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			o := runtime.ExecOptions{
				Args: []string{enterShell}, Stdin: os.Stdin, Stdout: os.Stdout, TTY: true,
				Env: []string{"TERM=" + termName()},
			}
			fd := int(os.Stdin.Fd())
			if term.IsTerminal(fd) {
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
