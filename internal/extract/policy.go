package extract

import (
	"fmt"
	"path"
	"strings"
)

// Policy is what differs between unpacking a package and restoring a cache.
// The hostile-input rules (containment, hardlinks, symlinks, devices,
// limits) are not part of it: they hold for every policy.
type Policy struct {
	// StripLeadingSlash turns "/etc/x" into "etc/x" below the destination,
	// as dpkg and tar do. Without it such a name is refused: Pack writes
	// "./"-relative names only, so an absolute one in a cache means the
	// cache was not made by Pack.
	StripLeadingSlash bool
	// KeepDirSymlinks keeps an existing symlink where a directory entry
	// names it, provided it leads to a directory inside the destination
	// (dpkg, tar --keep-directory-symlink): a merged-/usr root has
	// bin -> usr/bin before any package ships ./bin/. A cache holds the
	// whole tree, so there the entry replaces the symlink.
	KeepDirSymlinks bool
	// ReplaceMismatched lets a directory entry replace a non-directory and
	// a non-directory entry replace an empty directory, as GNU tar does: a
	// cache restore makes the archive's tree, whatever an earlier entry
	// made. dpkg refuses both; a package that would change the kind of a
	// path in a shared root is in conflict with what is there.
	ReplaceMismatched bool
	// RootMetadata applies the owner, mode, xattrs and mtime of the "./"
	// entry to the destination: a container's / must be what the template
	// says, not the 0700 of a freshly made directory. Packages share one
	// root whose / belongs to the builder, and dpkg never changes it.
	RootMetadata bool
	// SkipUnsupportedXattrs makes an xattr the destination file system
	// does not support (EOPNOTSUPP: security.selinux from a SELinux build
	// host) cost a warning, as in GNU tar, so a cache restores on any file
	// system; security.capability is always required. dpkg unpack fails:
	// a package is unpacked on the build host, where a missing xattr is a
	// broken build, not a property of the place a container lives.
	SkipUnsupportedXattrs bool
	// RecordPaths fills Result.Paths, which dpkg's database needs (the
	// info/<pkg>.list of every package). A cache restore has millions of
	// entries nobody asks for; recording them would only cost memory.
	RecordPaths bool
}

// DpkgUnpack is the policy of unpacking a .deb's data.tar into a root being
// built, as dpkg --unpack would.
var DpkgUnpack = Policy{
	StripLeadingSlash: true,
	KeepDirSymlinks:   true,
	RecordPaths:       true,
}

// CacheRestore is the policy of cache.Unpack: restore the tree Pack wrote
// into a new, empty destination.
var CacheRestore = Policy{
	ReplaceMismatched:     true,
	RootMetadata:          true,
	SkipUnsupportedXattrs: true,
}

// maxPathLen is PATH_MAX: no longer name can be looked up anyway.
const maxPathLen = 4096

// CleanName turns an archive path into a path relative to the destination
// ("." for the destination itself). A ".." component, a NUL byte, an empty
// or over-long name, and a leading "/" unless StripLeadingSlash are refused
// with ErrUnsafePath.
func (p Policy) CleanName(name string) (string, error) {
	switch {
	case name == "":
		return "", fmt.Errorf("%w: empty name", ErrUnsafePath)
	case len(name) > maxPathLen:
		return "", fmt.Errorf("%w: %q: longer than %d bytes", ErrUnsafePath, name[:64]+"...", maxPathLen)
	case strings.IndexByte(name, 0) >= 0:
		return "", fmt.Errorf("%w: %q: NUL in name", ErrUnsafePath, name)
	case strings.HasPrefix(name, "/") && !p.StripLeadingSlash:
		return "", fmt.Errorf("%w: %q: absolute name", ErrUnsafePath, name)
	}
	for c := range strings.SplitSeq(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("%w: %q: contains \"..\"", ErrUnsafePath, name)
		}
	}
	if rel := strings.TrimPrefix(path.Clean("/"+name), "/"); rel != "" {
		return rel, nil
	}
	return ".", nil
}

// DpkgPath is rel (from CleanName) in the form of dpkg's info/*.list
// files: "/." for the root, "/usr/bin/true" for usr/bin/true.
func DpkgPath(rel string) string {
	if rel == "." {
		return "/."
	}
	return "/" + rel
}

// StandardDevice reports whether a device node is one that every Linux root
// has in /dev and that is harmless to give a container: null, zero, full,
// random, urandom, tty, console, ptmx (character devices). Any other node
// (a disk, /dev/mem, a loop device) would hand whoever uses the tree a
// host device; block devices are never standard.
func StandardDevice(char bool, major, minor uint32) bool {
	if !char {
		return false
	}
	switch major {
	case 1: // mem driver
		return minor == 3 || minor == 5 || minor == 7 || minor == 8 || minor == 9
	case 5: // tty driver
		return minor <= 2
	}
	return false
}
