// Command isoprobe runs inside a container as its root and tries, one by
// one, what a hostile root user would try against the host; it prints one
// JSON object: each attempt's name and the error it got ("" = it worked).
// The isolation tests copy it, statically linked, into the container.
//
// Environment: HOST_PID a host PID (the test's), HOST_PATH a host path that
// must be invisible, DISK "major:minor" of a host block device.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

type result struct {
	Attempts map[string]string `json:"attempts"` // name -> error, "" when it succeeded
	CapEff   string            `json:"cap_eff"`
	CapBnd   string            `json:"cap_bnd"`
	UIDMap   string            `json:"uid_map"`
	Procs    int               `json:"procs"` // entries in /proc that are processes
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func main() {
	r := result{Attempts: map[string]string{}}
	try := func(name string, f func() error) { r.Attempts[name] = errText(f()) }

	hostPID, _ := strconv.Atoi(os.Getenv("HOST_PID"))
	try("signal host process", func() error { return unix.Kill(hostPID, 0) })
	try("ptrace host process", func() error {
		err := unix.PtraceAttach(hostPID)
		if err == nil {
			unix.PtraceDetach(hostPID)
		}
		return err
	})
	try("see host path", func() error { _, err := os.Stat(os.Getenv("HOST_PATH")); return err })
	try("load kernel module", func() error {
		_, _, e := unix.Syscall(unix.SYS_FINIT_MODULE, ^uintptr(0), 0, 0)
		return errnoErr(e)
	})
	try("init_module", func() error {
		_, _, e := unix.Syscall(unix.SYS_INIT_MODULE, 0, 0, 0)
		return errnoErr(e)
	})
	var maj, min uint32
	fmt.Sscanf(os.Getenv("DISK"), "%d:%d", &maj, &min)
	node := "/tmp/isoprobe-disk"
	os.Remove(node)
	mknodErr := unix.Mknod(node, unix.S_IFBLK|0o600, int(unix.Mkdev(maj, min)))
	r.Attempts["mknod host disk"] = errText(mknodErr)
	try("read host disk", func() error {
		if mknodErr != nil {
			return fmt.Errorf("no node: %w", mknodErr)
		}
		f, err := os.Open(node)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.Read(make([]byte, 512))
		return err
	})
	os.MkdirAll("/tmp/isoprobe-mnt", 0o755)
	try("mount host disk", func() error {
		if mknodErr != nil {
			return fmt.Errorf("no node: %w", mknodErr)
		}
		err := unix.Mount(node, "/tmp/isoprobe-mnt", "ext4", unix.MS_RDONLY, "")
		if err == nil {
			unix.Unmount("/tmp/isoprobe-mnt", unix.MNT_DETACH)
		}
		return err
	})
	os.Remove(node)
	try("write core_pattern", func() error { return writeFile("/proc/sys/kernel/core_pattern", "|/tmp/pwned") })
	// Writes of host-wide settings put back the value they read: should
	// one succeed, it shows the hole without changing the host.
	try("write kernel sysctl", func() error { return rewrite("/proc/sys/kernel/randomize_va_space") })
	os.MkdirAll("/tmp/isoprobe-proc", 0o755)
	try("core_pattern through a new proc", func() error {
		if err := unix.Mount("proc", "/tmp/isoprobe-proc", "proc", 0, ""); err != nil {
			return err
		}
		defer unix.Unmount("/tmp/isoprobe-proc", unix.MNT_DETACH)
		return writeFile("/tmp/isoprobe-proc/sys/kernel/core_pattern", "|/tmp/pwned")
	})
	// Getting rid of the read-only covers is not itself a way out (a user
	// namespace's root may manage its own mounts); the writes after it
	// must still fail.
	try("remount /proc/sys read-write", func() error {
		return unix.Mount("", "/proc/sys", "", unix.MS_REMOUNT|unix.MS_BIND, "")
	})
	try("unmount /proc/sys cover", func() error { return unix.Unmount("/proc/sys", unix.MNT_DETACH) })
	try("write core_pattern without the cover", func() error { return writeFile("/proc/sys/kernel/core_pattern", "|/tmp/pwned") })
	try("write /sys", func() error { return rewrite("/sys/kernel/mm/transparent_hugepage/defrag") })
	try("remount /sys read-write", func() error {
		return unix.Mount("", "/sys", "", unix.MS_REMOUNT|unix.MS_BIND, "")
	})
	try("write /sys after remount", func() error { return rewrite("/sys/kernel/mm/transparent_hugepage/defrag") })
	try("new user namespace", func() error { return unix.Unshare(unix.CLONE_NEWUSER) })
	try("open_by_handle_at", func() error {
		_, _, e := unix.Syscall(unix.SYS_OPEN_BY_HANDLE_AT, 0, 0, 0)
		return errnoErr(e)
	})

	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:\t"); ok {
			r.CapEff = v
		}
		if v, ok := strings.CutPrefix(l, "CapBnd:\t"); ok {
			r.CapBnd = v
		}
	}
	m, _ := os.ReadFile("/proc/self/uid_map")
	r.UIDMap = strings.Join(strings.Fields(string(m)), " ")
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			r.Procs++
		}
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// rewrite writes back what a setting file holds (for the THP files, the
// bracketed choice).
func rewrite(p string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	v := strings.TrimSpace(string(b))
	if i, j := strings.IndexByte(v, '['), strings.IndexByte(v, ']'); i >= 0 && j > i {
		v = v[i+1 : j]
	}
	return writeFile(p, v)
}

func writeFile(p, v string) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte(v))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
