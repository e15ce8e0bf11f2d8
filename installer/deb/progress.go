package deb

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"sync"
)

// packageNameRE is Debian policy's form of a package name (§5.6.1).
var packageNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]{1,127}$`)

// Step is one dpkg run of an install, as Progress reports it.
type Step string

const (
	StepUnpack    Step = "unpack"
	StepConfigure Step = "configure"
	StepInstall   Step = "install" // unpack and configure in one dpkg --install
)

// Progress is one event of an install: a step starting (Done 0, Package
// ""), dpkg beginning to unpack or configure Package (Done counts the
// packages of the step so far, that one included), or a step ending
// (Finished). Total is the number of packages the step handles.
type Progress struct {
	Step     Step
	Package  string
	Done     int
	Total    int
	Finished bool
}

// statusWriter reads dpkg's messages ("Unpacking libc6:amd64 (2.36-9) ...",
// "Setting up libc6:amd64 (2.36-9) ..."), which dpkg prints untranslated
// under the build's LC_ALL=C.UTF-8, turns them into Progress events and
// passes every line on to out, dpkg's own log. (dpkg's --status-fd would be
// a machine format, but dpkg marks that descriptor close-on-exec: on fd 1
// the maintainer scripts would lose their stdout.)
type statusWriter struct {
	mu      sync.Mutex
	out     io.Writer
	report  func(Progress)
	step    Step
	total   int
	done    int
	seen    map[string]bool
	partial []byte
}

func newStatusWriter(out io.Writer, step Step, total int, report func(Progress)) *statusWriter {
	report(Progress{Step: step, Total: total})
	return &statusWriter{out: out, report: report, step: step, total: total, seen: map[string]bool{}}
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *statusWriter) line(l string) {
	io.WriteString(w.out, l+"\n")
	// dpkg --install unpacks, then configures: a package counts once it
	// is set up.
	verb := "Setting up "
	if w.step == StepUnpack {
		verb = "Unpacking "
	}
	rest, ok := strings.CutPrefix(l, verb)
	if !ok {
		return
	}
	pkg, _, ok := strings.Cut(rest, " (")
	if !ok {
		return
	}
	name, _, _ := strings.Cut(pkg, ":")
	// Maintainer scripts share dpkg's stdout: a line that only looks like
	// dpkg's must not put its text (terminal escapes, say) on the admin's
	// progress line. dpkg's own lines carry valid package names.
	if !packageNameRE.MatchString(name) {
		return
	}
	if w.seen[name] {
		return
	}
	w.seen[name] = true
	w.done++
	w.report(Progress{Step: w.step, Package: name, Done: w.done, Total: w.total})
}

// finish flushes a last unterminated line and reports the end of the step.
func (w *statusWriter) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.line(string(w.partial))
		w.partial = nil
	}
	w.report(Progress{Step: w.step, Done: w.done, Total: w.total, Finished: true})
}
