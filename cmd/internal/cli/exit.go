package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
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

// UsageError marks err as a command-line mistake (exit 2): an unknown
// command or flag, a missing argument.
func UsageError(err error) error { return WithCode(ExitUsage, err) }

// ErrBadValue is matched (errors.Is) by the errors of ValueError, so that
// vzctl can give a bad value OpenVZ's code of its own (21) where vzpkg
// exits 2 for every command-line mistake.
var ErrBadValue = errors.New("invalid value")

type valueError struct{ error }

func (e valueError) Unwrap() error        { return e.error }
func (e valueError) Is(target error) bool { return target == ErrBadValue }

// ValueError marks err as a bad value given on the command line (exit 2
// like UsageError; vzctl tells the two apart).
func ValueError(err error) error {
	if err == nil {
		return nil
	}
	return WithCode(ExitUsage, valueError{err})
}

// GroupCommand makes c, a command that only holds subcommands, refuse an
// unknown subcommand as a usage error (cobra's own check exits 1) and print
// its help when given none.
func GroupCommand(c *cobra.Command) {
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2 // cobra's own default, set only on its path
		}
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return UsageError(fmt.Errorf("%s (see %s --help)", msg, cmd.CommandPath()))
	}
	c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
}

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
