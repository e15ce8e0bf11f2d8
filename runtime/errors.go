package runtime

import "errors"

// Errors that callers map to OpenVZ's exit codes; returned errors wrap them
// with the container and path at fault.
var (
	ErrLocked           = errors.New("container is locked by another operation")
	ErrNotExist         = errors.New("container does not exist (no config file)")
	ErrExists           = errors.New("container already exists")
	ErrNotRunning       = errors.New("container is not running")
	ErrRunning          = errors.New("container is running")
	ErrPrivateMissing   = errors.New("container private area is missing")
	ErrPrivateExists    = errors.New("container private area already exists")
	ErrTemplateNotFound = errors.New("OS template cache not found")
	ErrBadParam         = errors.New("invalid parameter")
	ErrStartDisabled    = errors.New("container start is disabled")
	ErrBootTimeout      = errors.New("boot did not finish in time")
	// ErrBadConfig is a CTID.conf that exists but cannot be read or parsed;
	// the error names the file (and line, for a syntax error).
	ErrBadConfig = errors.New("invalid config")
)
