package deb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/extract"
	"github.com/vzkit/vzkit/internal/saferoot"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

// Sources is where the finished root's apt looks for packages: one entry
// per suite, in order (the main suite, then its updates and security
// suites), as mmdebstrap writes the sources it is given.
type Sources struct {
	Entries []Source
	// Keyring, when set, is a host keyring file copied to
	// /etc/apt/keyrings/<base name> and named by Signed-By in a deb822
	// /etc/apt/sources.list.d/debian.sources. When empty the root trusts
	// what its own keyring package installed, and a one-line-per-entry
	// /etc/apt/sources.list is written (mmdebstrap's choice in that case).
	Keyring string
}

// Source is one suite of a mirror.
type Source struct {
	Mirror     string   // base URL: the public mirror, not a build-time one
	Suite      string   // e.g. bookworm, bookworm-security
	Components []string // default: main
}

// BootstrapOptions describes one bootstrap.
type BootstrapOptions struct {
	Root      string   // target directory; created if missing, should be empty
	Essential []string // .deb files of the Essential set, dependency order
	Packages  []string // the remaining .deb files, dependency order
	Sources   Sources
	// Sandbox makes the sandbox configuration dpkg runs in, for a root and
	// a libcontainer state directory; nil = DefaultSandbox. Bootstrap adds
	// the read-only mounts of the .deb directories and forces NetNone.
	Sandbox  func(root, stateDir string) sandbox.Config
	StateDir string // libcontainer state root; "" = a temporary directory
	// PreInstall runs after every package is unpacked and the Essential
	// set is configured, before the rest is configured (template
	// "pre-install" scripts).
	PreInstall     func(ctx context.Context, root string) error
	Stdout, Stderr io.Writer // dpkg's output; nil = discarded
	// Progress, when set, receives an event as each dpkg step starts and
	// ends and as it unpacks or configures each package (from dpkg's
	// messages), for a progress display; it must not block.
	Progress func(Progress)
	Parallel int // concurrent payload extractions; 0 = GOMAXPROCS
	Logger   *slog.Logger
	// ReinstallEssential runs `dpkg --install` over the extracted
	// Essential set, as debootstrap and mmdebstrap do. By default the
	// extracted files are registered in dpkg's database as unpacked, their
	// preinsts run, and dpkg configures them: the same result without
	// unpacking every Essential package twice.
	ReinstallEssential bool
	// AutoInstalled names the packages that apt would have installed only
	// as dependencies; they are marked Auto-Installed in apt's
	// extended_states (for Architecture), as mmdebstrap's apt run leaves
	// them, so that apt-mark showauto and apt autoremove behave the same.
	AutoInstalled []string
	Architecture  string
	// SourceDateEpoch, when not zero, is passed to every maintainer script
	// as SOURCE_DATE_EPOCH: tools that stamp the date into files (shadow's
	// last-change field, for one) use it instead of today, which is what
	// makes a rebuild on another day bit-identical.
	SourceDateEpoch time.Time
}

// DefaultSandbox is the sandbox configuration used when
// BootstrapOptions.Sandbox is nil.
func DefaultSandbox(root, stateDir string) sandbox.Config {
	return sandbox.Config{
		ID:       fmt.Sprintf("vzkit-bootstrap-%d-%d", os.Getpid(), time.Now().UnixNano()),
		Root:     root,
		StateDir: stateDir,
		Hostname: "localhost",
	}
}

// Files Bootstrap puts in for the build only and removes afterwards.
const (
	dpkgCfgSnippet = "etc/dpkg/dpkg.cfg.d/99vzkit-build"
	policyRcD      = "usr/sbin/policy-rc.d"
	debsMountDir   = "tmp/vzkit-debs"
)

