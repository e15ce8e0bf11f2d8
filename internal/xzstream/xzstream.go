package xzstream

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"

	"github.com/xi2/xz"
)

// MaxDict bounds the LZMA2 dictionary a stream may ask for: xz -9 uses
// 64 MiB, and a header may claim up to 4 GiB.
const MaxDict = 64 << 20

// maxTrailer bounds what Close drains after the consumer stopped reading
// (a tar archive's end-of-record padding, an RPM's signed tail).
const maxTrailer = 1 << 20

// hostXZ is the host's xz, or "" (then the pure-Go decoder).
var hostXZ, _ = exec.LookPath("xz")

// HostXZ reports whether the host's xz decodes (for benchmarks and tests).
func HostXZ() bool { return hostXZ != "" }

// NewReader decodes the xz stream read from r. Close reaps the decoder
// and reports a failure that Read only showed as an early EOF; the
// process, if any, ends with ctx.
func NewReader(ctx context.Context, r io.Reader) (io.ReadCloser, error) {
	if hostXZ == "" {
		return NewGoReader(r)
	}
	cmd := exec.CommandContext(ctx, hostXZ, "--decompress", "--stdout", "--single-stream", "--threads=1",
		"--memlimit-decompress="+strconv.Itoa(MaxDict+MaxDict/4))
	cmd.Stdin = r
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", hostXZ, err)
	}
	return &proc{ReadCloser: out, cmd: cmd, stderr: &stderr}, nil
}

// NewGoReader decodes in process, whether or not the host has xz.
func NewGoReader(r io.Reader) (io.ReadCloser, error) {
	d, err := xz.NewReader(r, MaxDict)
	if err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	d.Multistream(false)
	return io.NopCloser(d), nil
}

// proc is the stdout of a running `xz -d`.
type proc struct {
	io.ReadCloser
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

func (p *proc) Close() error {
	// Drain so that xz exits normally even when the consumer stopped at
	// its own end marker before the stream's end.
	if n, _ := io.CopyN(io.Discard, p.ReadCloser, maxTrailer); n == maxTrailer {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		return fmt.Errorf("xz: more than %d bytes after the end of what was read", maxTrailer)
	}
	if err := p.cmd.Wait(); err != nil {
		return fmt.Errorf("xz: %w: %s", err, strings.TrimSpace(p.stderr.String()))
	}
	return nil
}
