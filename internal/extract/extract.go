package extract

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/bufpool"
)

// Default limits; a minbase Debian root is ~80 MB in ~8,000 entries, the
// largest Debian packages unpack to a few GiB.
const (
	DefaultMaxEntries    = 1 << 20
	DefaultMaxFileBytes  = 8 << 30
	DefaultMaxTotalBytes = 32 << 30
	// The stream also carries headers: 4 KiB for each of the
	// DefaultMaxEntries covers long names and xattr records.
	DefaultMaxStreamBytes = DefaultMaxTotalBytes + DefaultMaxEntries*4<<10
)

// ErrUnsafePath is wrapped by errors for entry names or link targets that
// would leave the destination.
var ErrUnsafePath = errors.New("unsafe path in archive")

// ErrLimit is wrapped by errors for archives over a size or count limit.
var ErrLimit = errors.New("archive exceeds limit")

// Options tune one extraction. The zero value is ready to use.
type Options struct {
	MaxEntries     int   // entries (PAX global headers aside); 0 = DefaultMaxEntries
	MaxFileBytes   int64 // content of one regular file; 0 = DefaultMaxFileBytes
	MaxTotalBytes  int64 // content of all regular files; 0 = DefaultMaxTotalBytes
	MaxStreamBytes int64 // the decompressed tar stream; 0 = DefaultMaxStreamBytes
	// Workers write regular files in parallel (default GOMAXPROCS).
	Workers int
	// IgnoreOwner keeps the owner of the extracting process and sets
	// only user.* xattrs (for unprivileged callers); otherwise the
	// archive's numeric owners and all its xattrs are applied.
	IgnoreOwner bool
}

