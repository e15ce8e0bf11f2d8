package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"
)

// Files vzkit manages inside a container root from its CTID.conf. They are
// written from the host through os.Root, so a symlink planted by the
// container cannot redirect a write outside its root.

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

func validIP(s string) error {
	var err error
	if strings.Contains(s, "/") {
		_, err = netip.ParsePrefix(s)
	} else {
		_, err = netip.ParseAddr(s)
	}
	if err != nil {
		return fmt.Errorf("%w: IP address %q: %v", ErrBadParam, s, err)
	}
	return nil
}

// writeConfFiles writes /etc/hostname, /etc/hosts and /etc/resolv.conf of a
// mounted root from c's config; keys that are unset leave the files alone.
func writeConfFiles(root string, c *Container) error {
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("container %s: %w", c.ID, err)
	}
	defer r.Close()
	if h := c.Get("HOSTNAME"); h != "" {
		if err := writeHostname(r, h); err != nil {
			return fmt.Errorf("container %s: %w", c.ID, err)
		}
	}
	ns, search := strings.Fields(c.Get("NAMESERVER")), strings.Fields(c.Get("SEARCHDOMAIN"))
	if len(ns) > 0 || len(search) > 0 {
		if err := writeResolvConf(r, ns, search); err != nil {
			return fmt.Errorf("container %s: %w", c.ID, err)
		}
	}
	return nil
}

func writeHostname(r *os.Root, h string) error {
	if err := r.MkdirAll("etc", 0o755); err != nil {
		return err
	}
	if err := replaceFile(r, "etc/hostname", []byte(h+"\n")); err != nil {
		return err
	}
	old, err := r.ReadFile("etc/hosts")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read /etc/hosts: %w", err)
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
	return replaceFile(r, "etc/hosts", []byte(strings.Join(lines, "\n")+"\n"))
}

func writeResolvConf(r *os.Root, ns, search []string) error {
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
	return replaceFile(r, "etc/resolv.conf", []byte(b.String()))
}

// replaceFile writes name inside r under a temporary name and renames it
// into place; a symlink at name is replaced, not followed.
func replaceFile(r *os.Root, name string, data []byte) error {
	tmp := name + ".vzkit-tmp"
	r.Remove(tmp)
	if err := r.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write /%s: %w", name, err)
	}
	if err := r.Rename(tmp, name); err != nil {
		r.Remove(tmp)
		return fmt.Errorf("write /%s: %w", name, err)
	}
	return nil
}
