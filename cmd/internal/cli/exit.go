package cli

import (
	"errors"
	"fmt"
	"os"
)

// Exit codes shared by vzpkg and vzctl. vzctl adds OpenVZ's codes (see
// cmd/vzctl/exitcodes.go); these low ones never clash with them.
const (
	ExitOK      = 0
	ExitFailure = 1 // the action failed; the message says why
	ExitUsage   = 2 // bad command line: unknown flag, missing argument
	ExitLint    = 3 // vzpkg lint found problems
)

// ExitError carries the exit code a command wants.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// WithCode wraps err so that the program exits with code.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// errReported has no message: Exit prints nothing more for it.
var errReported = errors.New("")

// Reported is an exit code for a command that has printed its problems
// itself (several of them, after its normal output).
func Reported(code int) error { return &ExitError{Code: code, Err: errReported} }

// UsageError marks err as a command-line mistake (exit 2).
func UsageError(err error) error { return WithCode(ExitUsage, err) }

// Exit prints err (when it has a message) and exits with its code.
func Exit(prog string, err error) {
	if err == nil {
		os.Exit(ExitOK)
	}
	code := ExitFailure
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(os.Stderr, "%s: %s\n", prog, msg)
	}
	os.Exit(code)
}