// Bootstrap makes opts.Root a Debian system installed by its own dpkg.
func Bootstrap(ctx context.Context, opts BootstrapOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if len(opts.Essential) == 0 {
		return errors.New("deb: bootstrap: no Essential packages given")
	}
	if len(opts.Sources.Entries) == 0 {
		return errors.New("deb: bootstrap: Sources needs an entry")
	}
	for _, e := range opts.Sources.Entries {
		if e.Mirror == "" || e.Suite == "" {
			return errors.New("deb: bootstrap: every Sources entry needs a Mirror and a Suite")
		}
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return fmt.Errorf("deb: bootstrap: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("deb: bootstrap: %w", err)
	}
	// Every host-side access to the root goes through r: packages and
	// maintainer scripts may have left symlinks, FIFOs or device nodes
	// anywhere in it.
	r, err := saferoot.Open(root)
	if err != nil {
		return fmt.Errorf("deb: bootstrap: %w", err)
	}
	defer r.Close()
	start := time.Now()
	ess, err := openAll(opts.Essential)
	if err != nil {
		return err
	}
	rest, err := openAll(opts.Packages)
	if err != nil {
		return err
	}
	if err := setupDirs(r); err != nil {
		return err
	}
	results, err := ExtractAll(ctx, root, ess, opts.Parallel)
	if err != nil {
		return err
	}
	log.Info("extracted essential payloads", "packages", len(ess), "elapsed", time.Since(start).Round(time.Millisecond))
	if err := seedDpkg(r, ess); err != nil {
		return err
	}
	b := &builder{op: "bootstrap", opts: opts, root: root, r: r, log: log}
	if err := b.prepareMounts(append(append([]string{}, opts.Essential...), opts.Packages...)); err != nil {
		return err
	}
	defer b.cleanupMounts()

	// --force-depends: dpkg does not order by Pre-Depends within one call
	// (mmdebstrap does the same); --no-triggers: trigger processing waits
	// for the final configure.
	if opts.ReinstallEssential {
		if err := b.dpkgStep(ctx, "install essential", StepInstall, len(ess), append([]string{"--install", "--force-depends", "--no-triggers"}, b.debArgs(opts.Essential)...)); err != nil {
			return err
		}
	} else {
		if err := registerUnpacked(r, ess, results); err != nil {
			return err
		}
		list, err := stagePreinsts(r, ess)
		if err != nil {
			return err
		}
		err = b.run(ctx, "preinst essential", []string{"/bin/sh", "-c", preinstScript}, strings.NewReader(list), nil)
		r.RemoveAll(preinstDir) // left only on failure
		if err != nil {
			return err
		}
		if err := applyDiversions(r, ess, results); err != nil {
			return err
		}
		if err := b.dpkgStep(ctx, "configure essential", StepConfigure, len(ess), []string{"--configure", "--pending", "--force-depends", "--no-triggers"}); err != nil {
			return err
		}
	}
	if len(rest) > 0 {
		if err := b.dpkgStep(ctx, "unpack", StepUnpack, len(rest), append([]string{"--unpack", "--force-depends", "--no-triggers"}, b.debArgs(opts.Packages)...)); err != nil {
			return err
		}
	}
	if opts.PreInstall != nil {
		if err := opts.PreInstall(ctx, root); err != nil {
			return fmt.Errorf("deb: bootstrap: pre-install hook: %w", err)
		}
	}
	if err := b.dpkgStep(ctx, "configure", StepConfigure, len(rest), []string{"--configure", "--pending", "--force-depends"}); err != nil {
		return err
	}
	if err := b.triggersAndAudit(ctx); err != nil {
		return err
	}
	b.cleanupMounts()
	if err := writeSources(r, opts.Sources); err != nil {
		return err
	}
	if err := finish(r); err != nil {
		return err
	}
	if err := writeExtendedStates(r, opts.Architecture, opts.AutoInstalled); err != nil {
		return err
	}
	if err := cleanup(r); err != nil {
		return err
	}
	log.Info("bootstrapped", "root", root, "packages", len(ess)+len(rest), "elapsed", time.Since(start).Round(time.Millisecond))
	return nil
}

func openAll(files []string) ([]*Package, error) {
	out := make([]*Package, len(files))
	for i, f := range files {
		p, err := Open(f)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// ExtractAll unpacks the payloads of pkgs into root, parallel packages at a
// time (0 = GOMAXPROCS), and returns what each one wrote, in pkgs' order. Packages that ship the same file race for it; this
// is only used before dpkg unpacks every package again in order.
func ExtractAll(ctx context.Context, root string, pkgs []*Package, parallel int) ([]extract.Result, error) {
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	r, err := extract.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]extract.Result, len(pkgs))
	work := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				res, err := pkgs[i].Extract(ctx, r, extract.Options{})
				results[i] = res
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
	// Biggest first keeps both workers busy until the end.
	order := make([]int, len(pkgs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return fileSize(pkgs[order[i]].Path) > fileSize(pkgs[order[j]].Path) })
	for _, i := range order {
		select {
		case work <- i:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return results, ctx.Err()
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// setupDirs creates what dpkg and apt expect before any package provides
// it (the list mmdebstrap creates in its setup phase).
func setupDirs(r *saferoot.Root) error {
	for _, d := range []string{
		"etc/apt/apt.conf.d", "etc/apt/sources.list.d", "etc/apt/preferences.d",
		"var/cache/apt", "var/lib/apt/lists/partial", "var/lib/dpkg/triggers",
		"var/lib/dpkg/info", "var/lib/dpkg/alternatives", "var/lib/dpkg/updates",
		"etc/dpkg/dpkg.cfg.d", "var/log/apt", "tmp",
	} {
		if err := r.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("deb: bootstrap: %w", err)
		}
	}
	if err := r.Chmod("tmp", 0o777|os.ModeSticky); err != nil {
		return fmt.Errorf("deb: bootstrap: %w", err)
	}
	return nil
}

// seedDpkg writes the empty database dpkg needs to start, and the build
// settings removed by cleanup.
func seedDpkg(r *saferoot.Root, ess []*Package) error {
	arch := ""
	for _, p := range ess {
		if p.Architecture != "all" {
			arch = p.Architecture
			break
		}
	}
	if arch == "" {
		return errors.New("deb: bootstrap: no architecture-specific package in the Essential set")
	}
	files := []struct {
		name string
		data string
		mode os.FileMode
	}{
		{"var/lib/dpkg/status", "", 0o644},
		{"var/lib/dpkg/available", "", 0o644},
		{"var/lib/dpkg/arch", arch + "\n", 0o644},
		// No fsync per file: a failed build is thrown away anyway.
		{dpkgCfgSnippet, "force-unsafe-io\n", 0o644},
		// Keep maintainer scripts from starting services.
		{policyRcD, "#!/bin/sh\nexit 101\n", 0o755},
	}
	for _, f := range files {
		if err := writeFile(r, f.name, []byte(f.data), f.mode); err != nil {
			return err
		}
	}
	return nil
}

type builder struct {
	op       string // "bootstrap" or "install", for messages
	opts     BootstrapOptions
	root     string         // host path, for the sandbox
	r        *saferoot.Root // the same root, for every host-side access
	log      *slog.Logger
	mounts   []sandbox.Mount
	inside   map[string]string // host .deb path -> path inside the root
	stateDir string
	tmpState string
}

// prepareMounts plans one read-only bind mount per directory holding .debs.
func (b *builder) prepareMounts(debs []string) error {
	// The mount points are ours: whatever a package put there goes, so
	// that they are plain directories.
	if err := b.r.RemoveAll(debsMountDir); err != nil {
		return fmt.Errorf("deb: %s: %w", b.op, err)
	}
	b.inside = map[string]string{}
	dirs := map[string]string{}
	for _, d := range debs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return err
		}
		dir := filepath.Dir(abs)
		dst, ok := dirs[dir]
		if !ok {
			dst = fmt.Sprintf("/%s/%d", debsMountDir, len(dirs))
			dirs[dir] = dst
			if err := b.r.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("deb: %s: %w", b.op, err)
			}
			b.mounts = append(b.mounts, sandbox.Mount{Source: dir, Destination: dst, ReadOnly: true})
		}
		b.inside[d] = dst + "/" + filepath.Base(abs)
	}
	b.stateDir = b.opts.StateDir
	if b.stateDir == "" {
		tmp, err := os.MkdirTemp("", "vzkit-bootstrap-state-")
		if err != nil {
			return err
		}
		b.stateDir, b.tmpState = tmp, tmp
	}
	return nil
}

