package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// console is the host side of a process's pty. libcontainer opens the pty
// inside the sandbox (so its devpts instance is the sandbox's own) and sends
// the master back over a socket pair.
type console struct {
	parent, child *os.File // the socket pair; child goes to libcontainer
	master        *os.File
	outDone       chan struct{}
}

func newConsole() (*console, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket pair: %w", err)
	}
	return &console{
		parent: os.NewFile(uintptr(fds[0]), "console-parent"),
		child:  os.NewFile(uintptr(fds[1]), "console-child"),
	}, nil
}

// attach receives the pty master and starts copying: in into the pty, the
// pty's output to out, and window sizes from resize until exited closes.
func (c *console) attach(in io.Reader, out io.Writer, resize <-chan ConsoleSize, exited <-chan struct{}) error {
	// libcontainer no longer needs our copy of its end.
	c.child.Close()
	c.child = nil
	m, err := recvFile(c.parent)
	if err != nil {
		return fmt.Errorf("receive pty master: %w", err)
	}
	c.master = m
	c.outDone = make(chan struct{})
	go func() {
		defer close(c.outDone)
		if out == nil {
			out = io.Discard
		}
		// The read ends with EIO once the slave side is closed everywhere.
		_, _ = io.Copy(out, m)
	}()
	if in != nil {
		go func() {
			if _, err := io.Copy(m, in); err == nil {
				// End of input: the terminal's EOF character, as a user
				// pressing ^D at the start of a line.
				_, _ = m.Write([]byte{4})
			}
		}()
	}
	if resize != nil {
		// Control, unlike Fd, is safe against a concurrent Close.
		rc, err := m.SyscallConn()
		if err != nil {
			return err
		}
		go func() {
			for {
				select {
				case sz, ok := <-resize:
					if !ok {
						return
					}
					_ = rc.Control(func(fd uintptr) {
						_ = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: sz.Rows, Col: sz.Cols})
					})
				case <-exited:
					return
				}
			}
		}()
	}
	return nil
}

// drain waits until all output of the pty has been copied.
func (c *console) drain() {
	if c.outDone != nil {
		<-c.outDone
	}
}

func (c *console) close() {
	for _, f := range []*os.File{c.parent, c.child, c.master} {
		if f != nil {
			f.Close()
		}
	}
}

// recvFile receives one file descriptor sent with SCM_RIGHTS, as
// libcontainer's console socket protocol sends the pty master (the file's
// name in the payload, the descriptor in the control message).
func recvFile(sock *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	conn, err := sock.SyscallConn()
	if err != nil {
		return nil, err
	}
	var n, oobn int
	var rerr error
	if err := conn.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), name, oob, unix.MSG_CMSG_CLOEXEC)
		return !errors.Is(rerr, unix.EAGAIN)
	}); err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("expected 1 control message, got %d", len(msgs))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		return nil, err
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("expected 1 file descriptor, got %d", len(fds))
	}
	// Non-blocking, so that Go's poller serves reads and Close unblocks them.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, err
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}
