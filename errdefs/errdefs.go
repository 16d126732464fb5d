// Package errdefs defines the kinds of error the engine returns. Callers test
// for a kind with errors.Is; the CLI maps kinds to messages and exit codes in
// one place.
package errdefs

import (
	"errors"
	"fmt"
)

// The kinds. Wrap them with fmt.Errorf("...: %w", ErrNotFound) or use the
// helpers below; never compare error strings.
var (
	ErrNotFound        = errors.New("not found")
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrConflict: the request clashes with the object's state (a name in
	// use, an image in use, a container that is running or not running).
	ErrConflict  = errors.New("conflict")
	ErrAmbiguous = errors.New("ambiguous")
	// ErrNotRunning is the conflict of acting on a container that does not
	// run (exec, kill, pause, top): errors.Is matches ErrConflict too, as
	// Docker's daemon reports it as one.
	ErrNotRunning = fmt.Errorf("not running: %w", ErrConflict)
)

// NotFound returns an error of kind ErrNotFound with a message.
func NotFound(format string, args ...any) error { return kind(ErrNotFound, format, args...) }

// InvalidArgument returns an error of kind ErrInvalidArgument with a message.
func InvalidArgument(format string, args ...any) error {
	return kind(ErrInvalidArgument, format, args...)
}

// Conflict returns an error of kind ErrConflict with a message.
func Conflict(format string, args ...any) error { return kind(ErrConflict, format, args...) }

// Ambiguous returns an error of kind ErrAmbiguous with a message.
func Ambiguous(format string, args ...any) error { return kind(ErrAmbiguous, format, args...) }

// NotRunning returns an error of kind ErrNotRunning with a message.
func NotRunning(format string, args ...any) error { return kind(ErrNotRunning, format, args...) }

type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func kind(k error, format string, args ...any) error {
	return &kindError{kind: k, msg: fmt.Sprintf(format, args...)}
}
