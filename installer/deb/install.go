package deb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/vzkit/vzkit/internal/saferoot"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

// InstallOptions describes installing packages into an existing Debian
// root, such as a cache being updated.
type InstallOptions struct {
	Root string
	Debs []string // .deb files, in install order
	// Sandbox, StateDir, Stdout, Stderr, SourceDateEpoch and Logger mean
	// what they mean in BootstrapOptions.
	Sandbox         func(root, stateDir string) sandbox.Config
	StateDir        string
	Stdout, Stderr  io.Writer
	SourceDateEpoch time.Time
	Logger          *slog.Logger
}

// dpkgRunLogs are the files a dpkg run writes that a built root does not
// carry (Bootstrap's cleanup removes them too).
var dpkgRunLogs = []string{"var/log/dpkg.log", "var/log/alternatives.log", "var/cache/ldconfig/aux-cache"}

// Install lets the root's own dpkg install opts.Debs in a sandbox with no
// network, through the same machinery as Bootstrap: the directories
// holding the .debs bind-mounted read-only, a temporary policy-rc.d so
// that no service starts (unless the root has its own), locally changed
// conffiles kept (--force-confold), then pending configuration and
// triggers, and dpkg --audit, which must find nothing half done. dpkg's
// logs are removed afterwards.
//
// --force-depends: one dpkg call does not order Pre-Depends among the
// packages it is given; the caller has solved the final set, and the
// configure and audit steps prove nothing was left unconfigured.
func Install(ctx context.Context, opts InstallOptions) (err error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return fmt.Errorf("deb: install: %w", err)
	}
	// The root (a cache's, say) and what its packages do are untrusted:
	// every host-side access goes through r.
	r, err := saferoot.Open(root)
	if err != nil {
		return fmt.Errorf("deb: install: %w", err)
	}
	defer r.Close()
	b := &builder{op: "install", opts: BootstrapOptions{
		Sandbox: opts.Sandbox, StateDir: opts.StateDir, Stdout: opts.Stdout, Stderr: opts.Stderr,
		SourceDateEpoch: opts.SourceDateEpoch,
	}, root: root, r: r, log: log}
	if err := b.prepareMounts(opts.Debs); err != nil {
		return err
	}
	defer b.cleanupMounts()
	// Anything at policy-rc.d, even a dangling symlink, is the root's own.
	hasPolicy, err := r.Exists(policyRcD)
	if err != nil {
		return fmt.Errorf("deb: install: %w", err)
	}
	if !hasPolicy {
		if err := r.WriteFile(policyRcD, []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
			return fmt.Errorf("deb: install: %w", err)
		}
		defer func() {
			if rmErr := r.Remove(policyRcD); rmErr != nil && !absent(rmErr) && err == nil {
				err = fmt.Errorf("deb: install: %w", rmErr)
			}
		}()
	}
	args := append([]string{"--install", "--force-depends", "--force-confdef", "--force-confold"}, b.debArgs(opts.Debs)...)
	if err := b.dpkg(ctx, "install", args, nil, nil); err != nil {
		return err
	}
	if err := b.dpkg(ctx, "configure", []string{"--configure", "--pending"}, nil, nil); err != nil {
		return err
	}
	if err := b.triggersAndAudit(ctx); err != nil {
		return err
	}
	for _, f := range dpkgRunLogs {
		if err := r.Remove(f); err != nil && !absent(err) {
			return fmt.Errorf("deb: install: %w", err)
		}
	}
	return nil
}
