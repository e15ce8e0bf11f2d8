package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cache/sign"
	"github.com/vzkit/vzkit/cmd/internal/cli"
)

func newCacheSignCommand(a *app) *cobra.Command {
	var keyFile string
	c := &cobra.Command{
		Use:   "sign NAME --key SECRETKEYFILE",
		Short: "Write an OpenPGP signature of a cache",
		Long: `Sign the cache with the secret key in SECRETKEYFILE (armored or binary, as
"gpg --export-secret-keys" writes it) and write the armored detached
signature NAME.tar.zst.asc beside it, replacing any earlier one; "gpg
--verify NAME.tar.zst.asc NAME.tar.zst" checks it. The cache must match its
manifest (size and SHA-256) or nothing is written. Only keys without a
passphrase are supported for now.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return cli.UsageError(fmt.Errorf("--key SECRETKEYFILE is required"))
			}
			p, err := a.cachePath(args[0])
			if err != nil {
				return err
			}
			s, err := sign.LoadSigner(keyFile)
			if err != nil {
				return err
			}
			asc, err := s.SignCache(cmd.Context(), p)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s with key %s: %s\n", p, s.Fingerprint(), asc)
			return nil
		},
	}
	c.Flags().StringVar(&keyFile, "key", "", "secret key file without a passphrase")
	return c
}
