//go:build tools

// Package deps pins the modules DESIGN.md chooses, so that go.mod names
// them at their chosen versions before every package that imports them
// exists. It is never built (the tools tag).
package deps

import (
	_ "github.com/ProtonMail/go-crypto/openpgp"
	_ "github.com/cyphar/filepath-securejoin"
	_ "github.com/goccy/go-yaml"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/opencontainers/cgroups"
	_ "github.com/opencontainers/runc/libcontainer"
	_ "github.com/sassoftware/go-rpmutils"
	_ "github.com/vishvananda/netlink"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
	_ "pault.ag/go/debian/control"
)
