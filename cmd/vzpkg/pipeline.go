package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/hooks"
	"github.com/vzkit/vzkit/metadata"
	"github.com/vzkit/vzkit/repo"
	"github.com/vzkit/vzkit/repo/apt"
	"github.com/vzkit/vzkit/repo/apt/solve"
	"github.com/vzkit/vzkit/repo/fetch"
	"github.com/vzkit/vzkit/repo/lockfile"
	"github.com/vzkit/vzkit/repo/store"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

// pipeline wires the stages that `vzpkg fetch` and `vzpkg build` share:
// verified indexes → solved package set → packages in the store. Each stage
// takes the plain values of the one before; the pipeline only times them and
// keeps their results for the summary.
type pipeline struct {
	conf     *vzconf.Global
	tmpl     *metadata.Template
	resolved *resolvedTemplate
	client   *fetch.Client
	store    *store.Store
	out      io.Writer // progress and summary
	log      *slog.Logger
	timings  []stageTime
	indexes  []*apt.Index
	sources  []lockfile.Source // p.indexes as format-neutral sources, same order
	solved   *solve.Result
	download repo.Stats
}

type stageTime struct {
	Stage   string        `json:"stage"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

func (a *app) newPipeline(ctx context.Context, name string, o resolveOptions, out io.Writer) (*pipeline, error) {
	conf, err := a.Config()
	if err != nil {
		return nil, err
	}
	r, err := a.resolveTemplate(ctx, name, o)
	if err != nil {
		return nil, err
	}
	if err := r.CheckKeys(); err != nil {
		return nil, err
	}
	for _, rp := range r.Template.Repositories {
		if rp.Type != metadata.TypeApt {
			return nil, fmt.Errorf("template %s: repository %s is of type %s; this vzpkg builds apt (Debian-family) templates only so far",
				r.Template.Name, rp.Name, rp.Type)
		}
	}
	st, err := store.Open(conf.Get("PACKAGES"))
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if a.Verbose {
		log = slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return &pipeline{
		conf:     conf,
		tmpl:     r.Template,
		resolved: r,
		client:   fetch.New(fetch.Options{UserAgent: "vzkit/" + version, Logger: log}),
		store:    st,
		out:      out,
		log:      log,
	}, nil
}

// sandboxStateDir is STATEDIR/build, where the build's sandboxes keep their
// state. STATEDIR is made here, walkable by others, before libcontainer
// would make it (and any missing parent) 0700: the sandboxes of vzctl's
// unprivileged containers, which share STATEDIR, must get through it.
func (p *pipeline) sandboxStateDir() (string, error) {
	dir := p.conf.Get("STATEDIR")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	return filepath.Join(dir, "build"), nil
}

// stage runs f and records how long it took.
func (p *pipeline) stage(name string, f func() error) error {
	start := time.Now()
	err := f()
	p.timings = append(p.timings, stageTime{name, time.Since(start)})
	if err != nil {
		return err
	}
	return nil
}

func (p *pipeline) arch() string { return p.tmpl.Arch[0] }

// mirror is the archive the main (first) repository was served from.
func (p *pipeline) mirror() string {
	if len(p.indexes) > 0 {
		return p.indexes[0].Mirror
	}
	return ""
}

// loadIndexes fetches and verifies every suite of every repository.
func (p *pipeline) loadIndexes(ctx context.Context) error {
	return p.stage("indexes", func() error {
		for _, rp := range p.tmpl.Repositories {
			kr, err := keyring(ctx, p.client, append(append([]metadata.Key(nil), p.tmpl.Keys...), rp.Keys...))
			if err != nil {
				return fmt.Errorf("repository %s: %w", rp.Name, err)
			}
			for _, suite := range rp.Suites {
				ix, err := apt.Load(ctx, p.client, apt.Source{
					URIs: rp.URLs(), Suite: suite, Components: rp.Components, Arch: p.arch(),
					Keyring: kr, Insecure: rp.Insecure,
				}, apt.Options{CacheDir: p.conf.Get("INDEXCACHE"), Logger: p.log})
				if err != nil {
					return fmt.Errorf("repository %s: %w", rp.Name, err)
				}
				signed := "signed by " + strings.Join(ix.Signers, ", ")
				if !ix.Signed {
					signed = "NOT signature-checked (insecure: true)"
				}
				fmt.Fprintf(p.out, "index %s %s: %d packages from %s, %s\n", suite, strings.Join(rp.Components, ","), len(ix.Packages), ix.Mirror, signed)
				p.indexes = append(p.indexes, ix)
				p.sources = append(p.sources, indexSource(rp.Name, suite, rp.Components, ix))
			}
		}
		return nil
	})
}

// solveSet chooses the package set the template asks for.
func (p *pipeline) solveSet(ctx context.Context) error {
	return p.stage("solve", func() error {
		var all []apt.Package
		for _, ix := range p.indexes {
			all = append(all, ix.Packages...)
		}
		opts := p.solveOptions()
		res, err := solve.Solve(ctx, all, p.arch(), opts)
		if err != nil {
			return fmt.Errorf("template %s: %w", p.tmpl.Name, err)
		}
		p.solved = res
		fmt.Fprintf(p.out, "solve: %d packages (%d in the essential stage), variant %s\n", len(res.Packages), len(res.Essential), opts.Variant)
		return nil
	})
}

// solveOptions is what the template asks the solver for; solveSet and the
// locked and update paths must agree on it.
func (p *pipeline) solveOptions() solve.Options {
	variant := p.tmpl.Packages.Variant
	if variant == "" {
		variant = string(solve.VariantCustom)
	}
	return solve.Options{Variant: solve.Variant(variant), Include: p.tmpl.Packages.Include, Exclude: p.tmpl.Packages.Exclude}
}

// fetchPackages downloads what the store lacks, with progress.
func (p *pipeline) fetchPackages(ctx context.Context) error {
	return p.stage("download", func() error {
		var files int
		var total int64
		for _, pkg := range p.solved.Packages {
			if !p.store.Has(pkg.SHA256, pkg.Size) {
				files++
				total += pkg.Size
			}
		}
		tr := cli.NewTransfer(p.out, "download", files, total)
		stats, err := repo.Download(ctx, p.client, p.store, p.neutral(p.solved.Packages), repo.DownloadOptions{Progress: &transferProgress{tr: tr}})
		tr.Finish()
		p.download = stats
		if err != nil {
			return err
		}
		fmt.Fprintf(p.out, "download: %d fetched (%s), %d already in %s\n", stats.Downloaded, cli.HumanBytes(stats.Bytes), stats.Cached, p.store.Root())
		return nil
	})
}

// packageFiles returns the store paths of the named packages, in order.
func (p *pipeline) packageFiles(names []string) []string {
	byName := map[string]*apt.Package{}
	for i := range p.solved.Packages {
		byName[p.solved.Packages[i].Name] = &p.solved.Packages[i]
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, p.store.Path(byName[n].SHA256))
	}
	return out
}

// runTemplateScript runs the template's script for stage (pre-install,
// post-install, pre-cache) inside root, in a sandbox with no network; a
// template without one is fine.
func (p *pipeline) runTemplateScript(ctx context.Context, root, stateDir, stage string, out io.Writer) error {
	t := p.tmpl
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
	fmt.Fprintf(out, "script %s (%s)\n", stage, origin)
	info := hooks.Info{TemplateName: t.Name, Distro: t.Distro, Release: t.Release, Arch: p.arch(),
		Variant: t.Variant, Mirror: p.mirror(), Variables: t.Variables}
	return hooks.Run(ctx, sandboxExec{root: root, stateDir: stateDir}, root,
		hooks.Script{Stage: hooks.Stage(stage), Body: []byte(s.Body), Origin: origin}, info, out)
}

// autoInstalled lists the packages of the second stage that only a
// dependency pulled in: apt would mark exactly those Auto-Installed.
func (p *pipeline) autoInstalled() []string {
	var out []string
	for _, n := range p.solved.Rest {
		if strings.HasPrefix(p.solved.Reasons[n], "dependency of ") {
			out = append(out, n)
		}
	}
	return out
}

func (p *pipeline) printTimings() {
	var total time.Duration
	parts := make([]string, 0, len(p.timings))
	for _, t := range p.timings {
		total += t.Elapsed
		parts = append(parts, fmt.Sprintf("%s %.2fs", t.Stage, t.Elapsed.Seconds()))
	}
	fmt.Fprintf(p.out, "time: %s (total %.2fs)\n", strings.Join(parts, ", "), total.Seconds())
}

// transferProgress adapts repo.Progress events (cumulative byte counts per
// package, from several goroutines) to the display; packages already in the
// store are not transfers and are not shown.
type transferProgress struct {
	tr      *cli.Transfer
	mu      sync.Mutex
	written map[*repo.Package]int64
}

func (t *transferProgress) Start(p *repo.Package) { t.tr.FileStart(p.Name, p.Size) }

func (t *transferProgress) Advance(p *repo.Package, written int64) {
	t.mu.Lock()
	if t.written == nil {
		t.written = map[*repo.Package]int64{}
	}
	delta := written - t.written[p]
	t.written[p] = written
	t.mu.Unlock()
	t.tr.Advance(delta)
}

func (t *transferProgress) Done(p *repo.Package, cached bool, err error) {
	if !cached {
		t.tr.FileDone(p.Name+"_"+p.Version, p.Size, err)
	}
}

// indexSource is a verified apt index as a format-neutral lock file source.
func indexSource(repository, suite string, components []string, ix *apt.Index) lockfile.Source {
	s := lockfile.Source{Repository: repository, Suite: suite, Components: components, Mirror: ix.Mirror,
		Packages: apt.Neutral(ix.Packages, repository)}
	if ix.Release != nil {
		s.Codename, s.Date = ix.Release.Codename, ix.Release.Date
	}
	return s
}

// aptKey identifies one package file of an index across its apt and
// format-neutral forms.
type aptKey struct{ name, version, arch, sha string }

// neutral converts solved apt packages to the format-neutral value, each
// attributed to the first loaded repository whose index lists it.
func (p *pipeline) neutral(pkgs []apt.Package) []repo.Package {
	owner := map[aptKey]string{}
	for _, s := range p.sources {
		for _, sp := range s.Packages {
			k := aptKey{sp.Name, sp.Version, sp.Arch, sp.Checksum.Hex}
			if _, ok := owner[k]; !ok {
				owner[k] = s.Repository
			}
		}
	}
	out := make([]repo.Package, len(pkgs))
	for i := range pkgs {
		out[i] = pkgs[i].Neutral(owner[aptKey{pkgs[i].Name, pkgs[i].Version, pkgs[i].Architecture, pkgs[i].SHA256}])
	}
	return out
}

// native maps format-neutral packages back to the apt stanzas of the
// loaded indexes they were made from.
func (p *pipeline) native(pkgs []repo.Package) []apt.Package {
	byKey := map[aptKey]*apt.Package{}
	for _, ix := range p.indexes {
		for i := range ix.Packages {
			ap := &ix.Packages[i]
			k := aptKey{ap.Name, ap.Version, ap.Architecture, ap.SHA256}
			if _, ok := byKey[k]; !ok {
				byKey[k] = ap
			}
		}
	}
	out := make([]apt.Package, 0, len(pkgs))
	for _, np := range pkgs {
		if ap := byKey[aptKey{np.Name, np.Version, np.Arch, np.Checksum.Hex}]; ap != nil {
			out = append(out, *ap)
		}
	}
	return out
}
