package rpm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/vzkit/vzkit/internal/extract"
	"github.com/vzkit/vzkit/internal/saferoot"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

// BootstrapOptions describes one bootstrap (see the package
// documentation's plan for registering packages).
type BootstrapOptions struct {
	Root string // target directory; created if missing, should be empty
	// Packages are the .rpm files of the whole solved set, in install
	// order; rpm installs them in one transaction.
	Packages []string
	// Bootstrap are the files of the packages rpm itself needs to run
	// (the distro's rpm and its Requires closure), a subset of Packages
	// in install order: they are extracted into the empty root first.
	Bootstrap []string
	// Keys are armored public keys, one per entry, imported into the
	// root's rpmdb (rpmkeys --import) before the transaction, so that
	// the root's rpm checks the signatures again.
	Keys [][]byte
	// Keyring holds the template's keys; every package needs a good
	// signature by one of them unless its file is in Insecure.
	Keyring Keys
	// Insecure are the files of repositories marked insecure: true: no
	// signature required, weak digests accepted (and rpm inside checks
	// digests only).
	Insecure map[string]bool
	// SHA256 gives a file's checksum from verified repository metadata.
	SHA256 map[string]string
	// StateDir is the sandboxes' libcontainer state root; "" = a
	// temporary directory.
	StateDir string
	// PreInstall runs after the bootstrap set is unpacked and the keys
	// imported, before rpm installs the set (template pre-install
	// scripts); may be nil.
	PreInstall      func(ctx context.Context) error
	Stdout, Stderr  io.Writer // rpm's output; nil = discarded
	Logger          *slog.Logger
	SourceDateEpoch time.Time // passed to scriptlets when not zero
	// Step, when set, is told as each step starts (done false) and ends,
	// with the number of items (packages, keys) it works on.
	Step func(step string, items int, done bool)
}

// rpmdbDirs are where distributions keep the rpmdb: Fedora 36 and later
// and EL10 in /usr/lib/sysimage/rpm (/var/lib/rpm a symlink to it), the
// others in /var/lib/rpm.
var rpmdbDirs = []string{"usr/lib/sysimage/rpm", "var/lib/rpm"}

// Paths Bootstrap uses inside the root for the build only and removes.
const (
	rpmsMountDir = "tmp/vzkit-rpms"
	keysDir      = "tmp/vzkit-keys"
)

