package rpm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// This file builds .rpm files for hostile tests: rpmbuild refuses the
// names and layouts they need (".." in a path, a file below a symlink,
// sizes that do not match), so the headers are written here, with the
// digests right so that verification passes and extraction is what is
// tested.

// tfile is one file of a test package.
type tfile struct {
	path    string
	mode    uint32 // st_mode with type bits
	content string // regular file content (or the cpio content of others)
	link    string // symlink target
	user    string // "" = root
	group   string
	flags   uint32
	rdev    uint32
	inode   uint32 // 0 = its index + 1
	caps    string
	size    int64 // header size override (-1 = len(content))
	ghost   bool
}

type tpkg struct {
	name  string
	files []tfile
	// cpio, when set, is the payload archive as it is; otherwise it is
	// built from files (newc, content on the last hardlink member).
	cpio []byte
	// extra is appended to the uncompressed payload after the archive.
	extra []byte
}

type tagEntry struct {
	tag, typ int
	count    int
	data     []byte
}

type hdrBuilder struct{ entries []tagEntry }

func (h *hdrBuilder) str(tag int, s string) {
	h.entries = append(h.entries, tagEntry{tag, typeString, 1, append([]byte(s), 0)})
}

func (h *hdrBuilder) strs(tag int, ss []string) {
	var b []byte
	for _, s := range ss {
		b = append(append(b, s...), 0)
	}
	h.entries = append(h.entries, tagEntry{tag, typeStringArray, len(ss), b})
}

func (h *hdrBuilder) i32(tag int, v []uint32) {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint32(b[4*i:], x)
	}
	h.entries = append(h.entries, tagEntry{tag, typeInt32, len(v), b})
}

func (h *hdrBuilder) i16(tag int, v []uint32) {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint16(b[2*i:], uint16(x))
	}
	h.entries = append(h.entries, tagEntry{tag, typeInt16, len(v), b})
}

func (h *hdrBuilder) i64(tag int, v []uint64) {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint64(b[8*i:], x)
	}
	h.entries = append(h.entries, tagEntry{tag, typeInt64, len(v), b})
}

// bytes lays the header out as rpm does: intro, index sorted by tag,
// data with each value aligned to its type.
func (h *hdrBuilder) bytes() []byte {
	sort.SliceStable(h.entries, func(i, j int) bool { return h.entries[i].tag < h.entries[j].tag })
	var index, data bytes.Buffer
	for _, e := range h.entries {
		if a := int(typeSize[e.typ]); a > 1 {
			for data.Len()%a != 0 {
				data.WriteByte(0)
			}
		}
		var ie [16]byte
		binary.BigEndian.PutUint32(ie[0:], uint32(e.tag))
		binary.BigEndian.PutUint32(ie[4:], uint32(e.typ))
		binary.BigEndian.PutUint32(ie[8:], uint32(data.Len()))
		binary.BigEndian.PutUint32(ie[12:], uint32(e.count))
		index.Write(ie[:])
		data.Write(e.data)
	}
	var out bytes.Buffer
	var intro [16]byte
	binary.BigEndian.PutUint32(intro[0:], headerMagic)
	binary.BigEndian.PutUint32(intro[8:], uint32(len(h.entries)))
	binary.BigEndian.PutUint32(intro[12:], uint32(data.Len()))
	out.Write(intro[:])
	out.Write(index.Bytes())
	out.Write(data.Bytes())
	return out.Bytes()
}

// newc writes one cpio entry.
func newc(w *bytes.Buffer, name string, mode uint32, ino uint32, nlink int, content []byte) {
	fmt.Fprintf(w, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, len(content), 0, 0, 0, 0, len(name)+1, 0)
	w.WriteString(name)
	w.WriteByte(0)
	for w.Len()%4 != 0 {
		w.WriteByte(0)
	}
	w.Write(content)
	for w.Len()%4 != 0 {
		w.WriteByte(0)
	}
}

func cpioTrailer(w *bytes.Buffer) { newc(w, trailerName, 0, 0, 1, nil) }

