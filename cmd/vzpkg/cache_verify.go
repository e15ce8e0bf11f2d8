package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cache/sign"
)

func newCacheVerifyCommand(a *app) *cobra.Command {
	var keys keyringFlags
	c := &cobra.Command{
		Use:   "verify NAME... [--keyring FILE]",
		Short: "Check caches against their manifest and signature",
		Long: `Check each cache: its manifest is there and parses, the file's size and
SHA-256 match the manifest, and, when a keyring is given, NAME.tar.zst.asc
is a good OpenPGP signature by one of its keys. The keyring is --keyring
(repeatable), else vz.conf's CACHE_KEYRING when set; --fingerprint accepts
only the listed keys of it. Without a keyring the signature is not checked.
Prints each check that passed; exits 1 naming the file and what failed.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			conf, err := a.Config()
			if err != nil {
				return err
			}
			kr, krName, err := keys.load(conf, true)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var errs []error
			for _, arg := range args {
				p, err := a.cachePath(arg)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				r, err := sign.Verify(cmd.Context(), p, kr)
				for _, c := range r.Checks {
					fmt.Fprintf(out, "%s: ok: %s\n", arg, c)
				}
				if err != nil {
					fmt.Fprintf(out, "%s: FAILED\n", arg)
					errs = append(errs, err)
					continue
				}
				if kr == nil {
					fmt.Fprintf(out, "%s: verified (signature not checked: no --keyring and no CACHE_KEYRING)\n", arg)
				} else {
					fmt.Fprintf(out, "%s: verified, signed by a key of %s\n", arg, krName)
				}
			}
			return errors.Join(errs...)
		},
	}
	keys.register(c, "whose keys must have signed the cache")
	return c
}
