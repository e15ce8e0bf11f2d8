package deb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"pault.ag/go/debian/control"
	debar "pault.ag/go/debian/deb"

	"github.com/vzkit/vzkit/internal/extract"
	"github.com/vzkit/vzkit/internal/xzstream"
)

// Limits on the control member, which is read into memory.
const (
	maxControlMember = 64 << 20 // decompressed control.tar
	maxControlFile   = 16 << 20 // one file in it (md5sums of big packages)
)

// Package is an opened .deb: its control data in memory, its payload left
// on disk until Data or Extract streams it.
type Package struct {
	Path         string
	Name         string
	Version      string
	Architecture string
	MultiArch    string
	Essential    bool
	// Control is the parsed DEBIAN/control paragraph (all fields).
	Control control.Paragraph
	// Info holds the other control.tar files by name: maintainer scripts
	// (preinst, postinst, prerm, postrm, config), md5sums, conffiles,
	// triggers, shlibs, symbols, templates.
	Info map[string][]byte

	dataName   string // ar member name: data.tar.xz, ...
	controlRaw []byte // DEBIAN/control as shipped
}

// Open reads the control member of the .deb at file.
func Open(file string) (*Package, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("deb: %w", err)
	}
	defer f.Close()
	p := &Package{Path: file, Info: map[string][]byte{}}
	members, err := arMembers(f)
	if err != nil {
		return nil, fmt.Errorf("deb: %s: %w", file, err)
	}
	var ctl *debar.ArEntry
	for _, m := range members {
		switch {
		case strings.HasPrefix(m.Name, "control.tar"):
			ctl = m
		case strings.HasPrefix(m.Name, "data.tar"):
			p.dataName = m.Name
		}
	}
	if ctl == nil || p.dataName == "" {
		return nil, fmt.Errorf("deb: %s: missing control.tar or data.tar member", file)
	}
	if err := p.readControl(ctl); err != nil {
		return nil, fmt.Errorf("deb: %s: %s: %w", file, ctl.Name, err)
	}
	return p, nil
}

func arMembers(f io.ReaderAt) ([]*debar.ArEntry, error) {
	ar, err := debar.LoadAr(f)
	if err != nil {
		return nil, fmt.Errorf("not an ar archive: %w", err)
	}
	var out []*debar.ArEntry
	for {
		m, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("ar member %d: %w", len(out), err)
		}
		out = append(out, m)
		if len(out) > 16 {
			return nil, errors.New("too many ar members for a .deb")
		}
	}
	if len(out) == 0 || out[0].Name != "debian-binary" {
		return nil, errors.New("first ar member is not debian-binary")
	}
	head := make([]byte, 4)
	if _, err := io.ReadFull(out[0].Data, head); err != nil || string(head) != "2.0\n" {
		return nil, fmt.Errorf("unsupported debian-binary version %q", head)
	}
	return out, nil
}

func (p *Package) readControl(m *debar.ArEntry) error {
	rc, err := decompress(context.Background(), m.Name, m.Data)
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(io.LimitReader(rc, maxControlMember))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		name := path.Clean(hdr.Name)
		if strings.Contains(name, "/") || hdr.Size > maxControlFile {
			return fmt.Errorf("unexpected control member %q (%d bytes)", hdr.Name, hdr.Size)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		p.Info[name] = b
	}
	raw, ok := p.Info["control"]
	if !ok {
		return errors.New("no control file")
	}
	delete(p.Info, "control")
	p.controlRaw = raw
	pr, err := control.NewParagraphReader(bytes.NewReader(raw), nil)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	para, err := pr.Next()
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	p.Control = *para
	v := para.Values
	p.Name, p.Version, p.Architecture, p.MultiArch = v["Package"], v["Version"], v["Architecture"], v["Multi-Arch"]
	p.Essential = strings.EqualFold(v["Essential"], "yes")
	if p.Name == "" || p.Version == "" || p.Architecture == "" {
		return errors.New("control: Package, Version or Architecture missing")
	}
	return nil
}

// Compression is the data member's compression as its name says it:
// "xz", "gz", "zst" or "none" (data.tar).
func (p *Package) Compression() string {
	if ext := path.Ext(p.dataName); ext != ".tar" {
		return strings.TrimPrefix(ext, ".")
	}
	return "none"
}

// Data streams the decompressed data.tar. The caller closes the returned
// Closer, which also ends a helper `xz` process.
func (p *Package) Data(ctx context.Context) (*tar.Reader, io.Closer, error) {
	r, c, err := p.payload(ctx)
	if err != nil {
		return nil, nil, err
	}
	return tar.NewReader(r), c, nil
}

// payload returns the decompressed data.tar as a byte stream and what
// closes it.
func (p *Package) payload(ctx context.Context) (io.Reader, io.Closer, error) {
	f, err := os.Open(p.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("deb: %w", err)
	}
	members, err := arMembers(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("deb: %s: %w", p.Path, err)
	}
	for _, m := range members {
		if m.Name != p.dataName {
			continue
		}
		rc, err := decompress(ctx, m.Name, bufio.NewReaderSize(m.Data, 256<<10))
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("deb: %s: %s: %w", p.Path, m.Name, err)
		}
		return rc, closers{rc, f}, nil
	}
	f.Close()
	return nil, nil, fmt.Errorf("deb: %s: data member %s vanished", p.Path, p.dataName)
}

// Files lists the payload paths in dpkg's info/<pkg>.list form: "/." for
// the root, then every entry as an absolute path, in archive order.
func (p *Package) Files(ctx context.Context) ([]string, error) {
	r, c, err := p.payload(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	out, err := extract.List(ctx, r, extract.DpkgUnpack, extract.Options{})
	if err != nil {
		return nil, fmt.Errorf("deb: %s: %s: %w", p.Path, p.dataName, err)
	}
	return out, nil
}

// Extract unpacks the payload into root as dpkg --unpack would.
func (p *Package) Extract(ctx context.Context, root *extract.Root, opts extract.Options) (extract.Result, error) {
	r, c, err := p.payload(ctx)
	if err != nil {
		return extract.Result{}, err
	}
	res, err := root.Extract(ctx, r, extract.DpkgUnpack, opts)
	if cerr := c.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("deb: %s: %s: %w", p.Path, p.dataName, cerr)
	}
	if err != nil {
		return res, fmt.Errorf("deb: %s (%s): %w", p.Name, p.Path, err)
	}
	return res, nil
}

type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// decompress picks a decoder by the member name's suffix.
func decompress(ctx context.Context, member string, r io.Reader) (io.ReadCloser, error) {
	switch path.Ext(member) {
	case ".tar":
		return io.NopCloser(r), nil
	case ".gz":
		return gzip.NewReader(r)
	case ".zst":
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<30))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case ".xz":
		return xzstream.NewReader(ctx, r)
	default:
		return nil, fmt.Errorf("unsupported compression of %s", member)
	}
}
