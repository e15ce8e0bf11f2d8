// Package testfixtures locates the shared third-party test data (real
// RPMs, repodata, .debs, keys; see SOURCES.md there), which lives in the
// shared/ folder beside the repository checkout rather than inside it.
//
// Tests run in their package's directory, so the checkout's root is found
// by walking up to go.mod; shared/fixtures is looked for beside it, then at
// the development machines' fixed location.
package testfixtures
