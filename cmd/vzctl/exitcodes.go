package main

import (
	"errors"

	"github.com/spf13/pflag"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime"
)

// OpenVZ's exit codes of vzctl (see vzctl(8) and vzerror.h); 1 comes from
// cli.
const (
	exitLocked          = 9
	exitNotExist        = 14
	exitChkpnt          = 16 // VZ_CHKPNT_ERROR
	exitRestore         = 17 // VZ_RESTORE_ERROR
	exitSyntax          = 20 // VZ_INVALID_PARAMETER_SYNTAX
	exitBadValue        = 21 // VZ_INVALID_PARAMETER_VALUE
	exitNotRunning      = 31
	exitRunning         = 32
	exitPrivateMissing  = 43
	exitPrivateExists   = 44
	exitBadConfig       = 85 // VZ_INVALID_CONFIG
	exitBadIP           = 71 // VZ_BADIP
	exitBadNameserver   = 72 // VZ_BADDNSSRV (vzerror.h; not in vzctl(8)'s table)
	exitIPInUse         = 78 // VZ_IP_INUSE
	exitTemplateMissing = 91
	exitStartDisabled   = 105
	exitWaitFailed      = 133
)

// exitCodes are vzctl's documented exit codes: in --help and, as a table,
// in every man page.
var exitCodes = []cli.ExitCode{
	{Code: 0, Meaning: "success"},
	{Code: 1, Meaning: "failure (the message says why)"},
	{Code: exitLocked, Meaning: "the container is locked by another vzctl operation"},
	{Code: exitNotExist, Meaning: "the container does not exist (no CTID.conf)"},
	{Code: exitSyntax, Meaning: "bad command line: unknown command or flag, missing argument"},
	{Code: exitBadValue, Meaning: "invalid parameter value"},
	{Code: exitChkpnt, Meaning: "checkpointing failed, or does not work here (vzctl check says why)"},
	{Code: exitRestore, Meaning: "restoring from a dump failed (the dump is kept)"},
	{Code: exitNotRunning, Meaning: "the container is not running"},
	{Code: exitRunning, Meaning: "the container is running"},
	{Code: exitPrivateMissing, Meaning: "the container's private area is missing"},
	{Code: exitPrivateExists, Meaning: "the container's private area already exists"},
	{Code: exitBadIP, Meaning: "invalid IP address (not an address, or loopback, multicast, unspecified, link-local or broadcast)"},
	{Code: exitBadNameserver, Meaning: "invalid DNS nameserver"},
	{Code: exitIPInUse, Meaning: "IP address already in use (by another container or the host)"},
	{Code: exitBadConfig, Meaning: "a container's CTID.conf cannot be read or parsed (file:line named)"},
	{Code: exitTemplateMissing, Meaning: "OS template cache not found"},
	{Code: exitStartDisabled, Meaning: `start disabled (DISABLED="yes"; start --force)`},
	{Code: exitWaitFailed, Meaning: "start --wait: the boot did not finish in time"},
}

// exitCodesHelp is appended to vzctl's --help.
var exitCodesHelp = "\n\nExit codes (OpenVZ's):\n" + cli.ExitCodeTable(exitCodes) +
	"exec, exec2, runscript and enter exit with the status of the command."

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
		{runtime.ErrBadConfig, exitBadConfig},
		{runtime.ErrTemplateNotFound, exitTemplateMissing},
		{runtime.ErrStartDisabled, exitStartDisabled},
		{runtime.ErrBootTimeout, exitWaitFailed},
		{runtime.ErrBadParam, exitBadValue},
		{runtime.ErrBadIP, exitBadIP},
		{runtime.ErrBadNameserver, exitBadNameserver},
		{runtime.ErrIPInUse, exitIPInUse},
		{runtime.ErrCheckpointUnsupported, exitChkpnt},
		{runtime.ErrCheckpoint, exitChkpnt},
		{runtime.ErrRestore, exitRestore},
	} {
		if errors.Is(err, m.target) {
			return cli.WithCode(m.code, err)
		}
	}
	return err
}

// openvzCode gives a command-line mistake OpenVZ's code: 21 for a bad
// value (of a flag or an argument), 20 for the rest. cli, shared with
// vzpkg, marks both with its one usage code.
func openvzCode(err error) error {
	var ee *cli.ExitError
	if !errors.As(err, &ee) || ee.Code != cli.ExitUsage {
		return err
	}
	var inv *pflag.InvalidValueError
	if errors.Is(err, cli.ErrBadValue) || errors.Is(err, runtime.ErrBadParam) || errors.As(err, &inv) {
		return cli.WithCode(exitBadValue, ee.Err)
	}
	return cli.WithCode(exitSyntax, ee.Err)
}
