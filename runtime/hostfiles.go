package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/vzkit/vzkit/internal/saferoot"
)

// Files vzkit manages inside a container root from its CTID.conf, written
// from the host through openRoot.

const hostsMarker = "# vzkit: HOSTNAME"

func validHostname(h string) error {
	if len(h) > 253 || h == "" {
		return fmt.Errorf("%w: hostname %q: want 1 to 253 characters", ErrBadParam, h)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%w: hostname %q: bad label %q", ErrBadParam, h, label)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%w: hostname %q: character %q", ErrBadParam, h, c)
			}
		}
	}
	return nil
}

// openRoot opens c's mounted root (VE_ROOT) for host-side access, the one
// way in (package saferoot): every name resolves inside it, a symlink,
// FIFO or device node planted by the container is never followed or
// opened, and for an unprivileged container every access is made with its
// root's host ids, so it can do nothing the container's root could not.
func (c *Container) openRoot() (*saferoot.Root, error) {
	m, err := c.IDMap()
	if err != nil {
		return nil, err
	}
	var opts []saferoot.Option
	if m != nil {
		opts = append(opts, saferoot.As(saferoot.Identity{UID: int(m.UID), GID: int(m.GID)}))
	}
	r, err := saferoot.Open(c.Root, opts...)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	return r, nil
}

// maxEtcFile bounds what is read of a container's /etc/hosts or
// os-release.
const maxEtcFile = 1 << 20

// writeConfFiles writes /etc/hostname, /etc/hosts and /etc/resolv.conf of
// c's mounted root from its config; keys that are unset leave the files
// alone.
func (s *Store) writeConfFiles(c *Container) error {
	r, err := c.openRoot()
	if err != nil {
		return err
	}
	defer r.Close()
	if h := c.Get("HOSTNAME"); h != "" {
		if err := s.writeHostname(r, c, h); err != nil {
			return fmt.Errorf("container %s: %w", c.ID, err)
		}
	}
	ns, search, err := s.dnsOf(c, s.log().Info)
	if err != nil {
		// The host's resolvers changed since set checked them: the
		// container keeps the resolv.conf it has rather than not starting.
		s.log().Warn("resolv.conf left as it is", "ctid", c.ID, "err", err)
		ns, search = nil, nil
	}
	if len(ns) > 0 || len(search) > 0 {
		if err := writeResolvConf(r, ns, search); err != nil {
			return fmt.Errorf("container %s: %w", c.ID, err)
		}
	}
	return nil
}

func (s *Store) writeHostname(r *saferoot.Root, c *Container, h string) error {
	if err := r.MkdirAll("etc", 0o755); err != nil {
		return err
	}
	if err := r.WriteFile("etc/hostname", []byte(h+"\n"), 0o644); err != nil {
		return err
	}
	old, err := r.ReadFile("etc/hosts", maxEtcFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, saferoot.ErrNotRegular):
		// A symlink (or worse) is not followed; the file vzkit writes
		// replaces it.
		s.log().Warn("/etc/hosts is not a regular file, replacing it", "ctid", c.ID, "err", err)
		old = nil
	case err != nil:
		return err
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
		if l != "" && !strings.HasSuffix(l, hostsMarker) {
			lines = append(lines, l)
		}
	}
	if !strings.Contains(string(old), "localhost") {
		lines = append([]string{"127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"}, lines...)
	}
	names := h
	if short, _, ok := strings.Cut(h, "."); ok {
		names += " " + short
	}
	lines = append(lines, "127.0.1.1\t"+names+"\t"+hostsMarker)
	return r.WriteFile("etc/hosts", []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

func writeResolvConf(r *saferoot.Root, ns, search []string) error {
	var b strings.Builder
	b.WriteString("# written by vzkit from NAMESERVER and SEARCHDOMAIN of CTID.conf\n")
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	for _, n := range ns {
		fmt.Fprintf(&b, "nameserver %s\n", n)
	}
	if err := r.MkdirAll("etc", 0o755); err != nil {
		return err
	}
	return r.WriteFile("etc/resolv.conf", []byte(b.String()), 0o644)
}
