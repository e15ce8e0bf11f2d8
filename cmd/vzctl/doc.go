// Command vzctl creates and runs containers from template caches, with
// OpenVZ's commands, flags, config files and exit codes.
//
// Each command is one file that registers itself in init and maps the
// runtime package's errors to OpenVZ's exit codes (exitcodes.go); the
// container logic itself lives in package runtime (and the listing's in
// runtime/vzlist). Started under the name vzlist (make install's symlink),
// the binary is vzlist(8): the list command as its root. main calls
// sandbox.Init first because the binary re-executes itself as each
// container's init.
package main
