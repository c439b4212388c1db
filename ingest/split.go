package ingest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// MaxLineBytes bounds what the splitter holds in memory for one NDJSON line
// or one top-level JSON value (an OCPI response page is split only once it
// is whole). A longer record is rejected as too large: its first KeepBytes
// are stored as its raw payload (under their own SHA-256), and its problem
// names its byte offset, its length and the SHA-256 of all of it.
const MaxLineBytes = 64 << 20

// KeepBytes is how much of an oversized record is kept as its raw payload.
const KeepBytes = 64 << 10

// piece is one record cut out of the input, before decoding.
type piece struct {
	raw []byte
	// offset is the byte offset of the record in the input.
	offset int64
	// size and sum describe the whole record when raw holds only a prefix.
	size      int64
	sum       [32]byte
	truncated bool // raw is a prefix: the record was over MaxLineBytes
	// problem is set when the splitter itself found the record broken
	// (cut off by the end of the input, or too large to hold).
	problem string
}

// errStop is returned by an emit function to stop splitting early.
var errStop = errors.New("stop")

// splitter cuts an input into records: the elements of a JSON array, the
// lines of NDJSON, whole top-level JSON values, and the elements of the
// `data` array of OCPI response pages found in any of these.
type splitter struct {
	src  *source
	emit func(piece) error
	// pages counts OCPI response envelopes seen; errorPages those whose
	// status_code was not 1000, the first of which had errorStatus.
	pages, errorPages int
	errorStatus       string
}

func split(r io.Reader, limit int, emit func(piece) error) (pages, errorPages int, err error) {
	src := newSource(r, min(1<<20, limit))
	src.limit = limit
	return splitWith(src, emit)
}

func splitWith(src *source, emit func(piece) error) (pages, errorPages int, err error) {
	s := &splitter{src: src, emit: emit}
	err = s.run()
	if errors.Is(err, errStop) {
		err = nil
	}
	return s.pages, s.errorPages, err
}

func (s *splitter) run() error {
	src := s.src
	src.skipBOM()
	for {
		c, ok, err := src.peekNonSpace()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		switch c {
		case '[':
			if err := s.array(); err != nil {
				return err
			}
		case '{':
			p, err := s.value()
			if err != nil {
				return err
			}
			// One-line object followed by a newline: the input is NDJSON
			// from here on, and a broken line stays a broken line.
			if p.problem == "" && bytes.IndexByte(p.raw, '\n') < 0 && src.restOfLineBlank() {
				if err := s.record(p); err != nil {
					return err
				}
				return s.lines()
			}
			if err := s.record(p); err != nil {
				return err
			}
		default:
			// Not JSON we can delimit: take it line by line so that each
			// line is rejected on its own and the rest still goes through.
			return s.lines()
		}
	}
}

// array streams the elements of a top-level JSON array.
func (s *splitter) array() error {
	src := s.src
	src.lo++ // '['
	for {
		c, ok, err := src.peekNonSpace()
		if err != nil {
			return err
		}
		if !ok {
			return s.record(piece{offset: src.offset(), problem: "unexpected end of input inside a JSON array"})
		}
		switch c {
		case ',':
			src.lo++
			continue
		case ']':
			src.lo++
			return nil
		}
		p, err := s.value()
		if err != nil {
			return err
		}
		if err := s.record(p); err != nil {
			return err
		}
		if p.problem != "" {
			// The array's structure is lost after a broken element; what
			// follows is taken line by line.
			return s.lines()
		}
	}
}