func (b *builder) cleanupMounts() {
	b.r.RemoveAll(debsMountDir)
	if b.tmpState != "" {
		os.RemoveAll(b.tmpState)
		b.tmpState = ""
	}
}

func (b *builder) debArgs(debs []string) []string {
	out := make([]string, len(debs))
	for i, d := range debs {
		out[i] = b.inside[d]
	}
	return out
}

// dpkg runs the root's own dpkg with args in a fresh sandbox.
func (b *builder) dpkg(ctx context.Context, step string, args []string, stdin io.Reader, stdout io.Writer) error {
	return b.run(ctx, step, append([]string{"dpkg"}, args...), stdin, stdout)
}

// dpkgStep runs one dpkg step of total packages, reporting its progress to
// opts.Progress (from dpkg's messages on its stdout).
func (b *builder) dpkgStep(ctx context.Context, step string, kind Step, total int, args []string) error {
	if b.opts.Progress == nil {
		return b.dpkg(ctx, step, args, nil, nil)
	}
	out := b.opts.Stdout
	if out == nil {
		out = io.Discard
	}
	w := newStatusWriter(out, kind, total, b.opts.Progress)
	err := b.dpkg(ctx, step, args, nil, w)
	w.finish()
	return err
}

// run runs argv in a fresh sandbox on the root; stdout, when not nil,
// receives its standard output instead of opts.Stdout.
func (b *builder) run(ctx context.Context, step string, argv []string, stdin io.Reader, stdout io.Writer) error {
	mk := b.opts.Sandbox
	if mk == nil {
		mk = DefaultSandbox
	}
	cfg := mk(b.root, b.stateDir)
	cfg.Root = b.root
	cfg.Network = sandbox.Network{Mode: sandbox.NetNone}
	cfg.Mounts = append(cfg.Mounts, b.mounts...)
	stderr := b.opts.Stderr
	if stdout == nil {
		stdout = b.opts.Stdout
	}
	if stdout == nil {
		stdout = io.Discard
	}
	var errTail tailBuffer
	if stderr == nil {
		stderr = io.Discard
	}
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"DEBIAN_FRONTEND=noninteractive",
		"DEBCONF_NONINTERACTIVE_SEEN=true",
		"LC_ALL=C.UTF-8",
		"HOME=/root",
	}
	if !b.opts.SourceDateEpoch.IsZero() {
		env = append(env, fmt.Sprintf("SOURCE_DATE_EPOCH=%d", b.opts.SourceDateEpoch.Unix()))
	}
	start := time.Now()
	code, err := sandbox.Run(ctx, cfg, sandbox.Process{
		Args:   argv,
		Stdin:  stdin,
		Env:    env,
		Cwd:    "/",
		Stdout: stdout,
		Stderr: io.MultiWriter(stderr, &errTail),
	})
	b.log.Info("sandbox step", "step", step, "exit", code, "elapsed", time.Since(start).Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("deb: %s: %s: run %s in sandbox: %w", b.op, step, argv[0], err)
	}
	if code != 0 {
		return fmt.Errorf("deb: %s: %s: %s exited %d: %s", b.op, step, argv[0], code, errTail.String())
	}
	return nil
}

