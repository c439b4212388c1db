package store

import (
	"errors"
	"strings"
)

// Sentinel kinds, matched with errors.Is. Every *Error has one (Kind).
var (
	// ErrNotFound: the object asked for is not stored.
	ErrNotFound = errors.New("not found")
	// ErrSchemaTooNew: the database was written by a newer roamsettle.
	ErrSchemaTooNew = errors.New("database schema is newer than this build")
	// ErrInvalid: the caller handed Save something it cannot store (a
	// mismatched SHA-256, an object without its kind).
	ErrInvalid = errors.New("invalid input")
	// ErrDatabase: DuckDB or the file system failed (the cause is wrapped).
	ErrDatabase = errors.New("database error")
)

// Error is a store failure in the upspin style: the operation, its stable
// kind, the object it concerned, and the cause.
type Error struct {
	Op     string // "save", "cdr", "open", ...
	Kind   error  // one of the sentinels above
	Object string // "NL*ABC*CDR1", a path, a run id, or empty
	Err    error
}

// Error prints "store: op object: cause"; a nested store error continues
// the chain without a second "store: " prefix.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("store: ")
	e.write(&b)
	return b.String()
}

func (e *Error) write(b *strings.Builder) {
	b.WriteString(e.Op)
	if e.Object != "" {
		b.WriteString(" ")
		b.WriteString(e.Object)
	}
	b.WriteString(": ")
	if inner, ok := e.Err.(*Error); ok {
		inner.write(b)
		return
	}
	b.WriteString(e.Err.Error())
}

// Unwrap returns the cause and the kind, so that errors.Is matches both.
func (e *Error) Unwrap() []error { return []error{e.Err, e.Kind} }

func errorf(op, object string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Kind: kindOf(err), Object: object, Err: err}
}

// kindOf is the kind of a cause: a sentinel it wraps, else ErrDatabase.
func kindOf(err error) error {
	for _, k := range []error{ErrNotFound, ErrSchemaTooNew, ErrInvalid} {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrDatabase
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
