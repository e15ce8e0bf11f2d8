package main

import "github.com/vzkit/vzkit/cmd/internal/cli"

// version is set at link time by `make build` (-X main.version=...); a
// plain `go build` reports the commit it was built from instead.
var version = cli.Version(linkedVersion)

var linkedVersion = "dev"
