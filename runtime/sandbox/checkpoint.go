package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/saferoot"
)

// CheckpointOptions say where a checkpoint's images go and what CRIU
// must carry besides memory and processes.
type CheckpointOptions struct {
	// CRIU is the criu binary; "" is criu on PATH.
	CRIU string
	// ImagesDir receives (checkpoint) or holds (restore) CRIU's images;
	// WorkDir its logs.
	ImagesDir, WorkDir string
	// TCPEstablished carries established TCP connections; FileLocks
	// held file locks.
	TCPEstablished, FileLocks bool
	// HostFiles are files of the host that the init's stdin, stdout or
	// stderr are (a console log outside the sandbox's root, which CRIU
	// cannot reach from inside): they are dumped as external files, and
	// at restore the init gets Process's Stdout and Stderr in their place.
	HostFiles []string
}

// stdioFile is where Checkpoint records which of the init's stdio were
// HostFiles, for Restore: fd -> CRIU's key of the external file.
const stdioFile = "vzkit-stdio.json"

// maxStdioFile bounds stdioFile as Restore reads it: three short keys.
const maxStdioFile = 4 << 10

// criuEnvMu serialises the environment changes with which withCRIU
// points libcontainer's criu at the binary and the configuration.
var criuEnvMu sync.Mutex

// withCRIU runs fn with criu resolving to bin and reading the options in
// lines. libcontainer runs "criu" from PATH, so a binary of another name
// or place is linked as "criu" in a directory of its own put first on
// PATH while fn runs. The options go in a file named by CRIU_CONFIG_FILE,
// which CRIU reads once as it starts: the RPC's own configuration file is
// read twice, and an inherit-fd given there twice closes its descriptor
// before the second use.
func withCRIU(bin, workDir string, lines []string, fn func() error) error {
	dir, err := os.MkdirTemp("", "vzkit-criu-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	criuEnvMu.Lock()
	defer criuEnvMu.Unlock()
	if bin != "" {
		abs, err := exec.LookPath(bin)
		if err != nil {
			return fmt.Errorf("CRIU %s: %w", bin, err)
		}
		if err := os.Symlink(abs, filepath.Join(dir, "criu")); err != nil {
			return err
		}
		old := os.Getenv("PATH")
		os.Setenv("PATH", dir+string(os.PathListSeparator)+old)
		defer os.Setenv("PATH", old)
	}
	conf := filepath.Join(workDir, "criu.conf")
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	old, had := os.LookupEnv("CRIU_CONFIG_FILE")
	os.Setenv("CRIU_CONFIG_FILE", conf)
	defer func() {
		if had {
			os.Setenv("CRIU_CONFIG_FILE", old)
		} else {
			os.Unsetenv("CRIU_CONFIG_FILE")
		}
	}()
	return fn()
}

func (o CheckpointOptions) criuOpts() *libcontainer.CriuOpts {
	return &libcontainer.CriuOpts{
		ImagesDirectory: o.ImagesDir, WorkDirectory: o.WorkDir,
		TcpEstablished: o.TCPEstablished, FileLocks: o.FileLocks,
		// The cgroup is the sandbox's own and already made by create:
		// CRIU restores the processes into it and its settings.
		ManageCgroupsMode: "soft",
	}
}

// Checkpoint dumps the running sandbox's processes with CRIU into
// o.ImagesDir; the sandbox is stopped afterwards (its processes end as
// CRIU finishes), and its libcontainer state stays for Destroy.
func (s *Sandbox) Checkpoint(ctx context.Context, o CheckpointOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.WorkDir, 0o700); err != nil {
		return fmt.Errorf("sandbox %s: checkpoint: %w", s.ID(), err)
	}
	if err := os.MkdirAll(o.ImagesDir, 0o700); err != nil {
		return fmt.Errorf("sandbox %s: checkpoint: %w", s.ID(), err)
	}
	st, err := s.State()
	if err != nil {
		return err
	}
	keys, err := externalStdio(st.InitPID, o.HostFiles)
	if err != nil {
		return fmt.Errorf("sandbox %s: checkpoint: %w", s.ID(), err)
	}
	var conf []string
	for _, k := range keys {
		conf = append(conf, "external "+k)
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	if err := writeNew(filepath.Join(o.ImagesDir, stdioFile), b); err != nil {
		return fmt.Errorf("sandbox %s: checkpoint: %w", s.ID(), err)
	}
	err = withCRIU(o.CRIU, o.WorkDir, conf, func() error { return s.c.Checkpoint(o.criuOpts()) })
	if err != nil {
		return fmt.Errorf("sandbox %s: checkpoint into %s (CRIU's log: %s): %w", s.ID(), o.ImagesDir, filepath.Join(o.WorkDir, "dump.log"), err)
	}
	return nil
}

// externalStdio is CRIU's key (file[MNT_ID:INODE], hex) of each of init
// pid's descriptors 0, 1 and 2 that is one of files.
func externalStdio(pid int, files []string) (map[int]string, error) {
	keys := map[int]string{}
	for _, f := range files {
		var want unix.Stat_t
		if err := unix.Stat(f, &want); err != nil {
			return nil, err
		}
		for fd := 0; fd <= 2; fd++ {
			var st unix.Stat_t
			if err := unix.Stat(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), &st); err != nil {
				continue // closed
			}
			if st.Dev != want.Dev || st.Ino != want.Ino {
				continue
			}
			info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
			if err != nil {
				return nil, err
			}
			var mnt int64 = -1
			for _, l := range strings.Split(string(info), "\n") {
				if v, ok := strings.CutPrefix(l, "mnt_id:"); ok {
					mnt, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					if err != nil {
						return nil, fmt.Errorf("fdinfo %d of %d: mnt_id %q", fd, pid, v)
					}
				}
			}
			if mnt < 0 {
				return nil, fmt.Errorf("fdinfo %d of %d: no mnt_id", fd, pid)
			}
			keys[fd] = fmt.Sprintf("file[%x:%x]", mnt, st.Ino)
		}
	}
	return keys, nil
}

