package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
)

func newCacheListCommand(a *app) *cobra.Command {
	var keys keyringFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List the template caches and flag invalid ones",
		Long: `List every cache in $TEMPLATE/cache: size, age (of the file), creation
time (the manifest's SOURCE_DATE_EPOCH), number of packages, signature and
status. A cache whose manifest is missing or broken, or does not match the
file's size, is listed as INVALID with the reason; so is a manifest whose
cache file is gone. Listing reads manifests only; "vzpkg cache verify"
checks the full SHA-256.

SIGNATURE is "none", "unchecked" (a .asc file is there), or, with --keyring,
"good" or "bad".`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := a.Format()
			if err != nil {
				return err
			}
			conf, err := a.Config()
			if err != nil {
				return err
			}
			s, err := a.cacheStore()
			if err != nil {
				return err
			}
			if s.Keyring, _, err = keys.load(conf, false); err != nil {
				return err
			}
			entries, err := s.List(cmd.Context())
			if err != nil {
				return err
			}
			if f == cli.JSON {
				return cli.WriteJSON(cmd.OutOrStdout(), entries)
			}
			now := time.Now()
			rows := make([][]string, 0, len(entries))
			for _, e := range entries {
				created, status := "-", "ok"
				if !e.Created.IsZero() {
					created = e.Created.Format(time.DateOnly)
				}
				if !e.Valid {
					status = "INVALID: " + e.Problem
				} else if e.Problem != "" {
					status = "ok (" + e.Problem + ")"
				}
				rows = append(rows, []string{e.Name, cli.HumanBytes(e.Size), humanAge(e.Age(now)), created,
					fmt.Sprint(e.Packages), e.Signature, status})
			}
			return cli.WriteTable(cmd.OutOrStdout(), []string{"NAME", "SIZE", "AGE", "CREATED", "PACKAGES", "SIGNATURE", "STATUS"}, rows)
		},
	}
	a.AddOutputFlag(c)
	keys.register(c, "to check signatures with")
	return c
}

// humanAge prints an age in its largest whole unit.
func humanAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	default:
		return "<1m"
	}
}
