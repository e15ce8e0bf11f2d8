package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrTooLarge is wrapped by errors for responses larger than Request.MaxSize.
var ErrTooLarge = errors.New("response larger than the size limit")

// errIdle and errAttemptTimeout are the causes given to the request context
// so that the error says which timer fired.
var (
	errIdle           = errors.New("no data received within the idle timeout")
	errAttemptTimeout = errors.New("attempt deadline exceeded")
)

// Options tune a Client. Zero values take the defaults in brackets.
type Options struct {
	DialTimeout    time.Duration // TCP connect including DNS lookup [4s]
	TLSTimeout     time.Duration // TLS handshake [10s]
	HeaderTimeout  time.Duration // request sent to response headers [15s]
	IdleTimeout    time.Duration // longest pause while reading a body [30s]
	AttemptTimeout time.Duration // whole attempt, body included [10m]
	Retries        int           // extra attempts after the first [4]; negative means none
	Backoff        time.Duration // first backoff, doubled per retry [500ms]
	MaxBackoff     time.Duration // backoff cap [10s]
	UserAgent      string        // [vzkit]
	Logger         *slog.Logger  // [slog.Default()]
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.DialTimeout, 4*time.Second)
	def(&o.TLSTimeout, 10*time.Second)
	def(&o.HeaderTimeout, 15*time.Second)
	def(&o.IdleTimeout, 30*time.Second)
	def(&o.AttemptTimeout, 10*time.Minute)
	def(&o.Backoff, 500*time.Millisecond)
	def(&o.MaxBackoff, 10*time.Second)
	if o.Retries == 0 {
		o.Retries = 4
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	if o.UserAgent == "" {
		o.UserAgent = "vzkit"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Client fetches files; it is safe for concurrent use and should be shared
// so that connections are reused.
type Client struct {
	hc   *http.Client
	opts Options
}

// New returns a Client with its own keep-alive transport.
func New(opts Options) *Client {
	opts.defaults()
	dialer := &net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   opts.TLSTimeout,
		ResponseHeaderTimeout: opts.HeaderTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Client{hc: &http.Client{Transport: tr}, opts: opts}
}

// Request describes one file to fetch.
type Request struct {
	// Mirrors are base URLs (http, https or file) holding the same content,
	// tried in order; Path is joined to each. With an empty Path the mirrors
	// are complete URLs of the file.
	Mirrors []string
	Path    string
	// MaxSize limits the body; 0 means no limit.
	MaxSize int64
	// Progress, when set, is called after every write with the bytes
	// written so far and the total size (-1 while unknown).
	Progress func(written, total int64)
}

// Result says where a file came from.
type Result struct {
	URL    string // full URL that answered
	Mirror string // the mirror base it belongs to
	Size   int64  // bytes written
}

// StatusError is an HTTP answer other than 200/206.
type StatusError struct {
	URL    string
	Code   int
	Status string
}

func (e *StatusError) Error() string { return fmt.Sprintf("GET %s: %s", e.URL, e.Status) }

// Is makes 404 and 410 match fs.ErrNotExist, the same as a missing file://.
func (e *StatusError) Is(target error) bool {
	return target == fs.ErrNotExist && (e.Code == http.StatusNotFound || e.Code == http.StatusGone)
}

func (e *StatusError) retryable() bool {
	return e.Code >= 500 || e.Code == http.StatusRequestTimeout || e.Code == http.StatusTooManyRequests
}

// Get fetches one URL into w (no mirrors).
func (c *Client) Get(ctx context.Context, rawURL string, w io.Writer, maxSize int64) (Result, error) {
	return c.Fetch(ctx, Request{Mirrors: []string{rawURL}, MaxSize: maxSize}, w)
}

// Fetch streams the requested file into w, retrying and failing over as the
// package documentation describes. On error, w may hold a prefix of the file.
func (c *Client) Fetch(ctx context.Context, req Request, w io.Writer) (Result, error) {
	if len(req.Mirrors) == 0 {
		return Result{}, fmt.Errorf("fetch %q: no mirror given", req.Path)
	}
	cw := &countWriter{w: w, progress: req.Progress, total: -1}
	missing := make([]bool, len(req.Mirrors))
	nMissing := 0
	cur := 0
	var lastErr error
	for try := 0; ; {
		u, err := Join(req.Mirrors[cur], req.Path)
		if err != nil {
			return Result{}, err
		}
		err = c.attempt(ctx, u, cw, req.MaxSize)
		if err == nil {
			return Result{URL: u, Mirror: req.Mirrors[cur], Size: cw.n}, nil
		}
		lastErr = err
		if ctx.Err() != nil || cw.err != nil || errors.Is(err, ErrTooLarge) {
			return Result{}, err
		}
		var se *StatusError
		if errors.Is(err, fs.ErrNotExist) {
			// Not there: a mirror that is out of sync, not a transient failure.
			missing[cur] = true
			nMissing++
			if nMissing == len(req.Mirrors) {
				return Result{}, err
			}
		} else if errors.As(err, &se) && !se.retryable() {
			return Result{}, err
		} else {
			if try >= c.opts.Retries {
				return Result{}, fmt.Errorf("%w (gave up after %d attempts)", lastErr, try+1)
			}
			d := c.backoff(try)
			try++
			c.opts.Logger.WarnContext(ctx, "fetch failed, retrying", "url", u, "err", err, "in", d)
			if err := sleep(ctx, d); err != nil {
				return Result{}, fmt.Errorf("%w (retry cancelled: %v)", lastErr, err)
			}
		}
		for next := (cur + 1) % len(req.Mirrors); ; next = (next + 1) % len(req.Mirrors) {
			if !missing[next] {
				cur = next
				break
			}
		}
	}
}

// backoff is exponential with equal jitter: half fixed, half random, so that
// parallel downloads that failed together do not retry together.
func (c *Client) backoff(try int) time.Duration {
	d := c.opts.Backoff << min(try, 20)
	if d > c.opts.MaxBackoff || d <= 0 {
		d = c.opts.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// Join appends a relative path to a base URL ("" returns the base).
func Join(base, path string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("mirror URL %q: %w", base, err)
	}
	switch u.Scheme {
	case "http", "https", "file":
	default:
		return "", fmt.Errorf("mirror URL %q: unsupported scheme %q", base, u.Scheme)
	}
	if path == "" {
		return u.String(), nil
	}
	return strings.TrimSuffix(base, "/") + "/" + strings.TrimPrefix(path, "/"), nil
}

// attempt makes one try, appending to cw from offset cw.n.
func (c *Client) attempt(ctx context.Context, rawURL string, cw *countWriter, maxSize int64) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("fetch %q: %w", rawURL, err)
	}
	if u.Scheme == "file" {
		return c.attemptFile(u.Path, cw, maxSize)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.opts.AttemptTimeout, errAttemptTimeout)
	defer cancel()
	ctx, cancelIdle := context.WithCancelCause(ctx)
	defer cancelIdle(nil)

	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	hreq.Header.Set("User-Agent", c.opts.UserAgent)
	offset := cw.n
	if offset > 0 {
		hreq.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	resp, err := c.hc.Do(hreq)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			return fmt.Errorf("GET %s: %w", rawURL, cause)
		}
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	defer resp.Body.Close()

	skip := int64(0)
	switch {
	case resp.StatusCode == http.StatusOK:
		skip = offset // Range ignored: drop what we already have
	case resp.StatusCode == http.StatusPartialContent && offset > 0 &&
		strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(offset, 10)+"-"):
	default:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096)) // lets the connection be reused
		return &StatusError{URL: rawURL, Code: resp.StatusCode, Status: resp.Status}
	}
	cw.total = -1
	if resp.ContentLength >= 0 {
		cw.total = resp.ContentLength + offset - skip
		if maxSize > 0 && cw.total > maxSize {
			return fmt.Errorf("GET %s: %w: %d bytes announced, limit %d", rawURL, ErrTooLarge, cw.total, maxSize)
		}
	}

	idle := time.AfterFunc(c.opts.IdleTimeout, func() { cancelIdle(errIdle) })
	defer idle.Stop()
	body := &idleReader{r: resp.Body, t: idle, d: c.opts.IdleTimeout}
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, body, skip); err != nil {
			return c.bodyErr(ctx, rawURL, err)
		}
	}
	if err := copyLimited(cw, body, maxSize); err != nil {
		if errors.Is(err, ErrTooLarge) || cw.err != nil {
			return fmt.Errorf("GET %s: %w", rawURL, err)
		}
		return c.bodyErr(ctx, rawURL, err)
	}
	if cw.total >= 0 && cw.n != cw.total {
		return fmt.Errorf("GET %s: %w after %d of %d bytes", rawURL, io.ErrUnexpectedEOF, cw.n, cw.total)
	}
	return nil
}

