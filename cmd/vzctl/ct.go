package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime"
)

// store opens the container store of the effective configuration.
func (a *app) store() (*runtime.Store, error) {
	g, err := a.Config()
	if err != nil {
		return nil, err
	}
	level := slog.LevelWarn
	if a.Verbose {
		level = slog.LevelInfo
	}
	st := runtime.NewStore(g)
	st.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	n, err := newNetwork(g)
	if err != nil {
		return nil, err
	}
	if n != nil { // a nil *network in the interface would not read as nil
		st.Net = n
	}
	return st, nil
}

// container opens the store and resolves a CTID or container name.
func (a *app) container(arg string) (*runtime.Store, string, error) {
	st, err := a.store()
	if err != nil {
		return nil, "", err
	}
	id, err := st.Resolve(arg)
	if err != nil {
		return nil, "", ctErr(err)
	}
	return st, id, nil
}

// signalContext ends on SIGINT or SIGTERM, so that an interrupted
// operation cleans up after itself instead of dying midway.
func signalContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, unix.SIGINT, unix.SIGTERM)
}

// usageArgs wraps a cobra argument check so that a wrong count is a usage
// error (exit 20).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		return cli.UsageError(check(cmd, args))
	}
}
