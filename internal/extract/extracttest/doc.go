// Package extracttest holds what the tests of archive extraction share
// (internal/extract and cache): tar streams written from a few Entry
// values, a Sandbox whose Check proves that nothing beside the destination
// changed, and a small real tree to pack.
//
// A Sandbox is a temporary directory holding the destination and, beside
// it, "outside" with one canary file: escapes by "..", by a symlink or by a
// hardlink all land there or change the canary's link count, and Check
// compares names, content, mode and link count with what NewSandbox made.
package extracttest
