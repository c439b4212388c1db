package settle

import "strings"

// ErrKind is the stable class of a settle error, for callers that decide
// what to do with it (errors.Is(err, settle.ErrInvalid)).
type ErrKind uint8

const (
	ErrOther   ErrKind = iota
	ErrInvalid         // the caller's input: a scope, period, party or option that cannot be used
	ErrRead            // reading the CDRs, tariffs or locations failed (the Source's error is wrapped)
	ErrWrite           // writing or committing the run failed; nothing of it is visible
	ErrStep            // a step after pricing failed; the run was rolled back
)

var kindNames = map[ErrKind]string{ErrOther: "error", ErrInvalid: "invalid", ErrRead: "reading failed", ErrWrite: "writing failed", ErrStep: "step failed"}

func (k ErrKind) Error() string { return kindNames[k] }

// Error is a settle failure in the upspin style: the operation, its stable
// kind, the object it concerned (a run id, a CDR, a tariff) and the cause.
type Error struct {
	Op     string
	Kind   ErrKind
	Object string
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("settle: ")
	e.write(&b)
	return b.String()
}

// write prints "op object: kind: cause" and a nested settle error without
// a second "settle: " prefix.
func (e *Error) write(b *strings.Builder) {
	b.WriteString(e.Op)
	if e.Object != "" {
		b.WriteString(" ")
		b.WriteString(e.Object)
	}
	inner, nested := e.Err.(*Error)
	if e.Kind != ErrOther && !(nested && inner.Kind == e.Kind) {
		b.WriteString(": ")
		b.WriteString(e.Kind.Error())
	}
	if e.Err == nil {
		return
	}
	b.WriteString(": ")
	if nested {
		inner.write(b)
		return
	}
	b.WriteString(e.Err.Error())
}

// Unwrap returns the cause and the kind, so that errors.Is matches both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Err, e.Kind}
}

// wrap returns nil for a nil err, else err with the operation and object.
func wrap(op string, kind ErrKind, object string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Kind: kind, Object: object, Err: err}
}
