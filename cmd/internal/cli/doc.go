// Package cli holds what vzpkg and vzctl share as command-line programs:
// global flags (--vzkit-root, -o), output in table or JSON form, documented exit
// codes, and progress display. It holds no logic a library user would need;
// that lives in the stage packages.
package cli
