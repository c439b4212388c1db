package ocpi

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The decoder does not go through encoding/json: it scans the payload once
// into a flat slice of nodes (a "tape") and then walks that tape with the
// field path in hand. That gives exact number literals for free (no float64
// anywhere), a problem per wrong-typed leaf with its full path, a depth limit
// that is checked before recursing, and no reflection in the hot loop.

// Limits applied to every payload before it is interpreted.
const (
	// MaxRecordBytes is the largest single OCPI object accepted. Larger
	// payloads are rejected (RuleTooLarge) without being parsed.
	MaxRecordBytes = 4 << 20
	// MaxDepth is the deepest nesting of objects and arrays accepted; the
	// deepest legitimate OCPI object (a 2.1.1 CDR's embedded location) is
	// about 6 levels deep. Deeper payloads are rejected (RuleDepth).
	MaxDepth = 32
)

type nodeKind uint8

const (
	nodeObject nodeKind = iota + 1
	nodeArray
	nodeString
	nodeNumber
	nodeTrue
	nodeFalse
	nodeNull
)

func (k nodeKind) String() string {
	switch k {
	case nodeObject:
		return "object"
	case nodeArray:
		return "array"
	case nodeString:
		return "string"
	case nodeNumber:
		return "number"
	case nodeTrue, nodeFalse:
		return "boolean"
	case nodeNull:
		return "null"
	}
	return "nothing"
}

// node is one JSON value on the tape. An object's members follow it as
// (key string, value) pairs; next is the index just past the value's subtree,
// so skipping a value is one assignment.
type node struct {
	kind    nodeKind
	escaped bool  // string contains a backslash escape
	start   int32 // strings: first byte after the quote; others: first byte
	end     int32 // strings: the closing quote; others: one past the last byte
	next    int32
}

// syntaxError is a malformed payload: where and why.
type syntaxError struct {
	offset int
	msg    string
	rule   Rule
}

func (e *syntaxError) Error() string {
	return "offset " + strconv.Itoa(e.offset) + ": " + e.msg
}

type scanner struct {
	data  []byte
	pos   int
	nodes []node
}

// parse scans data into s.nodes. Exactly one JSON value with optional
// surrounding white space is accepted.
func (s *scanner) parse(data []byte) *syntaxError {
	s.data = data
	s.pos = 0
	s.nodes = s.nodes[:0]
	if err := s.value(0); err != nil {
		return err
	}
	s.skipSpace()
	if s.pos != len(s.data) {
		return s.fail("unexpected " + quoteByte(s.data[s.pos]) + " after the top-level value")
	}
	return nil
}

func (s *scanner) fail(msg string) *syntaxError {
	return &syntaxError{offset: s.pos, msg: msg, rule: RuleSyntax}
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return "byte 0x" + strconv.FormatUint(uint64(c), 16)
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) value(depth int) *syntaxError {
	s.skipSpace()
	if s.pos >= len(s.data) {
		return s.fail("unexpected end of input, expected a value")
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		return s.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true", nodeTrue)
	case c == 'f':
		return s.literal("false", nodeFalse)
	case c == 'n':
		return s.literal("null", nodeNull)
	default:
		return s.fail("unexpected " + quoteByte(c) + ", expected a value")
	}
}

func (s *scanner) push(kind nodeKind, start int) int {
	s.nodes = append(s.nodes, node{kind: kind, start: int32(start)})
	return len(s.nodes) - 1
}

func (s *scanner) finish(i int) {
	s.nodes[i].end = int32(s.pos)
	s.nodes[i].next = int32(len(s.nodes))
}

func (s *scanner) depthError() *syntaxError {
	return &syntaxError{offset: s.pos, rule: RuleDepth,
		msg: "JSON nested deeper than " + strconv.Itoa(MaxDepth) + " levels"}
}

