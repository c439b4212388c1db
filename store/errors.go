package store

import (
	"errors"
	"strings"
)

// Sentinel kinds, matched with errors.Is.
var (
	// ErrNotFound: the object asked for is not stored.
	ErrNotFound = errors.New("not found")
	// ErrSchemaTooNew: the database was written by a newer roamsettle.
	ErrSchemaTooNew = errors.New("database schema is newer than this build")
	// ErrInvalid: the caller handed Save something it cannot store (a
	// mismatched SHA-256, an object without its kind).
	ErrInvalid = errors.New("invalid input")
)

// Error is a store failure with the operation and the object it concerned.
type Error struct {
	Op     string // "save", "cdr", "open", ...
	Object string // "NL*ABC*CDR1", a path, or empty
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("store: ")
	b.WriteString(e.Op)
	if e.Object != "" {
		b.WriteString(" ")
		b.WriteString(e.Object)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(op, object string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Object: object, Err: err}
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
