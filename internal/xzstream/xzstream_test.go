package xzstream

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"
)

// TestDecoders: the host's xz and the pure-Go decoder give the same
// bytes, stop at the end of the first stream (what follows is left, as
// an RPM's signed tail is), and refuse a dictionary above MaxDict.
func TestDecoders(t *testing.T) {
	xzBin := testenv.NeedTool(t, "xz", "xz-utils")
	want := bytes.Repeat([]byte("vzkit payload line\n"), 50000)
	compress := func(args ...string) []byte {
		cmd := exec.Command(xzBin, append([]string{"-c"}, args...)...)
		cmd.Stdin = bytes.NewReader(want)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	stream := compress("-6")
	for name, open := range map[string]func(io.Reader) (io.ReadCloser, error){
		"host": func(r io.Reader) (io.ReadCloser, error) { return NewReader(context.Background(), r) },
		"go":   NewGoReader,
	} {
		rc, err := open(bytes.NewReader(append(append([]byte{}, stream...), stream...)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v; want the first stream's %d", name, len(got), err, len(want))
		}
		if err := rc.Close(); err != nil {
			t.Errorf("%s: close: %v", name, err)
		}
		// A 256 MiB dictionary (xz --lzma2=dict=256MiB) is refused.
		big := compress("--lzma2=dict=256MiB")
		rc, err = open(bytes.NewReader(big))
		if err == nil {
			_, err = io.ReadAll(rc)
			if cerr := rc.Close(); err == nil {
				err = cerr
			}
		}
		if err == nil {
			t.Errorf("%s: a stream with a 256 MiB dictionary decoded", name)
		}
	}
}
