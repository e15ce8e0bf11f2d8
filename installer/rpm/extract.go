package rpm

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/vzkit/vzkit/internal/extract"
	"github.com/vzkit/vzkit/internal/pgp"
)

// unpackPolicy is extract's policy for rpm payloads. It is dpkg's: names
// are absolute, and a directory entry keeps a symlink to a directory
// inside the root where one stands (a merged-/usr root's bin -> usr/bin),
// as rpm does; changing a path's kind is refused.
var unpackPolicy = extract.Policy{StripLeadingSlash: true, KeepDirSymlinks: true, RecordPaths: true}

// ExtractOptions are the verification options plus what extraction needs.
type ExtractOptions struct {
	Options
	// Owners resolves the header's user and group names; nil resolves
	// only "root". See ReadOwners.
	Owners Owners
	// Extract are the extractor's limits and settings.
	Extract extract.Options
}

// Result describes one extracted package.
type Result struct {
	extract.Result
	Verdict Verdict
	// UnknownUsers and UnknownGroups are the owner names Owners did not
	// know: their files were given to root, and lost a setuid (setgid)
	// bit, as rpm does ("user X does not exist - using root").
	UnknownUsers, UnknownGroups []string
	// Ghosts counts %ghost files, which are owned but never extracted.
	Ghosts int
}

// Extract verifies the package against opts and unpacks its payload into
// root. The header-level checks (signatures, a required signature that
// cannot be had) come first, so a package refused there writes nothing;
// the payload's own digests, the header+payload signatures and the
// repository checksum are known only once it has been read to the end,
// so a package that fails them has already written files. Callers build
// into a new directory and discard it on any error, as for .debs.
func (p *Package) Extract(ctx context.Context, root *extract.Root, opts ExtractOptions) (Result, error) {
	var res Result
	if p.Source {
		return res, fmt.Errorf("rpm: %s: a source package, not installable", p.base())
	}
	vf, err := p.newVerifier(opts.Options)
	if err != nil {
		if vf != nil {
			res.Verdict = vf.v
		}
		return res, err
	}
	u, err := p.newUnpacker(vf, opts)
	if err != nil {
		return res, err
	}
	f, err := os.Open(p.Path)
	if err != nil {
		return res, fmt.Errorf("rpm: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(p.payloadOff, io.SeekStart); err != nil {
		return res, fmt.Errorf("rpm: %s: %w", p.base(), err)
	}
	raw := io.TeeReader(ctxReader{ctx, f}, vf.raw())
	dec, err := decompress(p.Compressor, bufio.NewReaderSize(raw, 256<<10))
	if err != nil {
		return res, fmt.Errorf("rpm: %s: payload (%s): %w", p.base(), p.Compressor, err)
	}
	decOpen := true
	defer func() {
		if decOpen {
			dec.Close()
		}
	}()
	var plain io.Reader = &boundedReader{r: dec, left: u.bound, max: u.bound}
	if alt := vf.alt(); alt != nil {
		plain = io.TeeReader(plain, alt)
	}
	u.cpio = &cpioReader{r: bufio.NewReaderSize(plain, 64<<10), sizes: u.strippedSize}

	pr, pw := io.Pipe()
	convErr := make(chan error, 1)
	go func() {
		err := u.convert(tar.NewWriter(pw))
		pw.CloseWithError(err)
		convErr <- err
	}()
	xres, xerr := root.Extract(ctx, pr, unpackPolicy, opts.Extract)
	pr.CloseWithError(errStopped)
	cerr := <-convErr
	if errors.Is(cerr, errStopped) {
		cerr = nil // the extractor's error says why
	}
	res.Result, res.Ghosts = xres, u.ghosts
	res.UnknownUsers, res.UnknownGroups = sortedKeys(u.unknownUsers), sortedKeys(u.unknownGroups)
	if cerr != nil {
		return res, fmt.Errorf("rpm: %s: payload: %w", p.base(), cerr)
	}
	if xerr != nil {
		return res, fmt.Errorf("rpm: %s: %w", p.base(), xerr)
	}
	// The digests cover everything after the header: what follows the
	// cpio trailer in the decompressed stream (bounded) and in the file.
	if _, err := io.Copy(io.Discard, u.cpio.r); err != nil {
		return res, fmt.Errorf("rpm: %s: payload: %w", p.base(), err)
	}
	// The decompressor (an xz process reading the file) is done before
	// the rest of the file is read here.
	decOpen = false
	if err := dec.Close(); err != nil {
		return res, fmt.Errorf("rpm: %s: payload: %w", p.base(), err)
	}
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return res, fmt.Errorf("rpm: %s: %w", p.base(), err)
	}
	res.Verdict, err = vf.finish()
	return res, err
}

