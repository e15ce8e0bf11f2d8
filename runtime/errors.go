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
	// ErrBadIP is an address a container cannot have: not an address at
	// all, or one of a kind no container may use (loopback, ...).
	ErrBadIP = errors.New("invalid IP address")
	// ErrBadNameserver is a --nameserver that is not an IP address, or an
	// "inherit" that finds no resolver a container can use.
	ErrBadNameserver = errors.New("invalid DNS nameserver")
	// ErrIPInUse is an address another container or the host already uses.
	ErrIPInUse = errors.New("IP address already in use")
	// ErrQuotaUnsupported is a disk quota the container's layout, its
	// filesystem or this kernel cannot enforce (QUOTAUGIDLIMIT without
	// the kernel's quota formats, an unlimited DISKSPACE for an image).
	// start reports it and goes on; set returns it.
	ErrQuotaUnsupported = errors.New("disk quota not supported here")
	// ErrCheckpointUnsupported is a host where CRIU is missing or its
	// `criu check` fails: nothing can be checkpointed or restored.
	ErrCheckpointUnsupported = errors.New("checkpointing does not work on this host")
	// ErrCheckpoint is a checkpoint that failed (the container runs on);
	// ErrRestore a restore that failed (the dump stays).
	ErrCheckpoint = errors.New("checkpoint failed")
	ErrRestore    = errors.New("restore failed")
)