func (c *Client) bodyErr(ctx context.Context, rawURL string, err error) error {
	if ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	return fmt.Errorf("GET %s: reading body: %w", rawURL, err)
}

func (c *Client) attemptFile(path string, cw *countWriter, maxSize int64) error {
	f, st, err := openRegular(path)
	if err != nil {
		return fmt.Errorf("fetch file://%s: %w", path, err)
	}
	defer f.Close()
	cw.total = st.Size()
	if maxSize > 0 && cw.total > maxSize {
		return fmt.Errorf("fetch file://%s: %w: %d bytes, limit %d", path, ErrTooLarge, cw.total, maxSize)
	}
	if _, err := f.Seek(cw.n, io.SeekStart); err != nil {
		return fmt.Errorf("fetch file://%s: %w", path, err)
	}
	if err := copyLimited(cw, f, maxSize); err != nil {
		return fmt.Errorf("fetch file://%s: %w", path, err)
	}
	return nil
}

// openRegular opens path for reading if it is a regular file, deciding
// that before opening it for reading: a template names file:// URLs, and
// a FIFO there would block the download forever, a device never end.
// Symlinks are followed (local mirrors have them: dists/stable -> bookworm).
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	h := os.NewFile(uintptr(fd), path)
	defer h.Close()
	st, err := h.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("not a regular file (mode %v)", st.Mode().Type())
	}
	// Reopening the handle's /proc entry opens the file it holds, not
	// whatever the name points at by now.
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: errors.Unwrap(err)}
	}
	return f, st, nil
}

// copyLimited copies until EOF, failing once more than maxSize bytes in
// total (counting what cw already holds) would be written.
func copyLimited(cw *countWriter, r io.Reader, maxSize int64) error {
	if maxSize <= 0 {
		_, err := io.Copy(cw, r)
		return err
	}
	left := maxSize - cw.n
	n, err := io.Copy(cw, io.LimitReader(r, left+1))
	if err != nil {
		return err
	}
	if n > left {
		return fmt.Errorf("%w (%d bytes)", ErrTooLarge, maxSize)
	}
	return nil
}

// countWriter counts bytes, remembers the writer's own error (which is
// never retried) and reports progress.
type countWriter struct {
	w        io.Writer
	n        int64
	total    int64
	err      error
	progress func(written, total int64)
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	if c.progress != nil && n > 0 {
		c.progress(c.n, c.total)
	}
	return n, err
}

// idleReader pushes the idle deadline forward whenever data arrives.
type idleReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.t.Reset(r.d)
	}
	return n, err
}
