package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/metadata"
)

// sourcesOptions choose the mirrors written into the cache's own apt
// sources: what the containers made from it will use, which need not be
// what the build fetched from.
type sourcesOptions struct {
	Mirror         string // --sources-mirror: URL, or "build"
	SecurityMirror string // --sources-security-mirror: URL, or "build"
}

func addSourcesFlags(c *cobra.Command, o *sourcesOptions) {
	f := c.Flags()
	f.StringVar(&o.Mirror, "sources-mirror", "", `mirror for the cache's own apt sources ("build": the one built from; default: see above)`)
	f.StringVar(&o.SecurityMirror, "sources-security-mirror", "", `security mirror for the cache's own apt sources ("build": the one built from)`)
}

const sourcesHelp = `
The cache's own apt sources (what containers made from it use) list every
suite of the template, the updates and security suites included, on the
public mirrors: those of this host's apt sources. A build-time mirror given
with --mirror or VZKIT_MIRROR_<DISTRO> (a loopback mirror, a cache on the
build host) is not written into the cache unless asked: --sources-mirror URL
(and --sources-security-mirror URL) name the container's mirrors, "build"
keeps the build's. Without a host entry for the distro, a build mirror that
is not local (loopback, localhost, file:) is kept; a local one is an error.`

// containerSources are the repositories the cache's own package manager
// uses (its apt sources): those of the template resolved again on the
// mirrors chosen by o (see sourcesHelp).
func containerSources(build *resolvedTemplate, ro resolveOptions, o sourcesOptions) ([]metadata.Repository, []varValue, error) {
	t, name := build.Unexpanded, build.Unexpanded.Name
	var host *resolvedTemplate // the host's own mirrors, looked up once if needed
	chosen := resolveOptions{Arch: ro.Arch}
	for _, v := range build.Vars {
		var given, flag string
		var set *string
		switch v.Name {
		case "mirror":
			given, flag, set = o.Mirror, "--sources-mirror", &chosen.Mirror
		case "security_mirror":
			given, flag, set = o.SecurityMirror, "--sources-security-mirror", &chosen.SecurityMirror
		default:
			continue
		}
		switch {
		case given == "build":
			*set = v.Value
		case given != "":
			*set = given
		case strings.HasPrefix(v.From, "--") || strings.HasPrefix(v.From, "VZKIT_"):
			// A build-time override: the host's public mirror goes into
			// the cache instead.
			if host == nil {
				host, _ = resolveVars(t, resolveOptions{Arch: ro.Arch, hostOnly: true})
			}
			if hv := lookupVar(host, v.Name); hv != "" {
				*set = hv
				break
			}
			if isLocalURL(v.Value) {
				return nil, nil, fmt.Errorf("template %s: $%s = %s (from %s) is local to this build host and this host's apt sources name no other; give %s URL for the cache's apt sources (or %s build to keep it)",
					name, v.Name, v.Value, v.From, flag, flag)
			}
			*set = v.Value
		default:
			*set = v.Value
		}
	}
	r, err := resolveVars(t, chosen)
	if err != nil {
		return nil, nil, err
	}
	return r.Template.Repositories, r.Vars, nil
}

func lookupVar(r *resolvedTemplate, name string) string {
	if r == nil {
		return ""
	}
	for _, v := range r.Vars {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}

// isLocalURL reports whether a mirror URL only works on the build host: a
// file: URL, localhost, or a loopback address.
func isLocalURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "file" || u.Host == "" {
		return true
	}
	h := u.Hostname()
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
