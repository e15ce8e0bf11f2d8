package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/pipeline"
	"github.com/vzkit/vzkit/repo"
	"github.com/vzkit/vzkit/repo/fetch"
	"github.com/vzkit/vzkit/repo/store"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

// cmdPipeline is one command's pipeline (package pipeline does the work) with
// what the command needs around it: the configuration, the resolved
// template and the rendering of the pipeline's events on out.
type cmdPipeline struct {
	*pipeline.Pipeline
	conf     *vzconf.Global
	resolved *resolvedTemplate
	out      io.Writer
	render   *renderer
}

func (a *app) newPipeline(ctx context.Context, name string, o resolveOptions, out io.Writer) (*cmdPipeline, error) {
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
	st, err := store.Open(conf.Get("PACKAGES"))
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pmLog := io.Discard
	if a.Verbose {
		log = slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
		pmLog = out
	}
	rd := &renderer{out: out}
	p, err := pipeline.New(pipeline.Config{
		Template:   r.Template,
		Client:     fetch.New(fetch.Options{UserAgent: "vzkit/" + version, Logger: log}),
		Store:      st,
		IndexCache: conf.Get("INDEXCACHE"),
		StateDir:   conf.Get("STATEDIR"),
		BuildDir:   filepath.Join(conf.Get("TEMPLATE"), "build"),
		Tool:       "vzpkg " + version,
		Logger:     log,
		Events:     rd.event,
		Output:     out,
		Log:        pmLog,
	})
	if err != nil {
		return nil, err
	}
	return &cmdPipeline{Pipeline: p, conf: conf, resolved: r, out: out, render: rd}, nil
}

func (r *cmdPipeline) printTimings() {
	var total float64
	var parts []string
	for _, t := range r.Timings() {
		total += t.Elapsed.Seconds()
		parts = append(parts, fmt.Sprintf("%s %.2fs", t.Stage, t.Elapsed.Seconds()))
	}
	fmt.Fprintf(r.out, "time: %s (total %.2fs)\n", strings.Join(parts, ", "), total)
}

// renderer prints the pipeline's events as lines, a transfer display for
// downloads and step progress for the install. Download events come from
// several goroutines.
type renderer struct {
	out     io.Writer
	mu      sync.Mutex
	tr      *cli.Transfer
	written map[*repo.Package]int64
	steps   *cli.Steps
}

func (d *renderer) event(e pipeline.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch e := e.(type) {
	case pipeline.IndexLoaded:
		ix := e.Index
		signed := "signed by " + strings.Join(ix.Signers, ", ")
		if !ix.Signed {
			signed = "NOT signature-checked (insecure: true)"
		}
		what := strings.TrimSpace(ix.Suite + " " + strings.Join(ix.Components, ","))
		if what == "" {
			what = ix.Repository
		}
		fmt.Fprintf(d.out, "index %s: %d packages from %s, %s\n", what, len(ix.Packages), ix.Mirror, signed)
	case pipeline.Solved:
		s := e.Solution
		// apt's solution has two stages, the Essential set first; rpm
		// installs its set in one transaction.
		stages := ""
		if len(s.Stages) > 1 {
			stages = fmt.Sprintf(" (%d in the essential stage)", len(s.Stages[0]))
		}
		if e.Lockfile != "" {
			fmt.Fprintf(d.out, "solve: %d packages from lockfile %s%s\n", len(s.Packages), e.Lockfile, stages)
		} else {
			fmt.Fprintf(d.out, "solve: %d packages%s, variant %s\n", len(s.Packages), stages, s.Variant)
		}
	case pipeline.Warning:
		fmt.Fprintf(d.out, "warning: %s\n", e.Message)
	case pipeline.Note:
		fmt.Fprintf(d.out, "note: %s\n", e.Message)
	case pipeline.DownloadStarted:
		d.tr = cli.NewTransfer(d.out, "download", e.Files, e.Bytes)
		d.written = map[*repo.Package]int64{}
	case pipeline.DownloadProgress:
		// Packages already in the store are not transfers: not shown.
		switch {
		case d.tr == nil:
		case e.Started:
			d.tr.FileStart(e.Package.Name, e.Package.Size)
		case e.Done:
			if !e.Cached {
				d.tr.FileDone(e.Package.Name+"_"+e.Package.Version, e.Package.Size, e.Err)
			}
		default:
			delta := e.Written - d.written[e.Package]
			d.written[e.Package] = e.Written
			d.tr.Advance(delta)
		}
	case pipeline.Downloaded:
		d.finishTransfer()
		fmt.Fprintf(d.out, "download: %d fetched (%s), %d already in %s\n", e.Stats.Downloaded, cli.HumanBytes(e.Stats.Bytes), e.Stats.Cached, e.Store)
	case pipeline.EpochChosen:
		fmt.Fprintf(d.out, "SOURCE_DATE_EPOCH=%d (%s)\n", e.Epoch.Unix(), e.From)
	case pipeline.InstallProgress:
		if d.steps == nil {
			d.steps = cli.NewSteps(d.out, "install")
		}
		switch {
		case e.Finished:
			d.steps.Done(e.Step, e.Done, e.Total)
		case e.Package == "":
			d.steps.Start(e.Step, e.Total)
		default:
			d.steps.Item(e.Step, e.Package, e.Done, e.Total)
		}
	case pipeline.ScriptStarted:
		fmt.Fprintf(d.out, "script %s (%s)\n", e.Stage, e.Origin)
	case pipeline.RootKept:
		fmt.Fprintf(d.out, "build root kept at %s\n", e.Path)
	}
}

// finishTransfer ends the download display, also after a failed download.
func (d *renderer) finishTransfer() {
	if d.tr != nil {
		d.tr.Finish()
		d.tr = nil
	}
}

// fetchPackages runs the download stage and ends its display.
func (r *cmdPipeline) fetchPackages(ctx context.Context) error {
	err := r.Fetch(ctx)
	r.render.mu.Lock()
	r.render.finishTransfer()
	r.render.mu.Unlock()
	return err
}
