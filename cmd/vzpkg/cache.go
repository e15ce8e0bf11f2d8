package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cache/oci"
	cachestore "github.com/vzkit/vzkit/cache/store"
	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

func newCacheCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "cache",
		Short: "List, verify, sign, remove and share (OCI) template caches",
		Long: `Manage the template caches in $TEMPLATE/cache (see vzpkg config).

A cache is NAME.tar.zst with its manifest NAME.json, optionally an OpenPGP
signature NAME.tar.zst.asc and an SBOM NAME.spdx.json. Commands take the
cache NAME (or its file name); verify and sign also take a path containing
a slash. export, push and pull move caches as single-layer OCI images
through image layouts, docker archives and registries.`,
	}
	cli.GroupCommand(c)
	// One file per subcommand, each built by its constructor.
	for _, add := range []func(*app) *cobra.Command{
		newCacheListCommand, newCacheVerifyCommand, newCacheSignCommand, newCacheRmCommand,
		newCachePruneCommand, newCacheExportCommand, newCachePushCommand, newCachePullCommand,
	} {
		c.AddCommand(add(a))
	}
	return c
}

// cacheStore returns the store of the configured cache directory.
func (a *app) cacheStore() (*cachestore.Store, error) {
	conf, err := a.Config()
	if err != nil {
		return nil, err
	}
	return &cachestore.Store{Dir: conf.CacheDir()}, nil
}

// cachePath finds the cache file an argument names: a path when it holds a
// slash, else NAME (or NAME.tar.zst) in the cache directory.
func (a *app) cachePath(arg string) (string, error) {
	if strings.ContainsRune(arg, '/') {
		return arg, nil
	}
	s, err := a.cacheStore()
	if err != nil {
		return "", err
	}
	name, err := cachestore.CheckName(arg)
	if err != nil {
		return "", cli.UsageError(err)
	}
	for _, ext := range cachestore.Extensions {
		p := filepath.Join(s.Dir, name+ext)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("cache %q: no %s.tar.{zst,gz,xz} in %s: %w", arg, name, s.Dir, cachestore.ErrNotFound)
}

// keyringFlags are the flags that choose the keys a cache signature must be
// good by.
type keyringFlags struct {
	files        []string
	fingerprints []string
}

func (k *keyringFlags) register(c *cobra.Command, what string) {
	c.Flags().StringArrayVar(&k.files, "keyring", nil, "public key file (armored or binary) "+what+" (repeatable)")
	c.Flags().StringArrayVar(&k.fingerprints, "fingerprint", nil, "accept only these keys of the keyring (repeatable)")
}

// load returns the keyring of --keyring, or of vz.conf's CACHE_KEYRING when
// useConf is set and no --keyring was given; nil (and "") when there is none.
func (k *keyringFlags) load(conf *vzconf.Global, useConf bool) (*pgp.Keyring, string, error) {
	files := k.files
	if len(files) == 0 && useConf && conf.Get("CACHE_KEYRING") != "" {
		files = []string{conf.Get("CACHE_KEYRING")}
	}
	if len(files) == 0 {
		if len(k.fingerprints) > 0 {
			return nil, "", cli.UsageError(fmt.Errorf("--fingerprint needs a keyring (--keyring FILE or CACHE_KEYRING in %s)", conf.File))
		}
		return nil, "", nil
	}
	var kr *pgp.Keyring
	for _, f := range files {
		one, err := pgp.LoadKeyring(f)
		if err != nil {
			return nil, "", err
		}
		if kr == nil {
			kr = one
		} else {
			kr = kr.Merge(one)
		}
	}
	if len(k.fingerprints) > 0 {
		var err error
		if kr, err = kr.Pin(k.fingerprints...); err != nil {
			return nil, "", fmt.Errorf("keyring %s: %w", strings.Join(files, ", "), err)
		}
	}
	return kr, strings.Join(files, ", "), nil
}

// usageArgs makes a wrong number of arguments a usage error (exit 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		return cli.UsageError(check(cmd, args))
	}
}

// registryHint adds the flag that answers a refused pull or push.
func registryHint(err error) error {
	switch {
	case errors.Is(err, oci.ErrExists):
		return fmt.Errorf("%w; --replace replaces it, --name NAME pulls under another name", err)
	case errors.Is(err, oci.ErrPlainHTTP):
		return fmt.Errorf("%w; --insecure allows plain HTTP to it", err)
	}
	return err
}