// Bootstrap makes opts.Root an RPM system installed by its own rpm: every
// package verified, rpm's closure extracted, the template's keys
// imported, then `rpm -i` over the whole set inside a sandbox with no
// network, the package files bind-mounted read-only.
func Bootstrap(ctx context.Context, opts BootstrapOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	step := func(s string, items int, done bool) {
		if opts.Step != nil {
			opts.Step(s, items, done)
		}
	}
	if len(opts.Packages) == 0 {
		return errors.New("rpm: bootstrap: no packages given")
	}
	if len(opts.Bootstrap) == 0 {
		return errors.New("rpm: bootstrap: no bootstrap set given (the package providing /usr/bin/rpm and its closure)")
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return fmt.Errorf("rpm: bootstrap: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("rpm: bootstrap: %w", err)
	}
	start := time.Now()

	// Every package is verified before any is used: a package the root's
	// rpm would install must pass the same checks as the ones extracted.
	step("verify", len(opts.Packages), false)
	opened := map[string]*Package{}
	for _, f := range opts.Packages {
		p, err := Open(f)
		if err != nil {
			return fmt.Errorf("rpm: bootstrap: %w", err)
		}
		if _, err := p.Verify(ctx, opts.verifyOptions(f)); err != nil {
			return fmt.Errorf("rpm: bootstrap: %w", err)
		}
		opened[f] = p
	}
	step("verify", len(opts.Packages), true)

	step("extract", len(opts.Bootstrap), false)
	er, err := extract.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("rpm: bootstrap: %w", err)
	}
	for _, f := range opts.Bootstrap {
		p := opened[f]
		if p == nil {
			return fmt.Errorf("rpm: bootstrap: %s is in the bootstrap set but not among the packages", f)
		}
		if _, err := p.Extract(ctx, er, ExtractOptions{Options: opts.verifyOptions(f)}); err != nil {
			er.Close()
			return fmt.Errorf("rpm: bootstrap: %w", err)
		}
	}
	er.Close()
	step("extract", len(opts.Bootstrap), true)
	log.Info("extracted rpm's closure", "packages", len(opts.Bootstrap), "elapsed", time.Since(start).Round(time.Millisecond))

	// Every host-side access to the root from here goes through r: the
	// payloads may have put symlinks anywhere.
	r, err := saferoot.Open(root)
	if err != nil {
		return fmt.Errorf("rpm: bootstrap: %w", err)
	}
	defer r.Close()
	b := &rpmRunner{opts: opts, root: root, log: log}
	defer func() {
		r.RemoveAll(rpmsMountDir)
		r.RemoveAll(keysDir)
		if b.tmpState != "" {
			os.RemoveAll(b.tmpState)
		}
	}()
	if err := b.prepare(r); err != nil {
		return err
	}

	if len(opts.Keys) > 0 {
		step("import keys", len(opts.Keys), false)
		if err := r.RemoveAll(keysDir); err != nil {
			return fmt.Errorf("rpm: bootstrap: %w", err)
		}
		if err := r.MkdirAll(keysDir, 0o755); err != nil {
			return fmt.Errorf("rpm: bootstrap: %w", err)
		}
		args := []string{"rpmkeys", "--import"}
		for i, k := range opts.Keys {
			name := fmt.Sprintf("%s/key-%d.asc", keysDir, i)
			if err := r.WriteFile(name, k, 0o644); err != nil {
				return fmt.Errorf("rpm: bootstrap: %w", err)
			}
			args = append(args, "/"+name)
		}
		if err := b.run(ctx, "import keys", args); err != nil {
			return err
		}
		if err := r.RemoveAll(keysDir); err != nil {
			return fmt.Errorf("rpm: bootstrap: %w", err)
		}
		step("import keys", len(opts.Keys), true)
	}
	if opts.PreInstall != nil {
		if err := opts.PreInstall(ctx); err != nil {
			return fmt.Errorf("rpm: bootstrap: pre-install hook: %w", err)
		}
	}

	// One transaction: rpm orders the set and runs every scriptlet and
	// trigger itself. --nodeps is not given: rpm disagreeing with the
	// solver is an error worth seeing. With a signature required, rpm's
	// own check asks for one too.
	step("install", len(opts.Packages), false)
	level := "signature"
	if len(opts.Insecure) > 0 {
		level = "digest"
	}
	args := []string{"rpm", "-i", "--define", "_pkgverify_level " + level}
	for _, f := range opts.Packages {
		args = append(args, b.inside[f])
	}
	if err := b.run(ctx, "install", args); err != nil {
		return err
	}
	step("install", len(opts.Packages), true)
	if err := r.RemoveAll(rpmsMountDir); err != nil {
		return fmt.Errorf("rpm: bootstrap: %w", err)
	}
	// sqlite's -shm file is an index of the write-ahead log that sqlite
	// rebuilds on the next open (it holds nothing persistent), and its
	// bytes vary from run to run: it would make the cache differ between
	// two identical builds.
	for _, dir := range rpmdbDirs {
		if err := r.RemoveAll(dir + "/rpmdb.sqlite-shm"); err != nil {
			return fmt.Errorf("rpm: bootstrap: %w", err)
		}
	}
	log.Info("bootstrapped", "root", root, "packages", len(opts.Packages), "elapsed", time.Since(start).Round(time.Millisecond))
	return nil
}

