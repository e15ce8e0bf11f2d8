package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/pipeline"
	"github.com/vzkit/vzkit/repo/fetch"
)

func newInspectCommand(a *app) *cobra.Command {
	var keyFiles []string
	c := &cobra.Command{
		Use:   "inspect FILE|URL...",
		Short: "Show what a package or repository index is and who signed it",
		Long: `Inspect reads, for template maintainers, a package or a repository index
and checks its signature with the keys given:

  .rpm          name, [epoch:]version-release, arch, Requires, payload
                compression, file count; its header and payload signatures
  .deb          name, version, arch, Depends, data compression, file count
                (a .deb carries no signature: its repository's does)
  rpm-md        repodata/repomd.xml, or the repository's base (a directory
                or a URL ending in /): its revision and data types, and
                repomd.xml.asc
  InRelease     an apt suite's signed index; Release is checked with the
                Release.gpg beside it

FILE is a path; URL an http, https or file URL. The signature verdict is one
of "verified by FINGERPRINT", "unsigned", "BAD signature: WHY" and "unknown
key KEYID". Everything is read with the parsers vzpkg build trusts, so a file
inspect refuses is one build would refuse.

Exit status: 0 when every file given verified with the --key keys, or when no
--key was given (nothing was asked to verify); 1 when one did not verify or
could not be read; 2 for a bad command line.`,
		Example: `  vzpkg inspect hello-2.0-1.x86_64.rpm --key RPM-GPG-KEY-fedora-42-primary
  vzpkg inspect https://example.org/fedora/42/x86_64/os/ --key fedora.asc -o json
  vzpkg inspect /var/lib/apt/lists/deb.example.org_debian_dists_bookworm_InRelease \
      --key /usr/share/keyrings/debian-archive-keyring.gpg`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := a.Format()
			if err != nil {
				return err
			}
			var keys *pgp.Keyring
			for _, k := range keyFiles {
				one, err := pgp.LoadKeyring(k)
				if err != nil {
					return cli.ValueError(fmt.Errorf("--key %s: %w", k, err))
				}
				if keys == nil {
					keys = one
				} else {
					keys = keys.Merge(one)
				}
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			if a.Verbose {
				log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
			client := fetch.New(fetch.Options{UserAgent: "vzkit/" + version, Logger: log})
			var reports []*pipeline.Inspected
			failed := 0
			for _, src := range args {
				in, err := pipeline.Inspect(cmd.Context(), client, src, keys, os.TempDir())
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "vzpkg: %v\n", err)
					failed++
					continue
				}
				if keys != nil && in.Signature.State != pipeline.Verified {
					failed++
				}
				reports = append(reports, in)
			}
			if f == cli.JSON {
				if reports == nil {
					reports = []*pipeline.Inspected{}
				}
				err = cli.WriteJSON(cmd.OutOrStdout(), reports)
			} else {
				err = writeInspected(cmd.OutOrStdout(), reports)
			}
			if err != nil {
				return err
			}
			if failed > 0 {
				return cli.Reported(1)
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&keyFiles, "key", nil, "OpenPGP public key or keyring (armored or binary) to verify with (repeatable)")
	a.AddOutputFlag(c)
	return c
}

// writeInspected prints each report as "field: value" lines, a blank line
// between reports.
func writeInspected(w io.Writer, reports []*pipeline.Inspected) error {
	var b strings.Builder
	for i, in := range reports {
		if i > 0 {
			b.WriteString("\n")
		}
		line := func(k, v string) {
			if v != "" {
				fmt.Fprintf(&b, "%-12s %s\n", k+":", v)
			}
		}
		line("source", in.Source)
		line("kind", string(in.Kind))
		line("name", in.Name)
		line("version", in.Version)
		line("arch", in.Arch)
		line("suite", in.Suite)
		line("codename", in.Codename)
		line("date", in.Date)
		line("revision", in.Revision)
		line("data", strings.Join(in.Data, " "))
		line("compression", in.Compression)
		if in.Files > 0 {
			line("files", fmt.Sprint(in.Files))
		}
		for _, d := range in.Depends {
			line("depends", d)
		}
		line("signature", in.Signature.String())
	}
	_, err := io.WriteString(w, b.String())
	return err
}
