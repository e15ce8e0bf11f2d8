// Package namedfile reads the files that outside data names: the script
// and key files a template points at. Whoever wrote the template may have
// put a symlink there to a host file only root can read (and vzpkg runs
// as root), a FIFO that blocks the reader forever, or a device that never
// ends.
//
// Reading goes through internal/saferoot, which opens the file without
// following a final symlink and without blocking, requires a regular
// file before anything is read, and reads at most a limit. What this
// package adds is the refusal in words a template's author can act on,
// naming the file and what it is ("... is a symlink; name the file
// itself", "... is a FIFO, not a regular file", "... is larger than N
// bytes"), and Check, which says the same without opening the file at all
// for commands that only look (lint, show).
package namedfile
