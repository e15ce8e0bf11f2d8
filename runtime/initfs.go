package runtime

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// InitCommand is the hidden vzctl command that runs the minimal init.
const InitCommand = "__init"

// initMountPoint is where the minimal init's files appear in a container.
const initMountPoint = "/.vzkit"

// initFS prepares STATEDIR/initfs/<identity of this binary>: a copy of the
// running executable as "init" and, when it is dynamically linked, the
// shared libraries and loader it needs (found with ldd) in lib/, so that it
// runs in any image, even one without those libraries. It returns the
// directory and the argv that starts the minimal init inside /.vzkit.
func (s *Store) initFS(ctx context.Context) (dir string, argv []string, err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("minimal init: %w", err)
	}
	key, err := binaryKey(exe)
	if err != nil {
		return "", nil, fmt.Errorf("minimal init: %w", err)
	}
	base := filepath.Join(s.StateDir(), "initfs")
	dir = filepath.Join(base, key)
	// A prepared directory records its argv: every start after the first
	// costs one small read, not a hash of the binary and an ldd run.
	if b, err := os.ReadFile(filepath.Join(dir, argvFile)); err == nil {
		return dir, strings.Split(string(b), "\x00"), nil
	}
	interp, libs, err := sharedLibs(ctx, exe)
	if err != nil {
		return "", nil, err
	}
	argv = []string{initMountPoint + "/init", InitCommand}
	if interp != "" {
		argv = append([]string{initMountPoint + "/lib/" + filepath.Base(interp),
			"--library-path", initMountPoint + "/lib"}, argv...)
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", nil, fmt.Errorf("minimal init: %w", err)
	}
	if err := ensureExec(base); err != nil {
		return "", nil, fmt.Errorf("minimal init: %w", err)
	}
	tmp, err := os.MkdirTemp(base, ".tmp-")
	if err != nil {
		return "", nil, fmt.Errorf("minimal init: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	os.Chmod(tmp, 0o755)
	if err := copyFile(exe, filepath.Join(tmp, "init"), 0o755); err != nil {
		return "", nil, err
	}
	if interp != "" {
		if err := os.Mkdir(filepath.Join(tmp, "lib"), 0o755); err != nil {
			return "", nil, err
		}
		for _, l := range append(libs, interp) {
			if err := copyFile(l, filepath.Join(tmp, "lib", filepath.Base(l)), 0o755); err != nil {
				return "", nil, err
			}
		}
	}
	// Written last: its presence says the directory is complete.
	if err := os.WriteFile(filepath.Join(tmp, argvFile), []byte(strings.Join(argv, "\x00")), 0o644); err != nil {
		return "", nil, fmt.Errorf("minimal init: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, argvFile)); serr != nil {
			return "", nil, fmt.Errorf("minimal init: %w", err)
		}
	}
	return dir, argv, nil
}

// argvFile in an initfs directory holds the NUL-separated argv that starts
// the minimal init from it.
const argvFile = "argv"

// binaryKey names a build of the running binary by its file identity
// (device, inode, size, modification time): a new or rebuilt vzctl gets a
// new initfs directory without hashing ~20 MB on every start.
func binaryKey(exe string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(exe, &st); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d:%d:%d:%d.%d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec)))
	return hex.EncodeToString(sum[:8]), nil
}

// sharedLibs returns the ELF interpreter of exe ("" when static) and the
// resolved paths of the libraries it loads.
func sharedLibs(ctx context.Context, exe string) (interp string, libs []string, err error) {
	f, err := elf.Open(exe)
	if err != nil {
		return "", nil, fmt.Errorf("minimal init: %s: %w", exe, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(io.LimitReader(p.Open(), 4096))
			if err != nil {
				return "", nil, fmt.Errorf("minimal init: %s: %w", exe, err)
			}
			interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	if interp == "" {
		return "", nil, nil
	}
	out, err := exec.CommandContext(ctx, "ldd", exe).Output()
	if err != nil {
		return "", nil, fmt.Errorf("minimal init: ldd %s: %w", exe, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)"
		_, after, ok := strings.Cut(sc.Text(), "=> ")
		if !ok {
			continue
		}
		if p, _, _ := strings.Cut(after, " ("); strings.HasPrefix(p, "/") {
			libs = append(libs, p)
		}
	}
	return interp, libs, nil
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("minimal init: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return fmt.Errorf("minimal init: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("minimal init: copy %s: %w", src, err)
	}
	return out.Close()
}

// initGrace is how long the minimal init lets processes end after SIGTERM
// before it kills them; stop's STOP_TIMEOUT bounds the whole shutdown.
const initGrace = 10 * time.Second

// MinimalInit is PID 1 of a container whose image has no init. It reaps
// every orphan re-parented to it, and on SIGTERM, SIGPWR or SIGINT it asks
// every process to end (SIGTERM), kills the rest after a grace period and
// exits 0, which ends the container. It returns the exit status.
func MinimalInit() int {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "vzctl "+InitCommand+": only runs as a container's PID 1")
		return 2
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGPWR, unix.SIGINT)
	for sig := range sigs {
		if sig == unix.SIGCHLD {
			reap()
			continue
		}
		unix.Kill(-1, unix.SIGTERM)
		deadline := time.Now().Add(initGrace)
		for reap() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		unix.Kill(-1, unix.SIGKILL)
		for reap() {
			time.Sleep(10 * time.Millisecond)
		}
		return 0
	}
	return 0
}

// reap collects every exited child; it reports whether children remain.
func reap() bool {
	for {
		var st unix.WaitStatus
		pid, err := unix.Wait4(-1, &st, unix.WNOHANG, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil: // ECHILD: none left
			return false
		case pid == 0:
			return true
		}
	}
}

// ensureExec makes dir a place binaries run from. STATEDIR is under /run,
// which Debian (its initramfs, then systemd) mounts noexec, and a bind
// mount keeps its source's noexec: the minimal init copied there could
// not start. A tmpfs of its own on dir is exec whatever its parent is.
func ensureExec(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Flags&unix.ST_NOEXEC == 0 {
		return nil
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=256m"); err != nil {
		return fmt.Errorf("%s is on a noexec file system, and mounting an exec tmpfs there failed: %w", dir, err)
	}
	return nil
}