// Restore creates sandbox cfg and restores into it the processes that
// Checkpoint dumped into o.ImagesDir, detached as Start's init is: p
// gives only the init's stdio (nil or *os.File).
func Restore(ctx context.Context, cfg Config, p Process, o CheckpointOptions) (*Sandbox, error) {
	if err := detachedStdio(cfg.ID, p); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.WorkDir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox %s: restore: %w", cfg.ID, err)
	}
	var keys map[int]string
	if b, err := saferoot.ReadRegularFile(filepath.Join(o.ImagesDir, stdioFile), maxStdioFile); err != nil {
		return nil, fmt.Errorf("sandbox %s: restore: %w", cfg.ID, err)
	} else if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("sandbox %s: restore: %s: %w", cfg.ID, stdioFile, err)
	}
	// CRIU's own descriptors 1 and 2 are p's Stdout and Stderr: each
	// external file the init had gets p's Stderr, else its Stdout.
	var conf []string
	seen := map[string]bool{}
	for fd := 0; fd <= 2; fd++ {
		k, ok := keys[fd]
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		switch {
		case p.Stderr != nil:
			conf = append(conf, "inherit-fd fd[2]:"+k)
		case p.Stdout != nil:
			conf = append(conf, "inherit-fd fd[1]:"+k)
		default:
			return nil, fmt.Errorf("sandbox %s: restore: the init had a host file as descriptor %d and the restore gives it none", cfg.ID, fd)
		}
	}
	s, err := create(ctx, cfg)
	if err != nil {
		return nil, err
	}
	lp := &libcontainer.Process{Init: true, Stdin: p.Stdin, Stdout: p.Stdout, Stderr: p.Stderr}
	err = withCRIU(o.CRIU, o.WorkDir, conf, func() error { return s.c.Restore(lp, o.criuOpts()) })
	if err != nil {
		_ = s.c.Destroy()
		return nil, fmt.Errorf("sandbox %s: restore from %s (CRIU's log: %s): %w", cfg.ID, o.ImagesDir, filepath.Join(o.WorkDir, "restore.log"), err)
	}
	s.reap(lp)
	return s, nil
}

// writeNew writes b to a file that must not exist yet.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
