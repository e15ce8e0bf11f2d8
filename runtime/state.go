package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/atomicfile"
)

// stateVersion is the version of the state record's schema; a record of
// another version is refused rather than half understood.
const stateVersion = 1

// maxStateRecord bounds the state record read back: a real one is under
// 2 KiB.
const maxStateRecord = 64 << 10

// RunState is what the start of a running container established, recorded
// in STATEDIR/ct/CTID.state so that every later command (stop, status,
// set, and the checkpoint, restore and migration built on it) reads one
// typed value instead of deriving names again: how its init is shut down,
// which sandbox and cgroup hold it, where its root is mounted from, and
// how it is attached to the network.
type RunState struct {
	Version int       `json:"version"`
	CTID    string    `json:"ctid"`
	Started time.Time `json:"started"`
	// Init is the kind of init running, InitPID its host pid at start.
	Init    InitKind `json:"init"`
	InitPID int      `json:"init_pid"`
	// SandboxID names the libcontainer container under STATEDIR/sandbox.
	SandboxID  string `json:"sandbox_id"`
	CgroupPath string `json:"cgroup_path"`
	Privileged bool   `json:"privileged"`
	// Layout, Private and Root: the storage layout, the private area and
	// VE_ROOT, where the layout mounted it.
	Layout  Layout `json:"layout"`
	Private string `json:"private"`
	Root    string `json:"root"`
	// Mounts are the host directories the sandbox gets beside its root.
	Mounts []StateMount `json:"mounts,omitempty"`
	// Network is nil for a container with no interface but loopback.
	Network *NetAttachment `json:"network,omitempty"`
}

// StateMount is one host directory mounted into a container.
type StateMount struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	ReadOnly    bool   `json:"read_only,omitempty"`
}

// NetAttachment is how a Network attached a container: a veth pair whose
// host side is HostIf (on Bridge in bridged mode), its side ContainerIf,
// with Addrs; in routed mode each address is routed to HostIf.
type NetAttachment struct {
	Mode        string         `json:"mode"`
	Bridge      string         `json:"bridge,omitempty"`
	HostIf      string         `json:"host_if"`
	ContainerIf string         `json:"container_if"`
	Addrs       []netip.Prefix `json:"addrs"`
}

func (s *Store) stateRecord(ctid string) string {
	return filepath.Join(s.ctDir(), ctid+".state")
}

// writeState records st atomically (a reader sees the old record or the
// new one, never a part).
func (s *Store) writeState(st *RunState) error {
	if err := ownDir(s.ctDir()); err != nil {
		return fmt.Errorf("container %s: state: %w", st.CTID, err)
	}
	if err := s.writeStateTo(s.stateRecord(st.CTID), st); err != nil {
		return fmt.Errorf("container %s: state: %w", st.CTID, err)
	}
	return nil
}

// writeStateTo writes st to p atomically.
func (s *Store) writeStateTo(p string, st *RunState) error {
	st.Version = stateVersion
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(p, append(b, '\n'), 0o644)
}

// updateState changes the state record of running container ctid, when
// it has one.
func (s *Store) updateState(ctid string, change func(*RunState)) error {
	rs, ok, err := s.RunState(ctid)
	if err != nil || !ok {
		return err
	}
	change(rs)
	return s.writeState(rs)
}

// RunState reads the state record of running container ctid; ok is false
// when there is none (the container is not running, or its start has
// not got that far).
func (s *Store) RunState(ctid string) (st *RunState, ok bool, err error) {
	p := s.stateRecord(ctid)
	b, ok, err := s.readRecord(p, maxStateRecord)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("container %s: state: %w", ctid, err)
		}
		return nil, false, err
	}
	st, err = parseState(b)
	if err != nil {
		return nil, false, fmt.Errorf("container %s: state: %s: %w", ctid, p, err)
	}
	if st.CTID != ctid {
		return nil, false, fmt.Errorf("container %s: state: %s is the record of container %q", ctid, p, st.CTID)
	}
	return st, true, nil
}

// parseState parses a state record strictly: every field known, one
// value, this schema's version.
func parseState(b []byte) (*RunState, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var st RunState
	if err := d.Decode(&st); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("more than one value")
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("version %d, this vzctl reads version %d", st.Version, stateVersion)
	}
	switch st.Init {
	case InitMinimal, InitSysV, InitSystemd:
	default:
		return nil, fmt.Errorf("init kind %q", st.Init)
	}
	if st.CTID == "" || st.SandboxID == "" || st.CgroupPath == "" || st.Root == "" {
		return nil, errors.New("ctid, sandbox_id, cgroup_path or root missing")
	}
	return &st, nil
}

// readRecord reads one of vzkit's records in STATEDIR/ct, a directory
// of vzkit's own (see readOwnFile). ok is false when there is none.
func (s *Store) readRecord(p string, max int64) (b []byte, ok bool, err error) {
	if err := ownDir(s.ctDir()); errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, err
	}
	return readOwnFile(p, max)
}

// readOwnFile reads p, which must be a regular file owned by vzkit's user
// and writable by no one else, without following a symlink or blocking on
// a FIFO, at most max bytes. ok is false when there is none.
func readOwnFile(p string, max int64) (b []byte, ok bool, err error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, false, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
		return nil, false, fmt.Errorf("%s (uid %d, mode %04o) is not a file of vzkit's own", p, st.Uid, st.Mode&0o7777)
	}
	b, err = io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > max {
		return nil, false, fmt.Errorf("%s is larger than %d bytes", p, max)
	}
	return b, true, nil
}