// verifyOptions are the checks for one package file.
func (o *BootstrapOptions) verifyOptions(file string) Options {
	insecure := o.Insecure[file]
	return Options{Keyring: o.Keyring, RequireSignature: !insecure, AllowWeakDigests: insecure, SHA256: o.SHA256[file]}
}

// BuildTime is the package's BUILDTIME header tag.
func (p *Package) BuildTime() (time.Time, error) {
	n, err := p.Header.GetInts(rpmutils.BUILDTIME)
	if err != nil || len(n) == 0 {
		return time.Time{}, fmt.Errorf("rpm: %s: no build time in the header", p.base())
	}
	return time.Unix(int64(n[0]), 0), nil
}

// rpmRunner runs the root's rpm in fresh sandboxes.
type rpmRunner struct {
	opts     BootstrapOptions
	root     string
	log      *slog.Logger
	mounts   []sandbox.Mount
	inside   map[string]string // host .rpm path -> path inside the root
	stateDir string
	tmpState string
}

// prepare plans one read-only bind mount per directory holding packages
// (the package store keeps them in a few directories by hash prefix).
func (b *rpmRunner) prepare(r *saferoot.Root) error {
	// The mount points are ours: whatever a package put there goes.
	if err := r.RemoveAll(rpmsMountDir); err != nil {
		return fmt.Errorf("rpm: bootstrap: %w", err)
	}
	b.inside = map[string]string{}
	dirs := map[string]string{}
	for _, f := range b.opts.Packages {
		abs, err := filepath.Abs(f)
		if err != nil {
			return err
		}
		dir := filepath.Dir(abs)
		dst, ok := dirs[dir]
		if !ok {
			dst = fmt.Sprintf("/%s/%d", rpmsMountDir, len(dirs))
			dirs[dir] = dst
			if err := r.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("rpm: bootstrap: %w", err)
			}
			b.mounts = append(b.mounts, sandbox.Mount{Source: dir, Destination: dst, ReadOnly: true})
		}
		b.inside[f] = dst + "/" + filepath.Base(abs)
	}
	b.stateDir = b.opts.StateDir
	if b.stateDir == "" {
		tmp, err := os.MkdirTemp("", "vzkit-rpm-state-")
		if err != nil {
			return err
		}
		b.stateDir, b.tmpState = tmp, tmp
	}
	return nil
}

// run runs argv inside the root with no network.
func (b *rpmRunner) run(ctx context.Context, step string, argv []string) error {
	stdout, stderr := b.opts.Stdout, b.opts.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	var tail tailWriter
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LC_ALL=C",
		"HOME=/root",
	}
	if !b.opts.SourceDateEpoch.IsZero() {
		env = append(env, fmt.Sprintf("SOURCE_DATE_EPOCH=%d", b.opts.SourceDateEpoch.Unix()))
	}
	start := time.Now()
	code, err := sandbox.Run(ctx, sandbox.Config{
		ID:       fmt.Sprintf("vzkit-rpm-%d-%d", os.Getpid(), time.Now().UnixNano()),
		Root:     b.root,
		StateDir: b.stateDir,
		Hostname: "localhost",
		Network:  sandbox.Network{Mode: sandbox.NetNone},
		Mounts:   b.mounts,
	}, sandbox.Process{Args: argv, Env: env, Cwd: "/", Stdout: io.MultiWriter(stdout, &tail), Stderr: io.MultiWriter(stderr, &tail)})
	b.log.Info("sandbox step", "step", step, "exit", code, "elapsed", time.Since(start).Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("rpm: bootstrap: %s: run %s in sandbox: %w", step, argv[0], err)
	}
	if code != 0 {
		return fmt.Errorf("rpm: bootstrap: %s: %s exited %d: %s", step, argv[0], code, tail.String())
	}
	return nil
}

// tailWriter keeps the last 4 KiB written, for error messages.
type tailWriter struct{ b []byte }

func (t *tailWriter) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return strings.TrimSpace(string(t.b)) }
