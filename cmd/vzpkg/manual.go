package main

import (
	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

// manual is what vzpkg's man pages hold beside the commands' help.
func manual(root *cobra.Command) *cli.Manual {
	return &cli.Manual{
		Programs: []*cobra.Command{root},
		ExitCodes: []cli.ExitCode{
			{Code: cli.ExitOK, Meaning: "success"},
			{Code: cli.ExitFailure, Meaning: "failure (the message says why)"},
			{Code: cli.ExitUsage, Meaning: "bad command line: unknown command or flag, missing argument, bad value"},
			{Code: cli.ExitLint, Meaning: "vzpkg lint found problems"},
		},
		Files: []cli.File{
			{Path: vzconf.ConfigPath, What: "global configuration, vz.conf(5): TEMPLATE, PACKAGES, INDEXCACHE, ..."},
			{Path: "/etc/vzkit/templates/NAME.yaml", What: "local template metadata, searched before the shipped templates"},
			{Path: "/var/lib/vzkit/template/cache/NAME.tar.zst", What: "template caches, with NAME.json manifests, NAME.tar.zst.asc signatures and NAME.spdx.json SBOMs"},
			{Path: "/var/cache/vzkit/packages", What: "content-addressed package store (PACKAGES)"},
			{Path: "/var/cache/vzkit/indexes", What: "verified repository indexes (INDEXCACHE)"},
			{Path: "/etc/apt/sources.list.d/*.sources, /etc/apt/sources.list", What: "the host's apt sources: where $mirror and $security_mirror come from"},
		},
	}
}
