// Command vzpkg builds template caches from template metadata.
//
// Each command is one file that registers itself in init; the commands
// only parse flags, resolve the template (mirrors from flags, the
// environment or the host's apt sources), hand it to package pipeline,
// which runs the stages (verified indexes → solved set → package store →
// install in the sandbox → template scripts → pack), and render the
// pipeline's typed events and results (pipeline.go: lines, transfer and
// install progress). Everything a library user would need lives in the
// library packages.
package main
