package rpm

import (
	"errors"
	"fmt"

	rpmutils "github.com/sassoftware/go-rpmutils"
)

// File is one entry of the header's file list. rpm takes every file's
// metadata from the header, never from the payload (whose stripped
// 07070X form has none), and so does Extract.
type File struct {
	Path   string // absolute, as the header names it
	Mode   uint32 // st_mode: type and permission bits, setuid included
	Size   int64
	User   string
	Group  string
	Mtime  uint32
	Flags  uint32 // rpmutils.RPMFILE_* (config, ghost, doc, ...)
	Digest string // hex, in the package's file digest algorithm ("" for non-regular files)
	LinkTo string // symlink target
	Rdev   uint32 // device number of a device node (old 16-bit encoding)
	Device uint32 // with Inode, identifies a hardlink set
	Inode  uint32
	Caps   string // file capabilities in cap_to_text form ("" for none)
}

// Ghost reports a %ghost file: listed and owned, never in the payload.
func (f File) Ghost() bool { return f.Flags&rpmutils.RPMFILE_GHOST != 0 }

// Config reports a %config file.
func (f File) Config() bool { return f.Flags&rpmutils.RPMFILE_CONFIG != 0 }

const (
	sIFMT   = 0o170000
	sIFDIR  = 0o040000
	sIFREG  = 0o100000
	sIFLNK  = 0o120000
	sIFCHR  = 0o020000
	sIFBLK  = 0o060000
	sIFIFO  = 0o010000
	sIFSOCK = 0o140000
)

// readFiles builds the file list from the header's parallel arrays. Every
// array must have one element per file: go-rpmutils' GetFiles indexes
// them unchecked, so a short array in a hostile header would panic there.
func readFiles(h *rpmutils.RpmHeader) ([]File, error) {
	paths, err := filePaths(h)
	if err != nil || len(paths) == 0 {
		return nil, err
	}
	n := len(paths)
	files := make([]File, n)
	for i := range files {
		files[i].Path = paths[i]
	}
	u32 := func(tag int, required bool, set func(*File, uint32)) error {
		if !h.HasTag(tag) {
			if required {
				return fmt.Errorf("tag %d missing", tag)
			}
			return nil
		}
		v, err := h.GetUint32s(tag)
		if err != nil {
			return fmt.Errorf("tag %d: %w", tag, err)
		}
		if len(v) != n {
			return fmt.Errorf("tag %d has %d values for %d files", tag, len(v), n)
		}
		for i := range files {
			set(&files[i], v[i])
		}
		return nil
	}
	str := func(tag int, required bool, set func(*File, string)) error {
		if !h.HasTag(tag) {
			if required {
				return fmt.Errorf("tag %d missing", tag)
			}
			return nil
		}
		v, err := h.GetStrings(tag)
		if err != nil {
			return fmt.Errorf("tag %d: %w", tag, err)
		}
		if len(v) != n {
			return fmt.Errorf("tag %d has %d values for %d files", tag, len(v), n)
		}
		for i := range files {
			set(&files[i], v[i])
		}
		return nil
	}
	if h.HasTag(rpmutils.LONGFILESIZES) {
		v, err := h.GetUint64s(rpmutils.LONGFILESIZES)
		if err != nil || len(v) != n {
			return nil, fmt.Errorf("tag %d: %d values for %d files (%v)", rpmutils.LONGFILESIZES, len(v), n, err)
		}
		for i := range files {
			if v[i] > 1<<62 {
				return nil, fmt.Errorf("file %s: size %d", files[i].Path, v[i])
			}
			files[i].Size = int64(v[i])
		}
	} else if err := u32(rpmutils.FILESIZES, true, func(f *File, v uint32) { f.Size = int64(v) }); err != nil {
		return nil, err
	}
	for _, e := range []error{
		u32(rpmutils.FILEMODES, true, func(f *File, v uint32) { f.Mode = v & 0xffff }),
		u32(rpmutils.FILEMTIMES, true, func(f *File, v uint32) { f.Mtime = v }),
		u32(rpmutils.FILEFLAGS, true, func(f *File, v uint32) { f.Flags = v }),
		u32(tagFileRdevs, false, func(f *File, v uint32) { f.Rdev = v }),
		u32(tagFileDevices, false, func(f *File, v uint32) { f.Device = v }),
		u32(tagFileInodes, false, func(f *File, v uint32) { f.Inode = v }),
		str(rpmutils.FILEUSERNAME, true, func(f *File, v string) { f.User = v }),
		str(tagFileGroupName, true, func(f *File, v string) { f.Group = v }),
		str(rpmutils.FILEDIGESTS, false, func(f *File, v string) { f.Digest = v }),
		str(tagFileLinkTos, false, func(f *File, v string) { f.LinkTo = v }),
		str(rpmutils.FILECAPS, false, func(f *File, v string) { f.Caps = v }),
	} {
		if e != nil {
			return nil, e
		}
	}
	return files, nil
}

// filePaths joins DIRNAMES[DIRINDEXES[i]] and BASENAMES[i], or reads the
// OLDFILENAMES of packages before rpm 4.
func filePaths(h *rpmutils.RpmHeader) ([]string, error) {
	if !h.HasTag(rpmutils.BASENAMES) {
		if !h.HasTag(tagOldFilenames) {
			return nil, nil // no files
		}
		return h.GetStrings(tagOldFilenames)
	}
	base, err := h.GetStrings(rpmutils.BASENAMES)
	if err != nil {
		return nil, err
	}
	dirs, err := h.GetStrings(rpmutils.DIRNAMES)
	if err != nil {
		return nil, err
	}
	idx, err := h.GetUint32s(rpmutils.DIRINDEXES)
	if err != nil {
		return nil, err
	}
	if len(idx) != len(base) {
		return nil, fmt.Errorf("%d directory indexes for %d base names", len(idx), len(base))
	}
	out := make([]string, len(base))
	for i, b := range base {
		if int(idx[i]) >= len(dirs) {
			return nil, errors.New("directory index outside the directory names")
		}
		out[i] = dirs[idx[i]] + b
	}
	return out, nil
}