// triggersAndAudit runs the triggers still pending (none, when every
// interested package was configured in the last call), then dpkg --audit,
// which reports any package left half-installed on stdout: that output is
// an error.
func (b *builder) triggersAndAudit(ctx context.Context) error {
	var audit tailBuffer
	check := "dpkg --triggers-only --pending >&2 && dpkg --audit"
	if err := b.run(ctx, "triggers and audit", []string{"/bin/sh", "-c", check}, nil, &audit); err != nil {
		return err
	}
	if audit.String() != "" {
		return fmt.Errorf("deb: %s: dpkg --audit: %s", b.op, audit.String())
	}
	return nil
}

// tailBuffer keeps the last 4 KiB written, for error messages.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return strings.TrimSpace(string(t.b)) }

// writeSources writes the root's apt sources.
func writeSources(r *saferoot.Root, s Sources) error {
	comps := func(e Source) string {
		if len(e.Components) == 0 {
			return "main"
		}
		return strings.Join(e.Components, " ")
	}
	if s.Keyring == "" {
		var b strings.Builder
		for _, e := range s.Entries {
			fmt.Fprintf(&b, "deb %s %s %s\n", e.Mirror, e.Suite, comps(e))
		}
		return writeFile(r, "etc/apt/sources.list", []byte(b.String()), 0o644)
	}
	key, err := os.ReadFile(s.Keyring)
	if err != nil {
		return fmt.Errorf("deb: bootstrap: keyring: %w", err)
	}
	keyPath := "/etc/apt/keyrings/" + filepath.Base(s.Keyring)
	if err := r.MkdirAll("etc/apt/keyrings", 0o755); err != nil {
		return fmt.Errorf("deb: bootstrap: %w", err)
	}
	if err := writeFile(r, keyPath, key, 0o644); err != nil {
		return err
	}
	var stanzas []string
	for _, e := range s.Entries {
		stanzas = append(stanzas, fmt.Sprintf("Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: %s\n",
			e.Mirror, e.Suite, comps(e), keyPath))
	}
	return writeFile(r, "etc/apt/sources.list.d/debian.sources", []byte(strings.Join(stanzas, "\n")), 0o644)
}

