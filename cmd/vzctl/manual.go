package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime/resource"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

// manual is what vzctl's man pages hold beside the commands' help: the
// exit codes, the files, and ctid.conf(5) and vz.conf(5) made from
// vzconf's key catalogue, so that the pages list exactly the keys the code
// reads.
func manual(programs ...*cobra.Command) *cli.Manual {
	return &cli.Manual{
		Programs:  programs,
		ExitCodes: exitCodes,
		Files: []cli.File{
			{Path: vzconf.ConfigPath, What: "global configuration, vz.conf(5)"},
			{Path: "/etc/vzkit/conf/CTID.conf", What: "a container's configuration, ctid.conf(5) (CONFDIR)"},
			{Path: "/etc/vzkit/conf/ve-NAME.conf-sample", What: "sample configurations for create --config NAME"},
			{Path: "/var/lib/vzkit/template/cache/NAME.tar.zst", What: "template caches made by vzpkg, with NAME.json manifests"},
			{Path: "/var/lib/vzkit/private/CTID", What: "a container's private area (VE_PRIVATE)"},
			{Path: "/var/lib/vzkit/root/CTID", What: "where a running container's root is mounted (VE_ROOT)"},
			{Path: "/var/lib/vzkit/lock/CTID.lck", What: "a container's lock"},
			{Path: "/run/vzkit", What: "state of running containers (STATEDIR)"},
		},
		Pages: []cli.Page{
			{Name: "ctid.conf", Section: "5", Short: "a vzkit container's configuration file", Markdown: ctidConfPage()},
			{Name: "vz.conf", Section: "5", Short: "vzkit's global configuration file", Markdown: vzConfPage()},
		},
	}
}

const formatHelp = `The file has OpenVZ's format: shell-sourceable KEY="value" lines,
comments (#) and blank lines. vzctl rewrites only the keys it changes and
keeps every other line, comments and keys it does not know included; the
rewrite is atomic. A syntax error is reported with the file and line.`

func ctidConfPage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# DESCRIPTION\nCONFDIR/CTID.conf (/etc/vzkit/conf by default) configures container CTID. create writes it from a sample (ve-NAME.conf-sample) or takes an existing one as it is, as OpenVZ does; vzctl set --save changes it.\n\n%s\n\n# KEYS\n", formatHelp)
	for _, k := range vzconf.ContainerKeys {
		fmt.Fprintf(&b, "- **%s**: %s\n", cli.MarkdownEscape(k.Name), cli.MarkdownEscape(k.Help))
	}
	b.WriteString("\n# RESOURCES\nOpenVZ's resource parameters, applied at start and changed live by **vzctl set** (**--save** writes them here). Pairs are barrier:limit (one number is both); memory counts 4 KiB pages, disk space 1K blocks, and K/M/G/T suffixes (bytes) or P (pages) are taken; unlimited is no limit. Mainline kernels have no beancounters, so each is held as said below: *enforced* as OpenVZ does, *approximated* another way, or *not enforced* (kept and shown only).\n\n")
	for _, p := range resource.Params {
		fmt.Fprintf(&b, "- **%s** (%s): %s. %s: %s\n", cli.MarkdownEscape(p.Key), "--"+p.Flag,
			cli.MarkdownEscape(p.Help), p.Enforcement, cli.MarkdownEscape(p.Mapping))
	}
	b.WriteString("\nOther keys (OpenVZ's NETFILTER, the other beancounters, ...) are kept and have no effect.\n")
	return b.String()
}

func vzConfPage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# DESCRIPTION\n/etc/vzkit/vz.conf holds vzkit's global settings; without it the defaults below apply. VZKIT\\_ROOT (or --vzkit-root) prefixes every path, this file's own included. **vzctl config** prints each setting with its origin.\n\n%s\n\nOpenVZ's own vz.conf can be used as it is: the keys vzkit does not implement (LOGFILE, VE\\_STOP\\_MODE, IPV6, IPTABLES, ...) are kept and listed by vzctl config as ignored.\n\n# KEYS\n", formatHelp)
	for _, k := range vzconf.GlobalKeys() {
		def := "empty"
		if k.Default != "" {
			def = cli.MarkdownEscape(k.Default)
		}
		fmt.Fprintf(&b, "- **%s**: %s; default: %s\n", cli.MarkdownEscape(k.Name), cli.MarkdownEscape(k.Help), def)
	}
	return b.String()
}
