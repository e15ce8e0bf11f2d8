package main

import (
	"errors"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime"
)

// OpenVZ's exit codes of vzctl (see vzctl(8)); 1 and 2 come from cli.
const (
	exitLocked          = 9
	exitNotExist        = 14
	exitNotRunning      = 31
	exitRunning         = 32
	exitPrivateMissing  = 43
	exitPrivateExists   = 44
	exitBadIP           = 71 // VZ_BADIP
	exitBadNameserver   = 72 // VZ_BADDNSSRV (vzerror.h; not in vzctl(8)'s table)
	exitIPInUse         = 78 // VZ_IP_INUSE
	exitTemplateMissing = 91
)

// exitCodesHelp is appended to vzctl's --help.
const exitCodesHelp = `

Exit codes (OpenVZ's):
   0  success
   1  failure (the message says why)
   2  bad command line or parameter
   9  the container is locked by another vzctl operation
  14  the container does not exist (no CTID.conf)
  31  the container is not running
  32  the container is running
  43  the container's private area is missing
  44  the container's private area already exists
  71  invalid IP address (not an address, or loopback, multicast,
      unspecified, link-local or broadcast)
  72  invalid DNS nameserver
  78  IP address already in use (by another container or the host)
  91  OS template cache not found
exec, exec2, runscript and enter exit with the status of the command.`

// ctErr gives a runtime error OpenVZ's exit code.
func ctErr(err error) error {
	if err == nil {
		return nil
	}
	for _, m := range []struct {
		target error
		code   int
	}{
		{runtime.ErrLocked, exitLocked},
		{runtime.ErrNotExist, exitNotExist},
		{runtime.ErrNotRunning, exitNotRunning},
		{runtime.ErrRunning, exitRunning},
		{runtime.ErrPrivateMissing, exitPrivateMissing},
		{runtime.ErrPrivateExists, exitPrivateExists},
		{runtime.ErrTemplateNotFound, exitTemplateMissing},
		{runtime.ErrBadIP, exitBadIP},
		{runtime.ErrBadNameserver, exitBadNameserver},
		{runtime.ErrIPInUse, exitIPInUse},
		{runtime.ErrBadParam, cli.ExitUsage},
	} {
		if errors.Is(err, m.target) {
			return cli.WithCode(m.code, err)
		}
	}
	return err
}
