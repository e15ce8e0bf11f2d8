package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Transfer shows the progress of many files moving at once. On a terminal
// it redraws one status line (files, bytes, rate, the file most recently
// started); elsewhere (CI logs, pipes) it prints one quiet line per
// finished file, so logs stay readable.
type Transfer struct {
	mu         sync.Mutex
	w          io.Writer
	tty        bool
	label      string
	totalFiles int
	totalBytes int64
	doneFiles  int
	doneBytes  int64
	current    string
	start      time.Time
	lastDraw   time.Time
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewTransfer starts a progress display for totalFiles files of totalBytes.
func NewTransfer(w io.Writer, label string, totalFiles int, totalBytes int64) *Transfer {
	return &Transfer{w: w, tty: IsTerminal(w), label: label, totalFiles: totalFiles, totalBytes: totalBytes, start: time.Now()}
}

// FileStart notes that name began.
func (t *Transfer) FileStart(name string, size int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.current = name
	t.draw(false)
}

// Advance adds n bytes of progress.
func (t *Transfer) Advance(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.doneBytes += n
	t.draw(false)
}

// FileDone notes that name finished (err == nil) or failed.
func (t *Transfer) FileDone(name string, size int64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.doneFiles++
	if !t.tty {
		status := "ok"
		if err != nil {
			status = "FAILED: " + err.Error()
		}
		fmt.Fprintf(t.w, "%s [%d/%d] %s (%s) %s\n", t.label, t.doneFiles, t.totalFiles, name, HumanBytes(size), status)
		return
	}
	t.draw(true)
}

// Finish ends the display with a summary line.
func (t *Transfer) Finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tty {
		fmt.Fprint(t.w, "\r\033[K")
	}
	el := time.Since(t.start)
	fmt.Fprintf(t.w, "%s: %d files, %s in %s (%s/s)\n", t.label, t.doneFiles, HumanBytes(t.doneBytes),
		el.Round(10*time.Millisecond), HumanBytes(int64(float64(t.doneBytes)/max(el.Seconds(), 0.001))))
}

func (t *Transfer) draw(force bool) {
	if !t.tty || (!force && time.Since(t.lastDraw) < 100*time.Millisecond) {
		return
	}
	t.lastDraw = time.Now()
	const width = 24
	frac := 0.0
	if t.totalBytes > 0 {
		frac = min(float64(t.doneBytes)/float64(t.totalBytes), 1)
	}
	filled := int(frac * width)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	rate := float64(t.doneBytes) / max(time.Since(t.start).Seconds(), 0.001)
	cur := t.current
	if len(cur) > 30 {
		cur = cur[:27] + "..."
	}
	fmt.Fprintf(t.w, "\r\033[K%s [%s] %d/%d %s/%s %s/s %s", t.label, bar, t.doneFiles, t.totalFiles,
		HumanBytes(t.doneBytes), HumanBytes(t.totalBytes), HumanBytes(int64(rate)), cur)
}

// HumanBytes formats a byte count with a binary unit.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Steps shows the progress of a sequence of steps that each handle a
// counted set of items (dpkg unpacking, then configuring, packages). On a
// terminal it redraws one line: "install: configuring libc6 (37/94)";
// elsewhere it prints one line as each step ends, with its count and time.
type Steps struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	label string
	start time.Time
}

// NewSteps starts a step display.
func NewSteps(w io.Writer, label string) *Steps {
	return &Steps{w: w, tty: IsTerminal(w), label: label}
}

// Start notes that step (a verb: "unpack", "configure") begins on total
// items.
func (s *Steps) Start(step string, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start = time.Now()
	if s.tty {
		fmt.Fprintf(s.w, "\r\033[K%s: %s %d packages", s.label, step, total)
	}
}

// Item notes that item, the done-th of total, is being handled by step.
func (s *Steps) Item(step, item string, done, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty {
		fmt.Fprintf(s.w, "\r\033[K%s: %s %s (%d/%d)", s.label, gerund(step), item, done, total)
	}
}

// Done notes that step ended having handled done of total items.
func (s *Steps) Done(step string, done, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty {
		fmt.Fprint(s.w, "\r\033[K")
	}
	fmt.Fprintf(s.w, "%s: %s %d/%d packages in %s\n", s.label, step, done, total, time.Since(s.start).Round(10*time.Millisecond))
}

// gerund turns a step's verb into its -ing form: unpack -> unpacking,
// configure -> configuring.
func gerund(verb string) string {
	return strings.TrimSuffix(verb, "e") + "ing"
}
