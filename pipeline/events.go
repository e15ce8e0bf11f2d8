package pipeline

import (
	"time"

	"github.com/vzkit/vzkit/repo"
)

// Event is something the pipeline reports while it works; the caller
// renders it (vzpkg prints lines and progress bars). Events of a download
// come from several goroutines at once.
type Event interface{ event() }

// IndexLoaded: one index was fetched and verified.
type IndexLoaded struct{ Index Index }

// Solved: the package set is chosen; Lockfile is set when it came from one.
type Solved struct {
	Solution *Solution
	Lockfile string
}

// Warning is something that may be wrong but does not stop the work.
type Warning struct{ Message string }

// Note is something worth knowing that is not wrong.
type Note struct{ Message string }

// DownloadStarted: Files packages of Bytes bytes in all are not in the
// store and will be fetched.
type DownloadStarted struct {
	Files int
	Bytes int64
}

// DownloadProgress is one package's download: started, advanced to
// Written bytes, or done (Cached when the store had it, Err on failure).
type DownloadProgress struct {
	Package *repo.Package
	Started bool
	Written int64
	Done    bool
	Cached  bool
	Err     error
}

// Downloaded: every package is in the store.
type Downloaded struct {
	Stats repo.Stats
	Store string // the store's directory
}

// EpochChosen: the build clamps timestamps to Epoch, taken From.
type EpochChosen struct {
	Epoch time.Time
	From  string
}

// InstallProgress is the package manager's progress: a Step begins
// (Package ""), a package is at Done of Total, or the step Finished.
type InstallProgress struct {
	Step     string
	Package  string
	Done     int
	Total    int
	Finished bool
}

// ScriptStarted: a template script (pre-install, post-install, pre-cache)
// runs; Origin is where it was written.
type ScriptStarted struct{ Stage, Origin string }

// RootKept: the build root was kept (KeepRoot) at Path.
type RootKept struct{ Path string }

func (IndexLoaded) event()      {}
func (Solved) event()           {}
func (Warning) event()          {}
func (Note) event()             {}
func (DownloadStarted) event()  {}
func (DownloadProgress) event() {}
func (Downloaded) event()       {}
func (EpochChosen) event()      {}
func (InstallProgress) event()  {}
func (ScriptStarted) event()    {}
func (RootKept) event()         {}