// buildRPM writes tp as dir/<name>.rpm and returns its path.
func buildRPM(t *testing.T, dir string, tp tpkg) string {
	t.Helper()
	n := len(tp.files)
	var dirs []string
	dirIdx := map[string]int{}
	var base []string
	var di, modes, sizes, mtimes, flags, rdevs, inodes, devs []uint32
	var users, groups, digests, links, caps []string
	var long []uint64
	useLong := false
	for i, f := range tp.files {
		d, b := path.Split(f.path)
		if _, ok := dirIdx[d]; !ok {
			dirIdx[d] = len(dirs)
			dirs = append(dirs, d)
		}
		base = append(base, b)
		di = append(di, uint32(dirIdx[d]))
		modes = append(modes, f.mode)
		size := int64(len(f.content))
		if f.mode&sIFMT == sIFLNK {
			size = int64(len(f.link))
		}
		if f.mode&sIFMT == sIFDIR || f.mode&sIFMT == sIFCHR || f.mode&sIFMT == sIFBLK {
			size = 0
		}
		if f.size != 0 {
			size = f.size
		}
		if size > 1<<31 {
			useLong = true
		}
		long = append(long, uint64(size))
		sizes = append(sizes, uint32(size))
		mtimes = append(mtimes, 1700000000)
		fl := f.flags
		if f.ghost {
			fl |= 1 << 6
		}
		flags = append(flags, fl)
		rdevs = append(rdevs, f.rdev)
		ino := f.inode
		if ino == 0 {
			ino = uint32(i + 1)
		}
		inodes = append(inodes, ino)
		devs = append(devs, 1)
		user, group := f.user, f.group
		if user == "" {
			user = "root"
		}
		if group == "" {
			group = "root"
		}
		users, groups = append(users, user), append(groups, group)
		dg := ""
		if f.mode&sIFMT == sIFREG {
			s := sha256.Sum256([]byte(f.content))
			dg = hex.EncodeToString(s[:])
		}
		digests = append(digests, dg)
		links = append(links, f.link)
		caps = append(caps, f.caps)
	}
	payload := tp.cpio
	if payload == nil {
		var w bytes.Buffer
		// The last member of a hardlink set carries the content.
		last := map[uint32]int{}
		count := map[uint32]int{}
		for i, f := range tp.files {
			if f.mode&sIFMT == sIFREG && !f.ghost {
				last[inodes[i]] = i
				count[inodes[i]]++
			}
		}
		for i, f := range tp.files {
			if f.ghost {
				continue
			}
			content := []byte(f.content)
			if f.mode&sIFMT == sIFLNK {
				content = []byte(f.link)
			}
			nlink := 1
			if f.mode&sIFMT == sIFREG {
				nlink = count[inodes[i]]
				if last[inodes[i]] != i {
					content = nil
				}
			}
			newc(&w, "."+f.path, f.mode, inodes[i], nlink, content)
		}
		cpioTrailer(&w)
		payload = w.Bytes()
	}
	payload = append(append([]byte(nil), payload...), tp.extra...)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(payload)
	zw.Close()

	var h hdrBuilder
	h.str(1000, tp.name)
	h.str(1001, "1.0")
	h.str(1002, "1")
	h.str(1021, "linux")
	h.str(1022, "x86_64")
	h.str(1124, "cpio")
	h.str(1125, "gzip")
	if n > 0 {
		h.strs(1117, base)
		h.strs(1118, dirs)
		h.i32(1116, di)
		h.i16(1030, modes)
		if useLong {
			h.i64(5008, long)
		} else {
			h.i32(1028, sizes)
		}
		h.i32(1034, mtimes)
		h.i32(1037, flags)
		h.i16(1033, rdevs)
		h.i32(1096, inodes)
		h.i32(1095, devs)
		h.strs(1039, users)
		h.strs(1040, groups)
		h.strs(1035, digests)
		h.strs(1036, links)
		h.strs(5010, caps)
		h.i32(5011, []uint32{8})
	}
	ps := sha256.Sum256(gz.Bytes())
	h.strs(tagPayloadDigest, []string{hex.EncodeToString(ps[:])})
	h.i32(tagPayloadAlgo, []uint32{8})
	hdr := h.bytes()

	var sig hdrBuilder
	hs := sha256.Sum256(hdr)
	sig.str(tagSHA256Header, hex.EncodeToString(hs[:]))
	sigb := sig.bytes()

	lead := make([]byte, leadSize)
	binary.BigEndian.PutUint32(lead[0:], leadMagic)
	lead[4], lead[5] = 3, 0
	copy(lead[10:], tp.name)
	binary.BigEndian.PutUint16(lead[78:], 5)
	var out bytes.Buffer
	out.Write(lead)
	out.Write(sigb)
	for out.Len()%8 != 0 {
		out.WriteByte(0)
	}
	out.Write(hdr)
	out.Write(gz.Bytes())
	file := filepath.Join(dir, tp.name+"-1.0-1.x86_64.rpm")
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}
