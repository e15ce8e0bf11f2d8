// Command vzpkg builds template caches from template metadata.
//
// Each command is one file that registers itself in init; the commands
// only parse flags, wire the stages together (pipeline.go: verified
// indexes → solved set → package store; build.go: bootstrap in the
// sandbox → template scripts → pack) and print. Everything a library user
// would need lives in the stage packages.
package main
