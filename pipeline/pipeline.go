package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vzkit/vzkit/hooks"
	"github.com/vzkit/vzkit/metadata"
	"github.com/vzkit/vzkit/repo"
	"github.com/vzkit/vzkit/repo/fetch"
	"github.com/vzkit/vzkit/repo/lockfile"
	"github.com/vzkit/vzkit/repo/store"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

// Config is what a Pipeline works with.
type Config struct {
	// Template is resolved and expanded (one architecture chosen).
	Template *metadata.Template
	Client   *fetch.Client
	Store    *store.Store
	// IndexCache keeps verified index files between runs (INDEXCACHE).
	IndexCache string
	// StateDir is vzkit's state directory (STATEDIR); the build's
	// sandboxes keep their state in StateDir/build.
	StateDir string
	// BuildDir holds build roots (TEMPLATE/build), never inside a cache
	// directory.
	BuildDir string
	// Tool names the program in manifests: "vzpkg 1.2".
	Tool   string
	Logger *slog.Logger // may be nil
	// Events receives progress; may be nil. It must be safe for
	// concurrent use (downloads report from several goroutines).
	Events func(Event)
	// Output receives what template scripts print; Log what the package
	// manager prints. Either may be nil (discarded).
	Output, Log io.Writer
}

// ErrNoBackend is wrapped by New's error for a template whose package
// format this build of vzkit cannot install yet.
var ErrNoBackend = errors.New("no back end for this package format")

// Pipeline runs the stages for one template. Its methods are called in
// pipeline order (LoadIndexes, then Solve or SolveLocked, then Fetch,
// then Build, or Lock, or Update); each keeps its result for the next.
type Pipeline struct {
	cfg      Config
	backend  Backend
	timings  []StageTime
	indexes  []Index
	solution *Solution
	download repo.Stats
}