// lines takes the rest of the input as NDJSON.
func (s *splitter) lines() error {
	src := s.src
	for {
		off := src.offset()
		line, p, ok, err := src.line()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if p.problem != "" {
			if err := s.record(p); err != nil {
				return err
			}
			continue
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if err := s.record(piece{raw: line, offset: off}); err != nil {
			return err
		}
	}
}

// value reads one JSON value starting at the current position.
func (s *splitter) value() (piece, error) {
	return s.src.value()
}

// record emits a piece, expanding it when it is an OCPI response page.
func (s *splitter) record(p piece) error {
	if p.problem == "" && len(p.raw) > 0 && p.raw[0] == '{' {
		if data, status, ok := envelopeData(p.raw); ok {
			s.pages++
			if status != "" && status != "1000" {
				if s.errorPages == 0 {
					s.errorStatus = status
				}
				s.errorPages++
			}
			return s.expand(data, p.offset)
		}
	}
	if p.truncated || p.problem != "" {
		return s.emit(p)
	}
	// The caller may reuse its buffer; the record keeps its own bytes.
	p.raw = bytes.Clone(p.raw)
	return s.emit(p)
}

// expand emits the objects of an envelope's data (an array or one object).
func (s *splitter) expand(data []byte, base int64) error {
	if len(data) == 0 || data[0] == 'n' { // absent or null: an empty page
		return nil
	}
	if data[0] != '[' {
		return s.emit(piece{raw: bytes.Clone(data), offset: base})
	}
	i := 1
	for {
		i = skipSpace(data, i)
		if i >= len(data) {
			return nil
		}
		switch data[i] {
		case ',':
			i++
			continue
		case ']':
			return nil
		}
		end, err := valueEnd(data, i)
		if err != nil {
			return s.emit(piece{raw: bytes.Clone(data[i:]), offset: base, problem: err.Error()})
		}
		if err := s.emit(piece{raw: bytes.Clone(data[i:end]), offset: base}); err != nil {
			return err
		}
		i = end
	}
}

// envelopeData returns the `data` value and the `status_code` literal of an
// OCPI response envelope, or ok=false when the object is not one. An object
// is an envelope when it has both a top-level "data" and "status_code" key.
func envelopeData(obj []byte) (data []byte, status string, ok bool) {
	i := skipSpace(obj, 1)
	var hasData, hasStatus bool
	for i < len(obj) && obj[i] != '}' {
		if obj[i] == ',' {
			i = skipSpace(obj, i+1)
			continue
		}
		if obj[i] != '"' {
			return nil, "", false
		}
		kend, err := valueEnd(obj, i)
		if err != nil {
			return nil, "", false
		}
		key := obj[i+1 : kend-1]
		i = skipSpace(obj, kend)
		if i >= len(obj) || obj[i] != ':' {
			return nil, "", false
		}
		i = skipSpace(obj, i+1)
		vend, err := valueEnd(obj, i)
		if err != nil {
			return nil, "", false
		}
		switch string(key) {
		case "data":
			hasData, data = true, obj[i:vend]
		case "status_code":
			hasStatus, status = true, string(obj[i:vend])
		}
		i = skipSpace(obj, vend)
	}
	if !hasData || !hasStatus {
		return nil, "", false
	}
	return data, status, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// valueEnd returns the index just past the JSON value starting at b[i]. It
// only delimits (strings, escapes and bracket depth); the decoder checks the
// grammar. Depth is a counter, so deep nesting costs no stack.
func valueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("unexpected end of input")
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, errors.New("unexpected end of input inside a string")
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := valueEnd(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("unexpected end of input inside an object or array")
	default:
		j := i
		for j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != ']' && b[j] != '}' {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("unexpected %q", b[i])
		}
		return j, nil
	}
}

// source is a growable read buffer over the input with the byte offset of
// its read position.
type source struct {
	r      io.Reader
	limit  int // MaxLineBytes, lowered in tests
	buf    []byte
	lo, hi int
	base   int64 // input offset of buf[0]
	eof    bool
}

func newSource(r io.Reader, size int) *source {
	return &source{r: r, buf: make([]byte, size), limit: MaxLineBytes}
}

func (s *source) offset() int64 { return s.base + int64(s.lo) }

// fill reads more input, keeping buf[s.lo:s.hi]. It grows the buffer when it
// is full, up to MaxLineBytes plus some slack. It reports whether it read
// anything.
func (s *source) fill() (bool, error) {
	if s.eof {
		return false, nil
	}
	if s.lo > 0 {
		n := copy(s.buf, s.buf[s.lo:s.hi])
		s.base += int64(s.lo)
		s.lo, s.hi = 0, n
	}
	if s.hi == len(s.buf) {
		if len(s.buf) >= s.limit+(1<<20) {
			return false, nil
		}
		nb := make([]byte, min(2*len(s.buf), s.limit+(1<<20)))
		copy(nb, s.buf[:s.hi])
		s.buf = nb
	}
	for {
		n, err := s.r.Read(s.buf[s.hi:])
		s.hi += n
		if errors.Is(err, io.EOF) {
			s.eof = true
			return n > 0, nil
		}
		if err != nil {
			return n > 0, fmt.Errorf("read input: %w", err)
		}
		if n > 0 {
			return true, nil
		}
	}
}

func (s *source) skipBOM() {
	if s.hi-s.lo < 3 {
		_, _ = s.fill()
	}
	if bytes.HasPrefix(s.buf[s.lo:s.hi], []byte{0xEF, 0xBB, 0xBF}) {
		s.lo += 3
	}
}

// peekNonSpace skips whitespace and returns the next byte without consuming it.
func (s *source) peekNonSpace() (byte, bool, error) {
	for {
		for s.lo < s.hi && isSpace(s.buf[s.lo]) {
			s.lo++
		}
		if s.lo < s.hi {
			return s.buf[s.lo], true, nil
		}
		more, err := s.fill()
		if err != nil {
			return 0, false, err
		}
		if !more && s.lo >= s.hi {
			return 0, false, nil
		}
	}
}

// restOfLineBlank reports whether only blanks follow on the current line (or
// the input ends), reading more input if needed.
func (s *source) restOfLineBlank() bool {
	for i := s.lo; ; i++ {
		if i >= s.hi {
			rel := i - s.lo
			more, _ := s.fill()
			i = s.lo + rel
			if !more && i >= s.hi {
				return true
			}
		}
		switch s.buf[i] {
		case '\n':
			return true
		case ' ', '\t', '\r':
		default:
			return false
		}
	}
}

// line returns the next line without its newline. The slice is valid until
// the next read. A line longer than MaxLineBytes comes back as a prefix piece.
func (s *source) line() ([]byte, piece, bool, error) {
	start := s.offset()
	scanned := 0
	for {
		if k := bytes.IndexByte(s.buf[s.lo+scanned:s.hi], '\n'); k >= 0 {
			end := s.lo + scanned + k
			l := s.buf[s.lo:end]
			s.lo = end + 1
			return l, piece{}, true, nil
		}
		scanned = s.hi - s.lo
		if scanned >= s.limit {
			p, err := s.oversized(start, 0, func(b []byte) int { return bytes.IndexByte(b, '\n') })
			return nil, p, true, err
		}
		more, err := s.fill()
		if err != nil {
			return nil, piece{}, false, err
		}
		if !more {
			if s.lo >= s.hi {
				return nil, piece{}, false, nil
			}
			l := s.buf[s.lo:s.hi]
			s.lo = s.hi
			return l, piece{}, true, nil
		}
	}
}

// value reads one JSON value from the current position.
func (s *source) value() (piece, error) {
	start := s.offset()
	var sc scanState
	scanned := 0
	for {
		if end, done := sc.scan(s.buf[s.lo+scanned : s.hi]); done {
			end += s.lo + scanned
			p := piece{raw: s.buf[s.lo:end], offset: start}
			s.lo = end
			return p, nil
		}
		scanned = s.hi - s.lo
		if scanned >= s.limit {
			return s.oversized(start, scanned, func(b []byte) int {
				end, done := sc.scan(b)
				if !done {
					return -1
				}
				return end - 1
			})
		}
		more, err := s.fill()
		if err != nil {
			return piece{}, err
		}
		if !more {
			p := piece{raw: bytes.Clone(s.buf[s.lo:s.hi]), offset: start}
			if !sc.scalar || sc.inString {
				p.problem = "unexpected end of input: the record is cut off"
			}
			s.lo = s.hi
			return p, nil
		}
	}
}

// oversized consumes a record too long to hold: it keeps its first
// KeepBytes, hashes all of it and stops after the byte found by stop (which
// returns the index of the last byte of the record in its argument, or -1).
// The first skip bytes at the read position were already given to stop.
func (s *source) oversized(start int64, skip int, stop func([]byte) int) (piece, error) {
	h := sha256.New()
	p := piece{offset: start, truncated: true}
	p.raw = bytes.Clone(s.buf[s.lo : s.lo+min(KeepBytes, s.hi-s.lo)])
	for {
		chunk := s.buf[s.lo:s.hi]
		if k := stop(chunk[skip:]); k >= 0 {
			k += skip
			h.Write(chunk[:k+1])
			p.size += int64(k + 1)
			s.lo += k + 1
			break
		}
		h.Write(chunk)
		p.size += int64(len(chunk))
		s.lo, skip = s.hi, 0
		more, err := s.fill()
		if err != nil {
			return piece{}, err
		}
		if !more {
			break
		}
	}
	copy(p.sum[:], h.Sum(nil))
	p.problem = fmt.Sprintf("record of %d bytes is over the %d-byte limit for one record: not decoded; "+
		"its first %d bytes are kept, the whole record has SHA-256 %x", p.size, s.limit, len(p.raw), p.sum)
	return p, nil
}

// scanState delimits one JSON value across buffer refills.
type scanState struct {
	started  bool
	scalar   bool
	inString bool
	escaped  bool
	depth    int
}

// scan consumes b and reports the index just past the value's end when the
// value is complete.
func (sc *scanState) scan(b []byte) (int, bool) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !sc.started {
			sc.started = true
			switch c {
			case '{', '[':
				sc.depth = 1
			case '"':
				sc.inString = true
			default:
				sc.scalar = true
			}
			continue
		}
		if sc.inString {
			switch {
			case sc.escaped:
				sc.escaped = false
			case c == '\\':
				sc.escaped = true
			case c == '"':
				sc.inString = false
				if sc.depth == 0 {
					return i + 1, true
				}
			}
			continue
		}
		if sc.scalar {
			if isSpace(c) || c == ',' || c == ']' || c == '}' || c == '{' || c == '[' {
				return i, true
			}
			continue
		}
		switch c {
		case '"':
			sc.inString = true
		case '{', '[':
			sc.depth++
		case '}', ']':
			sc.depth--
			if sc.depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}
