package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// criuCheckTimeout bounds each `criu check`: it probes the kernel and
// returns in well under a second; one that hangs must not hang vzctl.
const criuCheckTimeout = 30 * time.Second

// CheckpointSupport is what this host's CRIU says it can do: checkpoint
// and restore at all (`criu check`), iterative pre-dump of memory
// (`--feature mem_dirty_track`, soft-dirty page tracking) and post-copy
// restore (`--feature uffd-noncoop`, userfaultfd), the two ways a live
// migration shortens the time a container is frozen.
type CheckpointSupport struct {
	CRIU    string `json:"criu"`    // the binary run: the CRIU setting, resolved on PATH
	Origin  string `json:"origin"`  // where the CRIU setting comes from
	Version string `json:"version"` // first line of `criu --version`
	Works   bool   `json:"works"`
	// Why says what failed when Works is false: criu's own words.
	Why          string `json:"why,omitempty"`
	PreDump      bool   `json:"pre_dump"`
	LazyPages    bool   `json:"lazy_pages"`
	PreDumpWhy   string `json:"pre_dump_why,omitempty"`
	LazyPagesWhy string `json:"lazy_pages_why,omitempty"`
}

// CheckCheckpoint runs the CRIU the configuration names (vz.conf's CRIU,
// "criu" on PATH by default) the way `vzctl check` reports it. A missing
// binary is no error: Works is false and Why says how to get one.
func (s *Store) CheckCheckpoint(ctx context.Context) (CheckpointSupport, error) {
	cs := s.checkCRIU(ctx)
	if !cs.Works {
		return cs, nil
	}
	if out, err := runCRIU(ctx, cs.CRIU, "check", "--feature", "mem_dirty_track"); err == nil {
		cs.PreDump = true
	} else {
		cs.PreDumpWhy = lastLines(out, 3)
	}
	if out, err := runCRIU(ctx, cs.CRIU, "check", "--feature", "uffd-noncoop"); err == nil {
		cs.LazyPages = true
	} else {
		cs.LazyPagesWhy = lastLines(out, 3)
	}
	return cs, nil
}

// checkCRIU is CheckCheckpoint without the feature checks: the binary,
// its version and `criu check`.
func (s *Store) checkCRIU(ctx context.Context) CheckpointSupport {
	cs := CheckpointSupport{CRIU: s.G.Get("CRIU"), Origin: s.G.Origin("CRIU")}
	if cs.CRIU == "" {
		cs.CRIU = "criu"
	}
	bin, err := exec.LookPath(cs.CRIU)
	if err != nil {
		cs.Why = fmt.Sprintf("CRIU=%s (%s): %v; install CRIU 4 or later and point CRIU at it", cs.CRIU, cs.Origin, err)
		return cs
	}
	cs.CRIU = bin
	out, err := runCRIU(ctx, bin, "--version")
	if err != nil {
		cs.Why = fmt.Sprintf("%s --version: %v: %s", bin, err, out)
		return cs
	}
	cs.Version, _, _ = strings.Cut(strings.TrimSpace(out), "\n")
	cs.Version = strings.TrimPrefix(cs.Version, "Version: ")
	if out, err := runCRIU(ctx, bin, "check"); err != nil {
		cs.Why = fmt.Sprintf("%s check: %v: %s", bin, err, lastLines(out, 8))
		return cs
	}
	cs.Works = true
	return cs
}

// RequireCheckpoint is the check for the commands that checkpoint:
// ErrCheckpointUnsupported, with criu's reason, when CRIU does not work.
// It leaves out the feature checks, which those commands do not use and
// whose two more runs of criu would lengthen every checkpoint and
// restore.
func (s *Store) RequireCheckpoint(ctx context.Context) (CheckpointSupport, error) {
	cs := s.checkCRIU(ctx)
	if !cs.Works {
		return cs, fmt.Errorf("%w: %s", ErrCheckpointUnsupported, cs.Why)
	}
	return cs, nil
}

// runCRIU runs bin with args and returns what it printed, both streams.
func runCRIU(ctx context.Context, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, criuCheckTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer in %s", criuCheckTimeout)
	}
	return out.String(), err
}

// lastLines is the last n lines of s, trimmed: where criu says why.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
