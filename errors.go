package gantry

import (
	"errors"
	"fmt"
)

// Error kinds. One place (the CLI's exit codes, later the server's HTTP
// statuses) maps each kind to what a user sees.
const (
	EInvalid      = "invalid"      // bad input from the user: fix it and try again
	ENotFound     = "not-found"    // the thing asked for does not exist
	EConflict     = "conflict"     // the thing exists already, or is in the wrong state
	EUnavailable  = "unavailable"  // a dependency (docker, a namespace, a database) is not there
	EUnauthorized = "unauthorized" // who you are is not known
	EForbidden    = "forbidden"    // who you are is known, and may not do this
	EInternal     = "internal"     // a bug or an unexpected failure
)

// ErrNotFound is returned by stores when a record does not exist.
var ErrNotFound = &Error{Kind: ENotFound, Message: "not found"}

// Error is an error whose Message may be shown to a user as it is.
type Error struct {
	Kind    string
	Message string
	Err     error // the cause, for logs; not shown to users
}

// Errorf returns an *Error of the given kind with a formatted user message.
// A %w verb wraps its operand as the cause.
func Errorf(kind, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Message: err.Error(), Err: errors.Unwrap(err)}
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotFound) match any not-found *Error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t == ErrNotFound && e.Kind == ENotFound
}

// ErrorKind returns the kind of the first *Error in err's chain, or
// EInternal when there is none.
func ErrorKind(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return EInternal
}

// ErrorMessage returns the message that may be shown to a user for err.
// Errors that are not an *Error are internal and their text stays in logs.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorMessageOrText returns the user message of an *Error in err's chain,
// or err's own text: for local tools, where the user is also the operator.
func ErrorMessageOrText(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