// errStopped ends the conversion when the extractor stopped reading.
var errStopped = errors.New("extraction stopped")

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// unpacker turns the cpio payload into the tar stream extract reads,
// with every file's metadata from the header.
type unpacker struct {
	p      *Package
	files  []File
	owners Owners
	cpio   *cpioReader
	bound  int64 // most bytes the decompressed payload may have

	byPath map[string]int
	// content[i] is where the data of a hardlink set member i lies: the
	// set's last member in header order, which rpm gives the content.
	content map[int]int
	digest  func() hash.Hash // the package's file digest algorithm

	ghosts                      int
	unknownUsers, unknownGroups map[string]bool
}

func (p *Package) newUnpacker(vf *verifier, opts ExtractOptions) (*unpacker, error) {
	u := &unpacker{
		p: p, files: p.files, owners: opts.Owners,
		byPath: map[string]int{}, content: map[int]int{},
		unknownUsers: map[string]bool{}, unknownGroups: map[string]bool{},
	}
	max := vf.maxPayload()
	var total int64 = 512 // the trailer
	type inode struct{ dev, ino uint32 }
	sets := map[inode][]int{}
	for i, f := range u.files {
		if err := checkPath(f.Path); err != nil {
			return nil, fmt.Errorf("rpm: %s: %w", p.base(), err)
		}
		if _, dup := u.byPath[f.Path]; dup {
			return nil, fmt.Errorf("rpm: %s: %w: %s is listed twice in the header", p.base(), ErrMalformed, f.Path)
		}
		u.byPath[f.Path] = i
		if f.Ghost() {
			continue
		}
		total += newcHeader + int64(len(f.Path)) + 8 + f.Size + int64(len(f.LinkTo))
		if total > max {
			return nil, fmt.Errorf("rpm: %s: %w: the header declares more than %d bytes of files", p.base(), extract.ErrLimit, max)
		}
		if f.Mode&sIFMT == sIFREG && f.Inode != 0 {
			k := inode{f.Device, f.Inode}
			sets[k] = append(sets[k], i)
		}
	}
	for _, set := range sets {
		if len(set) < 2 {
			continue
		}
		last := set[len(set)-1]
		for _, i := range set {
			u.content[i] = last
		}
	}
	u.bound = total
	algo := uint32(rpmutils.HASH_MD5)
	if p.Header.HasTag(rpmutils.FILEDIGESTALGO) {
		if a, err := p.Header.GetUint32s(rpmutils.FILEDIGESTALGO); err == nil && len(a) == 1 {
			algo = a[0]
		}
	}
	if h, ok := pgp.HashByID(byte(algo)); ok && algo < 256 && h.Available() {
		u.digest = func() hash.Hash { return newHash(h) }
	} else {
		return nil, fmt.Errorf("rpm: %s: file digest algorithm %d not supported", p.base(), algo)
	}
	return u, nil
}

// checkPath refuses a header path that is not absolute and clean: extract
// would refuse ".." too, but the error is clearer here, and a name like
// "/usr//bin" would otherwise be two different names for one file.
func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return fmt.Errorf("%w: file %q: not an absolute, clean path", extract.ErrUnsafePath, p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return fmt.Errorf("%w: file %q: contains \"..\"", extract.ErrUnsafePath, p)
		}
	}
	return nil
}

// expectedSize is the content size of file i in the payload.
func (u *unpacker) expectedSize(i int) int64 {
	f := u.files[i]
	switch f.Mode & sIFMT {
	case sIFREG:
		if c, ok := u.content[i]; ok && c != i {
			return 0
		}
		return f.Size
	case sIFLNK:
		return int64(len(f.LinkTo))
	}
	return 0
}

func (u *unpacker) strippedSize(i int) (int64, error) {
	if i < 0 || i >= len(u.files) {
		return 0, fmt.Errorf("cpio: stripped entry refers to file %d of %d", i, len(u.files))
	}
	return u.expectedSize(i), nil
}

func (u *unpacker) convert(tw *tar.Writer) error {
	seen := make([]bool, len(u.files))
	waiting := map[int][]int{} // content member -> members seen before it
	for {
		e, err := u.cpio.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		i := e.index
		if !e.stripped {
			name := strings.TrimPrefix(e.name, ".")
			var ok bool
			if i, ok = u.byPath[name]; !ok {
				return fmt.Errorf("cpio entry %q is not in the header's file list", e.name)
			}
		}
		if i < 0 || i >= len(u.files) {
			return fmt.Errorf("cpio: stripped entry refers to file %d of %d", i, len(u.files))
		}
		f := u.files[i]
		switch {
		case seen[i]:
			return fmt.Errorf("%s is twice in the payload", f.Path)
		case f.Ghost():
			return fmt.Errorf("%s is a %%ghost file, yet in the payload", f.Path)
		case !e.stripped && e.mode&sIFMT != f.Mode&sIFMT:
			return fmt.Errorf("%s: the payload has file type %o, the header %o", f.Path, e.mode&sIFMT, f.Mode&sIFMT)
		case !e.stripped && e.size != u.expectedSize(i):
			return fmt.Errorf("%s: %d bytes in the payload, the header says %d", f.Path, e.size, u.expectedSize(i))
		}
		seen[i] = true
		if c, ok := u.content[i]; ok && c != i {
			waiting[c] = append(waiting[c], i)
			continue
		}
		if err := u.write(tw, i); err != nil {
			return err
		}
		for _, j := range waiting[i] {
			if err := u.link(tw, j, i); err != nil {
				return err
			}
		}
		delete(waiting, i)
	}
	for c, members := range waiting {
		return fmt.Errorf("hardlink set of %s: %s, which holds the content, is not in the payload", u.files[members[0]].Path, u.files[c].Path)
	}
	// Directories the package owns but the payload leaves out are made
	// from the header; any other missing file is an error, as in rpm.
	for i, f := range u.files {
		if seen[i] || f.Ghost() {
			if f.Ghost() {
				u.ghosts++
			}
			continue
		}
		if f.Mode&sIFMT != sIFDIR {
			return fmt.Errorf("%s is in the header but not in the payload", f.Path)
		}
		if err := u.write(tw, i); err != nil {
			return err
		}
	}
	return tw.Close()
}