func (s *scanner) object(depth int) *syntaxError {
	if depth > MaxDepth {
		return s.depthError()
	}
	i := s.push(nodeObject, s.pos)
	s.pos++ // {
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		s.finish(i)
		return nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			if s.pos >= len(s.data) {
				return s.fail("unexpected end of input, expected a member name")
			}
			return s.fail("unexpected " + quoteByte(s.data[s.pos]) + ", expected a member name")
		}
		if err := s.str(); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.fail("expected ':' after a member name")
		}
		s.pos++
		if err := s.value(depth); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.fail("unexpected end of input in an object")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.finish(i)
			return nil
		default:
			return s.fail("unexpected " + quoteByte(s.data[s.pos]) + " in an object, expected ',' or '}'")
		}
	}
}

func (s *scanner) array(depth int) *syntaxError {
	if depth > MaxDepth {
		return s.depthError()
	}
	i := s.push(nodeArray, s.pos)
	s.pos++ // [
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		s.finish(i)
		return nil
	}
	for {
		if err := s.value(depth); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.fail("unexpected end of input in an array")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.finish(i)
			return nil
		default:
			return s.fail("unexpected " + quoteByte(s.data[s.pos]) + " in an array, expected ',' or ']'")
		}
	}
}

func (s *scanner) literal(word string, kind nodeKind) *syntaxError {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return s.fail("invalid literal, expected " + word)
	}
	i := s.push(kind, s.pos)
	s.pos += len(word)
	s.finish(i)
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() *syntaxError {
	i := s.push(nodeNumber, s.pos)
	d := s.data
	p := s.pos
	if d[p] == '-' {
		p++
	}
	switch {
	case p < len(d) && d[p] == '0':
		p++
	case p < len(d) && isDigit(d[p]):
		for p < len(d) && isDigit(d[p]) {
			p++
		}
	default:
		s.pos = p
		return s.fail("invalid number, expected a digit")
	}
	if p < len(d) && d[p] == '.' {
		p++
		if p >= len(d) || !isDigit(d[p]) {
			s.pos = p
			return s.fail("invalid number, expected a digit after '.'")
		}
		for p < len(d) && isDigit(d[p]) {
			p++
		}
	}
	if p < len(d) && (d[p] == 'e' || d[p] == 'E') {
		p++
		if p < len(d) && (d[p] == '+' || d[p] == '-') {
			p++
		}
		if p >= len(d) || !isDigit(d[p]) {
			s.pos = p
			return s.fail("invalid number, expected a digit in the exponent")
		}
		for p < len(d) && isDigit(d[p]) {
			p++
		}
	}
	s.pos = p
	s.finish(i)
	return nil
}

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// str scans a string; the node spans its content without the quotes.
func (s *scanner) str() *syntaxError {
	s.pos++ // opening quote
	i := s.push(nodeString, s.pos)
	d := s.data
	for p := s.pos; p < len(d); p++ {
		c := d[p]
		switch {
		case c == '"':
			s.nodes[i].end = int32(p)
			s.nodes[i].next = int32(len(s.nodes))
			s.pos = p + 1
			return nil
		case c == '\\':
			s.nodes[i].escaped = true
			p++
			if p >= len(d) {
				s.pos = p
				return s.fail("unexpected end of input in a string escape")
			}
			switch d[p] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if p+4 >= len(d) || !isHex(d[p+1]) || !isHex(d[p+2]) || !isHex(d[p+3]) || !isHex(d[p+4]) {
					s.pos = p
					return s.fail("invalid \\u escape in a string")
				}
				p += 4
			default:
				s.pos = p
				return s.fail("invalid escape " + quoteByte(d[p]) + " in a string")
			}
		case c < 0x20:
			s.pos = p
			return s.fail("control character " + quoteByte(c) + " in a string")
		}
	}
	s.pos = len(d)
	return s.fail("unexpected end of input in a string")
}

func hexValue(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case isDigit(c):
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// unescape decodes the content of a string already checked by str. Lone
// surrogates become U+FFFD, as encoding/json does.
func unescape(b []byte) string {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch b[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hexValue(b[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
					r2 := hexValue(b[i+3 : i+7])
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						i += 6
						out = utf8.AppendRune(out, dec)
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default: // " \ /
			out = append(out, b[i])
		}
	}
	return string(out)
}