func (o Options) withDefaults() Options {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if o.MaxStreamBytes <= 0 {
		o.MaxStreamBytes = DefaultMaxStreamBytes
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// Result describes what one archive put into the destination.
type Result struct {
	// Paths are the created entries in archive order, in dpkg's form
	// (DpkgPath), when the policy has RecordPaths.
	Paths []string
	Bytes int64 // regular file content written
	// SkippedDevices counts device nodes left out because they are not
	// StandardDevice.
	SkippedDevices int
}

// Root is an open destination directory. It is safe for concurrent use by
// several Extract calls (packages unpacked in parallel).
type Root struct {
	fd int // O_PATH descriptor
}

// OpenRoot opens dir, which must exist, as a destination.
func OpenRoot(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("extract: open destination %s: %w", dir, err)
	}
	return &Root{fd: fd}, nil
}

// Close releases the destination handle.
func (r *Root) Close() error { return unix.Close(r.fd) }

// Extract writes every entry of the tar stream into the root under policy
// p. On error the root holds the entries written so far; callers build into
// a new directory and discard it on failure.
func (r *Root) Extract(ctx context.Context, stream io.Reader, p Policy, opts Options) (Result, error) {
	opts = opts.withDefaults()
	x := &extractor{
		ctx:     ctx,
		root:    r.fd,
		policy:  p,
		opts:    opts,
		chown:   !opts.IgnoreOwner,
		jobs:    make(chan fileJob, 4*opts.Workers),
		pending: map[string]chan struct{}{},
		dirAt:   map[string]int{},
		lastFd:  -1,
	}
	for range opts.Workers {
		x.wg.Add(1)
		go x.worker()
	}
	err := x.run(newEntryReader(stream, p, opts))
	close(x.jobs)
	x.wg.Wait()
	x.dropParent()
	if err == nil {
		err = x.firstErr()
	}
	if err == nil {
		err = x.finishDirs()
	}
	return x.res, err
}

// List returns the paths Extract would record for the stream under policy
// p, in dpkg's form, without writing anything. Names and limits are
// checked as Extract checks them.
func List(ctx context.Context, stream io.Reader, p Policy, opts Options) ([]string, error) {
	er := newEntryReader(stream, p, opts.withDefaults())
	var out []string
	for {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		hdr, name, err := er.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if !isSkippedDevice(hdr) {
			out = append(out, DpkgPath(name))
		}
	}
}

// entryReader reads tar headers within the limits and cleans their names.
type entryReader struct {
	lr      *limitReader
	tr      *tar.Reader
	policy  Policy
	entries int
	max     int
}

func newEntryReader(stream io.Reader, p Policy, opts Options) *entryReader {
	lr := &limitReader{r: stream, left: opts.MaxStreamBytes, max: opts.MaxStreamBytes}
	return &entryReader{lr: lr, tr: tar.NewReader(lr), policy: p, max: opts.MaxEntries}
}

// next returns the next entry and its cleaned name, io.EOF after the last.
// The entry's content is read from er.tr.
func (er *entryReader) next() (*tar.Header, string, error) {
	for {
		hdr, err := er.tr.Next()
		if err == io.EOF && er.lr.left < 0 {
			// The read that crossed the limit returned all it was asked
			// for, and io.ReadFull drops an error that comes with that.
			return nil, "", fmt.Errorf("extract: %w", er.lr.err())
		}
		if err == io.EOF {
			return nil, "", io.EOF
		}
		if err != nil {
			return nil, "", fmt.Errorf("extract: read tar after %d entries: %w", er.entries, err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // archive-wide PAX defaults, not a file
		}
		if er.entries++; er.entries > er.max {
			return nil, "", fmt.Errorf("extract: %w: entry limit of %d exceeded", ErrLimit, er.max)
		}
		name, err := er.policy.CleanName(hdr.Name)
		if err != nil {
			return nil, "", fmt.Errorf("extract: entry %d: %w", er.entries, err)
		}
		return hdr, name, nil
	}
}

// limitReader fails once more than max bytes were read.
type limitReader struct {
	r         io.Reader
	left, max int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, l.err()
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, l.err()
	}
	return n, err
}

func (l *limitReader) err() error {
	return fmt.Errorf("%w: the decompressed tar stream exceeds the limit of %d bytes", ErrLimit, l.max)
}

// smallFile is the largest file handed to a worker with its content in
// memory; larger files are written by the reading goroutine as a stream.
// With the job queue bounded, at most about 5×workers MiB are buffered.
const smallFile = 1 << 20

type fileJob struct {
	meta
	data []byte
	done chan struct{}
}

type extractor struct {
	ctx    context.Context
	root   int // O_PATH descriptor of the destination
	policy Policy
	opts   Options
	chown  bool
	res    Result

	jobs    chan fileJob
	wg      sync.WaitGroup
	pending map[string]chan struct{} // regular files handed to workers
	dirs    []meta                   // metadata applied after all content
	dirAt   map[string]int           // index in dirs by name: a repeated entry wins

	mu  sync.Mutex
	err error

	// One cached parent directory descriptor: archives are sorted, so
	// consecutive entries mostly share their parent.
	lastDir string
	lastFd  int
}

func (x *extractor) fail(err error) {
	x.mu.Lock()
	if x.err == nil {
		x.err = err
	}
	x.mu.Unlock()
}

func (x *extractor) firstErr() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

func (x *extractor) worker() {
	defer x.wg.Done()
	for j := range x.jobs {
		if x.firstErr() == nil {
			if err := x.writeFile(j.meta, j.data, nil, 0); err != nil {
				x.fail(fmt.Errorf("extract: entry %q: %w", j.entry, err))
			}
		}
		bufpool.Put(j.data)
		close(j.done)
	}
}

func (x *extractor) run(er *entryReader) error {
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		if err := x.firstErr(); err != nil {
			return err
		}
		hdr, name, err := er.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := x.entry(hdr, name, er.tr); err != nil {
			return fmt.Errorf("extract: entry %q: %w", hdr.Name, err)
		}
	}
}

// parent returns a descriptor of the directory dir below the destination,
// creating missing directories (mode 0755, owned by the extracting process,
// as tar does for entries whose directory is not in the archive).
func (x *extractor) parent(dir string) (int, error) {
	if dir == "" {
		return x.root, nil
	}
	if x.lastFd >= 0 && x.lastDir == dir {
		return x.lastFd, nil
	}
	x.dropParent()
	fd, err := openDir(x.root, dir)
	if errors.Is(err, unix.ENOENT) {
		fd, err = x.mkdirAll(dir)
	}
	if err != nil {
		return -1, fmt.Errorf("directory %q: %w", dir, err)
	}
	x.lastDir, x.lastFd = dir, fd
	return fd, nil
}

func (x *extractor) dropParent() {
	if x.lastFd >= 0 {
		unix.Close(x.lastFd)
		x.lastFd = -1
	}
}