// header is the tar header for file i, owner and mode resolved.
func (u *unpacker) header(i int) (*tar.Header, error) {
	f := u.files[i]
	mode := f.Mode & 0o7777
	uid, gid := 0, 0
	if f.User != "root" {
		id, ok := 0, false
		if u.owners != nil {
			id, ok = u.owners.UID(f.User)
		}
		if ok {
			uid = id
		} else {
			u.unknownUsers[f.User] = true
			mode &^= 0o4000
		}
	}
	if f.Group != "root" {
		id, ok := 0, false
		if u.owners != nil {
			id, ok = u.owners.GID(f.Group)
		}
		if ok {
			gid = id
		} else {
			u.unknownGroups[f.Group] = true
			mode &^= 0o2000
		}
	}
	h := &tar.Header{
		Name: f.Path, Mode: int64(mode), Uid: uid, Gid: gid,
		ModTime: time.Unix(int64(f.Mtime), 0), Format: tar.FormatPAX,
	}
	switch f.Mode & sIFMT {
	case sIFREG:
		h.Typeflag, h.Size = tar.TypeReg, f.Size
		caps, err := capXattr(f.Caps)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		if caps != nil {
			h.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(caps)}
		}
	case sIFDIR:
		h.Typeflag = tar.TypeDir
	case sIFLNK:
		if f.LinkTo == "" {
			return nil, fmt.Errorf("%s: symlink without a target", f.Path)
		}
		h.Typeflag, h.Linkname = tar.TypeSymlink, f.LinkTo
	case sIFCHR, sIFBLK:
		h.Typeflag = tar.TypeChar
		if f.Mode&sIFMT == sIFBLK {
			h.Typeflag = tar.TypeBlock
		}
		// FILERDEVS holds the old 16-bit dev_t: major in the high byte.
		h.Devmajor, h.Devminor = int64(f.Rdev>>8&0xff), int64(f.Rdev&0xff)
	case sIFIFO:
		h.Typeflag = tar.TypeFifo
	default:
		return nil, nil // a socket: nothing to create
	}
	return h, nil
}

// write emits file i, its content read from the cpio entry.
func (u *unpacker) write(tw *tar.Writer, i int) error {
	f := u.files[i]
	h, err := u.header(i)
	if err != nil {
		return err
	}
	if h == nil {
		slog.Warn("rpm: socket in a package, not created", "package", u.p.base(), "path", f.Path)
		return nil
	}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if h.Typeflag != tar.TypeReg {
		return nil
	}
	var dst io.Writer = tw
	var sum hash.Hash
	if f.Digest != "" {
		sum = u.digest()
		dst = io.MultiWriter(tw, sum)
	}
	if _, err := io.CopyN(dst, u.cpio, f.Size); err != nil {
		return fmt.Errorf("%s: content: %w", f.Path, noEOF(err))
	}
	if sum != nil {
		if got := hex.EncodeToString(sum.Sum(nil)); !strings.EqualFold(got, f.Digest) {
			return fmt.Errorf("%s: %w: file digest mismatch: the payload was altered", f.Path, ErrVerify)
		}
	}
	return nil
}

// link emits hardlink set member j as a link to i, which holds the content.
func (u *unpacker) link(tw *tar.Writer, j, i int) error {
	h, err := u.header(j)
	if err != nil {
		return err
	}
	h.Typeflag, h.Size, h.Linkname, h.PAXRecords = tar.TypeLink, 0, u.files[i].Path, nil
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("%s: %w", u.files[j].Path, err)
	}
	return nil
}

// boundedReader fails once more than max bytes were read: the payload
// cannot be longer than the file list the signed header declares.
type boundedReader struct {
	r         io.Reader
	left, max int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a payload that ends here from a longer one.
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("%w: the decompressed payload is longer than the %d bytes its file list allows", extract.ErrLimit, b.max)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}
