package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vzkit/vzkit/runtime/sandbox"
)

// A dump is a directory (OpenVZ's DUMPDIR/Dump.CTID unless the admin
// names another): images/ holds CRIU's images, work/ its logs, and
// state.json the container's state record as it was when dumped, which
// restore checks the container against. It is made under a temporary name
// and renamed into place once CRIU has finished, so a dump that exists is
// whole.
type dump struct {
	dir  string
	criu string
}

func (d *dump) options() sandbox.CheckpointOptions {
	return sandbox.CheckpointOptions{
		CRIU: d.criu, ImagesDir: filepath.Join(d.dir, "images"), WorkDir: filepath.Join(d.dir, "work"),
		TCPEstablished: true, FileLocks: true,
	}
}

// DumpPath is where container ctid's dump goes: file when given, else
// DUMPDIR/Dump.CTID.
func (s *Store) DumpPath(ctid, file string) string {
	if file != "" {
		return file
	}
	return filepath.Join(s.G.Get("DUMPDIR"), "Dump."+ctid)
}

// HasDump tells whether ctid has a dump at DumpPath(ctid, file).
func (s *Store) HasDump(ctid, file string) bool {
	_, err := os.Lstat(filepath.Join(s.DumpPath(ctid, file), "state.json"))
	return err == nil
}

// Checkpoint saves running container ctid with CRIU into its dump
// (DumpPath(ctid, file)) and stops it: processes, memory, open files,
// established TCP connections and file locks. A failed checkpoint leaves
// the container running and no dump.
func (s *Store) Checkpoint(ctx context.Context, ctid, file string) error {
	lk, err := s.LockCT(ctid)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	c, err := s.Load(ctid)
	if err != nil {
		return err
	}
	sb, _, err := s.running(c)
	if err != nil {
		return err
	}
	if sb == nil {
		return fmt.Errorf("container %s: %w", ctid, ErrNotRunning)
	}
	rs, ok, err := s.RunState(ctid)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("container %s: %w: no state record (started by an older vzctl: restart it first)", ctid, ErrCheckpoint)
	}
	if !rs.Privileged {
		// CRIU 4.1 restores such a dump only as far as the time
		// namespace, whose image the restored task may not open.
		return fmt.Errorf("container %s: %w: unprivileged containers cannot be checkpointed yet (PRIVILEGED=\"yes\" ones can)", ctid, ErrCheckpoint)
	}
	if rs.Network != nil {
		return fmt.Errorf("container %s: %w: a container with a network interface (%s) cannot be checkpointed yet", ctid, ErrCheckpoint, rs.Network.ContainerIf)
	}
	cs, err := s.RequireCheckpoint(ctx)
	if err != nil {
		return err
	}
	final := s.DumpPath(ctid, file)
	if _, err := os.Lstat(final); err == nil {
		return fmt.Errorf("container %s: %w: %s exists (restore it, or remove it first)", ctid, ErrCheckpoint, final)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return fmt.Errorf("container %s: dump: %w", ctid, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), "."+filepath.Base(final)+".tmp-")
	if err != nil {
		return fmt.Errorf("container %s: dump: %w", ctid, err)
	}
	d := &dump{dir: tmp, criu: cs.CRIU}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(tmp)
		}
	}()
	// Everything the dump holds besides CRIU's images is written first:
	// once CRIU has dumped, the container's processes are gone and the
	// dump is all that is left of them.
	if err := s.writeStateTo(filepath.Join(tmp, "state.json"), rs); err != nil {
		return fmt.Errorf("container %s: dump: %w", ctid, err)
	}
	s.log().Info("checkpointing container", "ctid", ctid, "dump", final, "criu", cs.CRIU)
	o := d.options()
	o.HostFiles = []string{s.consoleLog(ctid)}
	if err := sb.Checkpoint(ctx, o); err != nil {
		return fmt.Errorf("container %s: %w: %w", ctid, ErrCheckpoint, err)
	}
	keep = true
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("container %s: dump made as %s but not renamed to %s (rename it to restore): %w", ctid, tmp, final, err)
	}
	// The processes are gone: what their run held goes as at stop.
	if err := sb.Destroy(); err != nil {
		return fmt.Errorf("container %s: dumped to %s; %w", ctid, final, err)
	}
	s.forgetInit(ctid)
	if err := s.umount(c); err != nil {
		s.log().Warn("unmount after checkpoint", "ctid", ctid, "err", err)
	}
	return nil
}

// Restore resumes container ctid from its dump (DumpPath(ctid, file)),
// set up as start sets it up — root mounted, quota, cgroup and limits
// from its configuration — and removes the dump once it runs. A failed
// restore leaves the dump as it was. Asked for by name, it resumes a
// container whose CTID.conf says DISABLED="yes" too.
func (s *Store) Restore(ctx context.Context, ctid, file string) error {
	return s.restore(ctx, ctid, file, StartOptions{Force: true})
}

// restore is Restore with the start options o (Force, for DISABLED).
func (s *Store) restore(ctx context.Context, ctid, file string, o StartOptions) error {
	lk, err := s.LockCT(ctid)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	dir := s.DumpPath(ctid, file)
	b, ok, err := readOwnFile(filepath.Join(dir, "state.json"), maxStateRecord)
	if err == nil && !ok {
		err = os.ErrNotExist
	}
	if err != nil {
		return fmt.Errorf("container %s: %w: dump %s: %w", ctid, ErrRestore, dir, err)
	}
	was, err := parseState(b)
	if err != nil {
		return fmt.Errorf("container %s: %w: %s: %w", ctid, ErrRestore, filepath.Join(dir, "state.json"), err)
	}
	if was.CTID != ctid {
		return fmt.Errorf("container %s: %w: %s is the dump of container %s", ctid, ErrRestore, dir, was.CTID)
	}
	cs, err := s.RequireCheckpoint(ctx)
	if err != nil {
		return err
	}
	o.restore = &dump{dir: dir, criu: cs.CRIU}
	if err := s.start(ctx, ctid, o); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		s.log().Warn("restored; the dump could not be removed", "ctid", ctid, "dump", dir, "err", err)
	}
	return nil
}
