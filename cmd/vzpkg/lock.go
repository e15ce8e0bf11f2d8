package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/repo"
	"github.com/vzkit/vzkit/repo/apt"
	"github.com/vzkit/vzkit/repo/apt/solve"
	"github.com/vzkit/vzkit/repo/fetch"
	"github.com/vzkit/vzkit/repo/lockfile"
)

type lockOptions struct {
	resolveOptions
	file string
}

func newLockCommand(a *app) *cobra.Command {
	var o lockOptions
	c := &cobra.Command{
		Use:   "lock NAME",
		Short: "Pin a template's package set in a lock file",
		Long: `Resolve the template as build does (same --mirror, --arch ...), verify its
repository indexes, solve the package set and write a lock file (JSON):
the template name and metadata digest, the architecture, each repository
suite's Release date and the SHA-256 of its InRelease (or Release) file, and
every package with its version, architecture, SHA-256, size, pool file name
and repository. The file is written atomically and is the same bytes for
the same repository state.

A build given the lock file installs exactly those packages, or fails
naming every one that changed or vanished from its repository.`,
		Example: `  vzpkg lock debian-12-minimal
  vzpkg lock debian-12-minimal -o /srv/locks/debian-12-minimal.lock.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return a.lock(ctx, args[0], o, cmd.OutOrStdout())
		},
	}
	addResolveFlags(c, &o.resolveOptions)
	c.Flags().StringVarP(&o.file, "output", "o", "", "lock file to write (default NAME.lock.json in the current directory)")
	return c
}

func (a *app) lock(ctx context.Context, name string, o lockOptions, out io.Writer) error {
	p, err := a.newPipeline(ctx, name, o.resolveOptions, out)
	if err != nil {
		return err
	}
	if err := p.loadIndexes(ctx); err != nil {
		return err
	}
	if err := p.solveSet(ctx); err != nil {
		return err
	}
	srcs, err := p.lockSources()
	if err != nil {
		return err
	}
	for i := range srcs {
		srcs[i].ReleaseFile, srcs[i].ReleaseSHA256, err = p.releaseDigest(ctx, p.indexes[i], srcs[i].Repository, srcs[i].Suite)
		if err != nil {
			return err
		}
	}
	l, err := lockfile.New(lockfile.Meta{Template: p.tmpl.Name, MetadataDigest: p.tmpl.Digest(), Arch: p.arch(), Format: repo.FormatDeb},
		srcs, p.neutral(p.solved.Packages))
	if err != nil {
		return fmt.Errorf("template %s: %w", p.tmpl.Name, err)
	}
	path := o.file
	if path == "" {
		path = p.tmpl.Name + ".lock.json"
	}
	if err := lockfile.Write(path, l); err != nil {
		return err
	}
	fmt.Fprintf(out, "lock: %d packages from %d repository suites written to %s\n", len(l.Packages), len(l.Repositories), path)
	return nil
}

// lockSources pairs p.indexes with the repository and suite each was
// loaded for: loadIndexes appends them in template order, repository by
// repository, suite by suite.
func (p *pipeline) lockSources() ([]lockfile.Source, error) {
	var out []lockfile.Source
	for _, rp := range p.tmpl.Repositories {
		for _, suite := range rp.Suites {
			if len(out) >= len(p.indexes) {
				return nil, fmt.Errorf("template %s: repository %s suite %s has no loaded index", p.tmpl.Name, rp.Name, suite)
			}
			out = append(out, p.sources[len(out)])
		}
	}
	if len(out) != len(p.indexes) {
		return nil, fmt.Errorf("template %s: %d indexes loaded for %d repository suites", p.tmpl.Name, len(p.indexes), len(out))
	}
	return out, nil
}

// releaseDigest fetches the suite's InRelease (else Release) again from the
// mirror that served the verified index and returns its SHA-256. apt.Load
// keeps only the parsed text, so the file is fetched a second time; it is
// accepted only when it states the same Date and the same hashes for every
// index file that was used, i.e. when it is the file that was verified, or
// one that says exactly the same thing about the packages.
func (p *pipeline) releaseDigest(ctx context.Context, ix *apt.Index, repoName, suite string) (file, sum string, err error) {
	get := func(name string) ([]byte, fetch.Result, error) {
		var buf bytes.Buffer
		res, err := p.client.Fetch(ctx, fetch.Request{Mirrors: []string{ix.Mirror}, Path: "dists/" + suite + "/" + name, MaxSize: 32 << 20}, &buf)
		return buf.Bytes(), res, err
	}
	file = "InRelease"
	data, res, err := get(file)
	text := data
	if errors.Is(err, fs.ErrNotExist) {
		file = "Release"
		data, res, err = get(file)
		text = data
	} else if err == nil {
		text, err = pgp.ClearsignedText(data)
	}
	if err != nil {
		return "", "", fmt.Errorf("repository %s suite %s: lock: %w", repoName, suite, err)
	}
	rel, err := apt.ParseRelease(text, res.URL)
	if err != nil {
		return "", "", fmt.Errorf("repository %s suite %s: lock: %w", repoName, suite, err)
	}
	same := ix.Release != nil && rel.Date.Equal(ix.Release.Date)
	for _, f := range ix.Files {
		if same && rel.Files[f] != ix.Release.Files[f] {
			same = false
		}
	}
	if !same {
		return "", "", fmt.Errorf("repository %s suite %s changed while locking (%s is not the Release that was verified): run vzpkg lock again",
			repoName, suite, res.URL)
	}
	h := sha256.Sum256(data)
	return file, hex.EncodeToString(h[:]), nil
}

// lockedSet fills p.solved from a lock file instead of solving freely:
// `vzpkg build --lockfile F` calls it after loadIndexes, in place of
// solveSet. The locked packages are looked up in the freshly verified
// indexes (lockfile.Check); the solver then runs on exactly that set, which
// gives the Essential/Rest install order and proves the template's
// variant, includes and excludes still select the locked set and nothing
// else.
func (p *pipeline) lockedSet(ctx context.Context, lockPath string) error {
	return p.stage("solve", func() error {
		l, err := lockfile.Read(lockPath)
		if err != nil {
			return err
		}
		if l.Template != p.tmpl.Name || l.Arch != p.arch() {
			return fmt.Errorf("lockfile %s is for template %s/%s, not %s/%s", lockPath, l.Template, l.Arch, p.tmpl.Name, p.arch())
		}
		if d := p.tmpl.Digest(); l.MetadataDigest != d {
			// The package check below is what guarantees the content;
			// a changed mirror or script alone changes the digest.
			fmt.Fprintf(p.out, "warning: lockfile %s was made from other metadata (%s, now %s)\n", lockPath, l.MetadataDigest, d)
		}
		srcs, err := p.lockSources()
		if err != nil {
			return err
		}
		if l.Format != "" && l.Format != repo.FormatDeb {
			return fmt.Errorf("lockfile %s locks %s packages; template %s installs deb packages", lockPath, l.Format, p.tmpl.Name)
		}
		locked, err := lockfile.Check(l, srcs)
		if err != nil {
			return fmt.Errorf("template %s: %s: %w", p.tmpl.Name, lockPath, err)
		}
		pkgs := p.native(locked)
		res, err := solve.Solve(ctx, pkgs, p.arch(), p.solveOptions())
		if err != nil {
			return fmt.Errorf("template %s: the locked set of %s no longer satisfies the template: %w", p.tmpl.Name, lockPath, err)
		}
		if extra := unselected(pkgs, res.Packages); extra != "" {
			return fmt.Errorf("template %s: locked in %s but not selected by the template any more: %s", p.tmpl.Name, lockPath, extra)
		}
		p.solved = res
		fmt.Fprintf(p.out, "solve: %d packages from lockfile %s (%d in the essential stage)\n", len(res.Packages), lockPath, len(res.Essential))
		return nil
	})
}

// unselected lists the locked packages the solver did not choose (it can
// only choose among them), or returns "" when it chose them all.
func unselected(locked, got []apt.Package) string {
	chosen := map[string]bool{}
	for _, p := range got {
		chosen[p.Name+" "+p.Version] = true
	}
	var missing []string
	for _, p := range locked {
		if !chosen[p.Name+" "+p.Version] {
			missing = append(missing, p.Name+" "+p.Version)
		}
	}
	slices.Sort(missing)
	return strings.Join(missing, ", ")
}
