package pipeline

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/vzkit/vzkit/internal/saferoot"
	"github.com/vzkit/vzkit/metadata"
	"github.com/vzkit/vzkit/repo"
	"github.com/vzkit/vzkit/repo/fetch"
	"github.com/vzkit/vzkit/repo/lockfile"
)

// Backend is one package format's part of the pipeline, in the order a
// build uses it: indexes → solve → bootstrap (or upgrade) → installed set.
// A Backend belongs to one Pipeline and may keep state between the calls
// (the loaded indexes, the root's database as last read).
type Backend interface {
	// Format is the package format the back end installs.
	Format() repo.Format
	// Load fetches and verifies the indexes of every repository of the
	// template, in template order (repository by repository, suite by
	// suite), keyring built from the template's keys.
	Load(ctx context.Context, env Env) ([]Index, error)
	// Solve chooses the package set. Without Only or Installed it is the
	// template's set; with Only, exactly those packages (a lock file's)
	// must satisfy the template; with Installed, the installed set is
	// kept and upgraded (an update) and Solution.Changes says what moves.
	Solve(ctx context.Context, req SolveRequest) (*Solution, error)
	// LockDigest identifies the index file that was verified for the
	// i-th Index, as the lock file records it (apt: InRelease or
	// Release and its SHA-256).
	LockDigest(ctx context.Context, env Env, i int) (file, sha256 string, err error)
	// BuildTime is when a package file was built, for SOURCE_DATE_EPOCH.
	BuildTime(file string) (time.Time, error)
	// Bootstrap installs a solution into an empty root with the distro's
	// own package manager, in a sandbox with no network.
	Bootstrap(ctx context.Context, req InstallRequest) error
	// Upgrade installs Solution.Changes into a root that has a package
	// database (an unpacked cache).
	Upgrade(ctx context.Context, req InstallRequest) error
	// Installed reads the root's package database, by package name. The
	// root is hostile: it is read only through r.
	Installed(r *saferoot.Root) (map[string]Installed, error)
}

// Env is what a back end needs from the pipeline to reach repositories.
type Env struct {
	Template   *metadata.Template
	Client     *fetch.Client
	IndexCache string // verified index files are kept here between builds
	Logger     *slog.Logger
}

// Index is one verified index (an apt suite; an rpm-md repository): as a
// lock file source, and how it was verified.
type Index struct {
	lockfile.Source
	Signed  bool     // false only for an insecure: true repository
	Signers []string // fingerprints of the keys that signed it
}

// SolveRequest selects what Solve does; the zero value solves freely.
type SolveRequest struct {
	Only      []repo.Package       // solve among exactly these (a lock file's set)
	Installed map[string]Installed // keep and upgrade these (an update)
}

// Solution is a solved package set.
type Solution struct {
	// Packages is the chosen set in the solver's listing order, which
	// the manifest keeps.
	Packages []repo.Package
	// Stages are package names in install order, stage by stage (apt:
	// the Essential set, then the rest).
	Stages [][]string
	// Auto are the packages only a dependency pulled in: the package
	// manager marks them automatically installed.
	Auto []string
	// Variant is what the template asked for, for the summary.
	Variant string
	// Changes are, for an update, the packages to install, in install
	// order: Old is "" for a new one.
	Changes []Change
}

// Change is one package an update installs.
type Change struct {
	Old string
	New repo.Package
}

// Installed is one package of a root's package database.
type Installed struct {
	Name, Version, Arch string
	// State is the package manager's own words ("install ok installed").
	State string
	// Present: the package's files are installed (perhaps with something
	// pending); Clean: installed with nothing pending or wrong.
	Present, Clean bool
}

// InstallRequest is what Bootstrap and Upgrade install, and how.
type InstallRequest struct {
	Root     string
	StateDir string // where sandboxes keep their state
	Solution *Solution
	// File is the package file of a solved package (in the store).
	File func(repo.Package) string
	// Repositories are the template's repositories as the finished
	// root's package manager should see them (its own sources).
	Repositories []metadata.Repository
	Arch         string
	// PreInstall runs after the packages are unpacked and before they
	// are configured (Bootstrap only); may be nil.
	PreInstall      func(ctx context.Context) error
	SourceDateEpoch time.Time
	Progress        func(InstallProgress) // may be nil
	Stdout, Stderr  io.Writer             // the package manager's output
	Logger          *slog.Logger
}