// StageTime is how long one stage took.
type StageTime struct {
	Stage   string        `json:"stage"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// New checks that the template's repositories are all of one format that
// has a back end and returns its pipeline.
func New(cfg Config) (*Pipeline, error) {
	t := cfg.Template
	if t == nil || len(t.Arch) != 1 {
		return nil, errors.New("pipeline: the template must be resolved and expanded (one architecture)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Output == nil {
		cfg.Output = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if len(t.Repositories) == 0 {
		return nil, fmt.Errorf("template %s: no repositories", t.Name)
	}
	typ := t.Repositories[0].Type
	for _, rp := range t.Repositories[1:] {
		if rp.Type != typ {
			return nil, fmt.Errorf("template %s: repository %s is of type %s, %s of type %s: one template installs one package format",
				t.Name, t.Repositories[0].Name, typ, rp.Name, rp.Type)
		}
	}
	p := &Pipeline{cfg: cfg}
	switch typ {
	case metadata.TypeApt:
		p.backend = &debian{}
	case metadata.TypeRPMMD:
		p.backend = &rpmBackend{}
	default:
		return nil, fmt.Errorf("template %s: repository %s: unknown type %q: %w", t.Name, t.Repositories[0].Name, typ, ErrNoBackend)
	}
	return p, nil
}

// Template is the pipeline's template.
func (p *Pipeline) Template() *metadata.Template { return p.cfg.Template }

// Format is the package format the template installs.
func (p *Pipeline) Format() repo.Format { return p.backend.Format() }

// Arch is the architecture being built.
func (p *Pipeline) Arch() string { return p.cfg.Template.Arch[0] }

// Indexes are the verified indexes, after LoadIndexes.
func (p *Pipeline) Indexes() []Index { return p.indexes }

// Solution is the solved set, after Solve or SolveLocked.
func (p *Pipeline) Solution() *Solution { return p.solution }

// Downloaded is what Fetch (or an update's download) did.
func (p *Pipeline) Downloaded() repo.Stats { return p.download }

// Timings are the stages run so far and how long each took.
func (p *Pipeline) Timings() []StageTime { return slices.Clone(p.timings) }

// Mirror is the base URL that served the main (first) repository.
func (p *Pipeline) Mirror() string {
	if len(p.indexes) > 0 {
		return p.indexes[0].Mirror
	}
	return ""
}

func (p *Pipeline) emit(e Event) {
	if p.cfg.Events != nil {
		p.cfg.Events(e)
	}
}

func (p *Pipeline) env() Env {
	return Env{Template: p.cfg.Template, Client: p.cfg.Client, IndexCache: p.cfg.IndexCache, Logger: p.cfg.Logger}
}

// stage runs f and records how long it took.
func (p *Pipeline) stage(name string, f func() error) error {
	start := time.Now()
	err := f()
	p.timings = append(p.timings, StageTime{name, time.Since(start)})
	return err
}

// LoadIndexes fetches and verifies every index of every repository.
func (p *Pipeline) LoadIndexes(ctx context.Context) error {
	return p.stage("indexes", func() error {
		ixs, err := p.backend.Load(ctx, p.env())
		if err != nil {
			return err
		}
		for _, ix := range ixs {
			p.emit(IndexLoaded{Index: ix})
		}
		p.indexes = ixs
		return nil
	})
}

// Solve chooses the package set the template asks for.
func (p *Pipeline) Solve(ctx context.Context) error {
	return p.stage("solve", func() error {
		s, err := p.backend.Solve(ctx, SolveRequest{})
		if err != nil {
			return fmt.Errorf("template %s: %w", p.cfg.Template.Name, err)
		}
		p.solution = s
		p.emit(Solved{Solution: s})
		return nil
	})
}

// SolveLocked takes the package set from a lock file instead of solving
// freely: the locked packages are looked up in the freshly verified
// indexes (lockfile.Check); the solver then runs on exactly that set,
// which gives the install order and proves the template's variant,
// includes and excludes still select the locked set and nothing else.
func (p *Pipeline) SolveLocked(ctx context.Context, lockPath string) error {
	return p.stage("solve", func() error {
		t := p.cfg.Template
		l, err := lockfile.Read(lockPath)
		if err != nil {
			return err
		}
		if l.Template != t.Name || l.Arch != p.Arch() {
			return fmt.Errorf("lockfile %s is for template %s/%s, not %s/%s", lockPath, l.Template, l.Arch, t.Name, p.Arch())
		}
		locked := l.Format
		if locked == "" {
			locked = repo.FormatDeb // locks from before the field were all deb
		}
		if locked != p.Format() {
			return fmt.Errorf("lockfile %s locks %s packages; template %s installs %s packages", lockPath, locked, t.Name, p.Format())
		}
		if d := t.Digest(); l.MetadataDigest != d {
			// The package check below is what guarantees the content;
			// a changed mirror or script alone changes the digest.
			p.emit(Warning{fmt.Sprintf("lockfile %s was made from other metadata (%s, now %s)", lockPath, l.MetadataDigest, d)})
		}
		pkgs, err := lockfile.Check(l, p.lockSources())
		if err != nil {
			return fmt.Errorf("template %s: %s: %w", t.Name, lockPath, err)
		}
		s, err := p.backend.Solve(ctx, SolveRequest{Only: pkgs})
		if err != nil {
			return fmt.Errorf("template %s: the locked set of %s no longer satisfies the template: %w", t.Name, lockPath, err)
		}
		if extra := unselected(pkgs, s.Packages); extra != "" {
			return fmt.Errorf("template %s: locked in %s but not selected by the template any more: %s", t.Name, lockPath, extra)
		}
		p.solution = s
		p.emit(Solved{Solution: s, Lockfile: lockPath})
		return nil
	})
}

// unselected lists the locked packages the solver did not choose (it can
// only choose among them), or returns "" when it chose them all.
func unselected(locked, got []repo.Package) string {
	chosen := map[string]bool{}
	for _, p := range got {
		chosen[p.ID()] = true
	}
	var missing []string
	for _, p := range locked {
		if !chosen[p.ID()] {
			missing = append(missing, p.ID())
		}
	}
	slices.Sort(missing)
	return strings.Join(missing, ", ")
}

func (p *Pipeline) lockSources() []lockfile.Source {
	out := make([]lockfile.Source, len(p.indexes))
	for i, ix := range p.indexes {
		out[i] = ix.Source
	}
	return out
}

// Lock makes the lock file of the solved set: every index is identified
// by the file that was verified (Backend.LockDigest).
func (p *Pipeline) Lock(ctx context.Context) (*lockfile.Lock, error) {
	t := p.cfg.Template
	srcs := p.lockSources()
	for i := range srcs {
		var err error
		if srcs[i].ReleaseFile, srcs[i].ReleaseSHA256, err = p.backend.LockDigest(ctx, p.env(), i); err != nil {
			return nil, err
		}
	}
	l, err := lockfile.New(lockfile.Meta{Template: t.Name, MetadataDigest: t.Digest(), Arch: p.Arch(), Format: p.Format()},
		srcs, p.solution.Packages)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", t.Name, err)
	}
	return l, nil
}

// Fetch downloads what the store lacks of the solved set.
func (p *Pipeline) Fetch(ctx context.Context) error {
	return p.stage("download", func() error {
		return p.fetch(ctx, p.solution.Packages)
	})
}

func (p *Pipeline) fetch(ctx context.Context, pkgs []repo.Package) error {
	var files int
	var total int64
	for _, pkg := range pkgs {
		if !p.cfg.Store.Has(pkg.Checksum.SHA256(), pkg.Size) {
			files++
			total += pkg.Size
		}
	}
	p.emit(DownloadStarted{Files: files, Bytes: total})
	var progress repo.Progress
	if p.cfg.Events != nil {
		progress = eventProgress(p.cfg.Events)
	}
	stats, err := repo.Download(ctx, p.cfg.Client, p.cfg.Store, pkgs, repo.DownloadOptions{Progress: progress})
	p.download = stats
	if err != nil {
		return err
	}
	p.emit(Downloaded{Stats: stats, Store: p.cfg.Store.Root()})
	return nil
}

// eventProgress turns repo.Progress calls into DownloadProgress events.
type eventProgress func(Event)

func (e eventProgress) Start(p *repo.Package) { e(DownloadProgress{Package: p, Started: true}) }
func (e eventProgress) Advance(p *repo.Package, written int64) {
	e(DownloadProgress{Package: p, Written: written})
}
func (e eventProgress) Done(p *repo.Package, cached bool, err error) {
	e(DownloadProgress{Package: p, Done: true, Cached: cached, Err: err})
}

// file is the store path of a package.
func (p *Pipeline) file(pkg repo.Package) string { return p.cfg.Store.Path(pkg.Checksum.SHA256()) }

// sandboxStateDir is STATEDIR/build, where the build's sandboxes keep their
// state. STATEDIR is made here, walkable by others, before libcontainer
// would make it (and any missing parent) 0700: the sandboxes of vzctl's
// unprivileged containers, which share STATEDIR, must get through it.
func (p *Pipeline) sandboxStateDir() (string, error) {
	if err := os.MkdirAll(p.cfg.StateDir, 0o755); err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	return filepath.Join(p.cfg.StateDir, "build"), nil
}

// runTemplateScript runs the template's script for stage (pre-install,
// post-install, pre-cache) inside root, in a sandbox with no network; a
// template without one is fine.
func (p *Pipeline) runTemplateScript(ctx context.Context, root, stateDir, stage string) error {
	t := p.cfg.Template
	s, ok := t.Scripts[stage]
	if !ok || s.Body == "" {
		return nil
	}
	origin := s.File
	if origin == "" {
		origin = t.File
		if pos, ok := t.Pos["scripts."+stage]; ok {
			origin = pos.String()
		}
	}
	p.emit(ScriptStarted{Stage: stage, Origin: origin})
	info := hooks.Info{TemplateName: t.Name, Distro: t.Distro, Release: t.Release, Arch: p.Arch(),
		Variant: t.Variant, Mirror: p.Mirror(), Variables: t.Variables}
	return hooks.Run(ctx, sandboxExec{root: root, stateDir: stateDir}, root,
		hooks.Script{Stage: hooks.Stage(stage), Body: []byte(s.Body), Origin: origin}, info, p.cfg.Output)
}

// finalScripts runs post-install, then pre-cache.
func (p *Pipeline) finalScripts(ctx context.Context, root, stateDir string) error {
	return p.stage("scripts", func() error {
		if err := p.runTemplateScript(ctx, root, stateDir, metadata.PostInstall); err != nil {
			return err
		}
		return p.runTemplateScript(ctx, root, stateDir, metadata.PreCache)
	})
}

// sandboxExec runs template scripts inside the build root with no network.
type sandboxExec struct {
	root, stateDir string
}

func (s sandboxExec) Exec(ctx context.Context, args, env []string, stdout, stderr io.Writer) (int, error) {
	return sandbox.Run(ctx, sandbox.Config{
		ID:       fmt.Sprintf("vzkit-hook-%d-%d", os.Getpid(), time.Now().UnixNano()),
		Root:     s.root,
		StateDir: s.stateDir,
		Hostname: "localhost",
		Network:  sandbox.Network{Mode: sandbox.NetNone},
	}, sandbox.Process{Args: args, Env: env, Stdout: stdout, Stderr: stderr})
}

// sourceDateEpoch is SOURCE_DATE_EPOCH when set, else the newest build date
// among the package files: the same packages give the same cache, and no
// file in it is dated after its newest package.
func (p *Pipeline) sourceDateEpoch(files []string) (time.Time, string, error) {
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, "", fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds", v)
		}
		return time.Unix(n, 0), "from the environment", nil
	}
	newest := time.Unix(0, 0)
	for _, f := range files {
		ts, err := p.backend.BuildTime(f)
		if err != nil {
			return time.Time{}, "", err
		}
		if ts.After(newest) {
			newest = ts
		}
	}
	return newest, "the newest package's build date", nil
}
