package ingest

import (
	"errors"
	"io"
)

// Record is one record of an input, cut as the importer cuts it.
type Record struct {
	Raw    []byte // the record's own bytes (a prefix when Problem says it was too large)
	Offset int64  // byte offset in the input (of its page, for a page's objects)
	// Problem is set when the splitter found the record broken: cut off by
	// the end of the input, or longer than MaxLineBytes.
	Problem string
}

// Pages counts the OCPI response pages of an input.
type Pages struct {
	Pages      int
	ErrorPages int    // pages whose status_code was not 1000
	ErrorCode  string // the status_code of the first error page, as written
}

// Split cuts an input into records with the importer's one rule, for a
// command that reads a file of OCPI objects without importing it (price):
// the elements of a JSON array, the lines of NDJSON, whole top-level JSON
// values, and the objects in the data of OCPI response pages. An object is
// a page when it has both a top-level "data" and "status_code"; a page whose
// status_code is not 1000 is an error page (counted in Pages; its data, if
// any, is still cut). emit gets the records in input order; an error it
// returns stops the split and is returned.
func Split(r io.Reader, emit func(Record) error) (Pages, error) {
	s := &splitter{src: newSource(r, 1<<16), emit: func(p piece) error {
		return emit(Record{Raw: p.raw, Offset: p.offset, Problem: p.problem})
	}}
	err := s.run()
	if errors.Is(err, errStop) {
		err = nil
	}
	return Pages{Pages: s.pages, ErrorPages: s.errorPages, ErrorCode: s.errorStatus}, err
}