// writeFile replaces name in the root with a new file of exactly mode (no
// umask): whatever was there, a symlink or a FIFO included, is replaced,
// not written through.
func writeFile(r *saferoot.Root, name string, data []byte, mode os.FileMode) error {
	if err := r.WriteFile(name, data, mode); err != nil {
		return fmt.Errorf("deb: bootstrap: %w", err)
	}
	return nil
}

// writeExtendedStates records auto-installed packages the way apt does:
// one stanza per package, here sorted by name so the file is reproducible.
func writeExtendedStates(r *saferoot.Root, arch string, auto []string) error {
	if len(auto) == 0 {
		return nil
	}
	if arch == "" {
		return errors.New("deb: bootstrap: AutoInstalled needs Architecture")
	}
	names := append([]string(nil), auto...)
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "Package: %s\nArchitecture: %s\nAuto-Installed: 1\n\n", n, arch)
	}
	return writeFile(r, "var/lib/apt/extended_states", []byte(b.String()), 0o644)
}

// finish does what debootstrap and apt's first run would have done: an
// unconfigured /etc/fstab, and apt's private download directories (0700).
func finish(r *saferoot.Root) error {
	// An existing fstab, even a symlink, is the packages' and stays.
	if ok, err := r.Exists("etc/fstab"); err != nil {
		return fmt.Errorf("deb: bootstrap: %w", err)
	} else if !ok {
		if err := writeFile(r, "etc/fstab", []byte("# UNCONFIGURED FSTAB FOR BASE SYSTEM\n"), 0o644); err != nil {
			return err
		}
	}
	for _, d := range []string{"var/cache/apt/archives/partial", "var/lib/apt/lists/partial"} {
		if err := r.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("deb: bootstrap: %w", err)
		}
		// Chmod refuses a symlink: apt would download through it.
		if err := r.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("deb: bootstrap: %w", err)
		}
	}
	return nil
}

// cleanup removes what the build left that a fresh root should not carry;
// the list follows mmdebstrap's cleanup phase. What a package or script
// put in the way is removed or replaced, never followed: a symlink is
// removed itself, a directory on the way that is not one holds nothing to
// remove, and a /tmp, /run or apt cache directory that is not a directory
// (a symlink, say) has nothing to empty and is left as the packages made it.
func cleanup(r *saferoot.Root) error {
	var errs []error
	rm := func(name string) {
		if err := r.Remove(name); err != nil && !absent(err) {
			errs = append(errs, err)
		}
	}
	for _, f := range []string{
		dpkgCfgSnippet, policyRcD,
		"var/log/apt/history.log", "var/log/apt/term.log",
		"var/log/apt/eipp.log.xz", "var/lib/dbus/machine-id",
	} {
		rm(f)
	}
	for _, f := range dpkgRunLogs {
		rm(f)
	}
	// dpkg >= 1.20 no longer needs an available file; keep it only if
	// something wrote to it.
	if st, err := r.Lstat("var/lib/dpkg/available"); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0 {
		rm("var/lib/dpkg/available")
	}
	// Empty, not absent: systemd then treats the first boot as such.
	if err := emptyMachineID(r); err != nil {
		errs = append(errs, err)
	}
	for _, dir := range []string{"tmp", "run", "var/cache/apt/archives", "var/lib/apt/lists"} {
		st, err := r.Lstat(dir)
		if err != nil {
			if !absent(err) {
				errs = append(errs, err)
			}
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		names, err := r.ReadDir(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, n := range names {
			keep := (dir == "run" && n == "lock") ||
				(dir != "tmp" && dir != "run" && (n == "partial" || n == "lock"))
			if keep {
				continue
			}
			errs = append(errs, r.RemoveAll(dir+"/"+n))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("deb: bootstrap: cleanup: %w", err)
	}
	return nil
}

// emptyMachineID truncates /etc/machine-id when there is one. Anything
// else there than a regular file (a symlink, a FIFO, a device node) cannot
// be emptied without following or opening it, and is replaced by an empty
// file with the mode systemd gives it.
func emptyMachineID(r *saferoot.Root) error {
	const name = "etc/machine-id"
	st, err := r.Lstat(name)
	switch {
	case absent(err):
		return nil
	case err != nil:
		return err
	case st.Mode&unix.S_IFMT == unix.S_IFREG:
		return r.Truncate(name, 0)
	}
	return r.WriteFile(name, nil, 0o444)
}

// absent reports an error that says a name does not exist in the root,
// for a removal that then has nothing to do: ENOENT, or ENOTDIR for a
// directory on the way that is something else.
func absent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR)
}
