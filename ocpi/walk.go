package ocpi

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Number limits, aligned with storage's DECIMAL(18,6).
const (
	// MaxNumberScale is the number of decimals stored. A number with more
	// significant decimals is kept exactly in the model but reported
	// (RulePrecision): storage holds NULL for it, never a rounded value.
	MaxNumberScale = 6
	// MaxNumberIntegerDigits is the number of integer digits stored. A larger
	// number is reported (RuleTooLarge) and treated as absent.
	MaxNumberIntegerDigits = 12
)

// problemSink collects problems against a JSON field path that is built up
// and torn down as the walk goes in and out of objects and arrays.
type problemSink struct {
	path  []byte
	probs Problems
	// advisory > 0 turns every problem non-blocking: used inside parts of an
	// object that pricing does not read (a 2.1.1 CDR's embedded location).
	advisory int
}

// enter appends ".key" to the path and returns the mark to leave to.
func (ps *problemSink) enter(key string) int {
	m := len(ps.path)
	if key == "" {
		return m
	}
	if m > 0 {
		ps.path = append(ps.path, '.')
	}
	ps.path = append(ps.path, key...)
	return m
}

// index appends "[i]" to the path and returns the mark to leave to.
func (ps *problemSink) index(i int) int {
	m := len(ps.path)
	ps.path = append(ps.path, '[')
	ps.path = strconv.AppendInt(ps.path, int64(i), 10)
	ps.path = append(ps.path, ']')
	return m
}

func (ps *problemSink) leave(mark int) { ps.path = ps.path[:mark] }

func (ps *problemSink) report(rule Rule, blocking bool, msg string) {
	if ps.advisory > 0 {
		blocking = false
	}
	ps.probs = append(ps.probs, Problem{Path: string(ps.path), Rule: rule, Message: msg, Blocking: blocking})
}

// reportAt reports a problem on a field below the current path.
func (ps *problemSink) reportAt(field string, rule Rule, blocking bool, msg string) {
	m := ps.enter(field)
	ps.report(rule, blocking, msg)
	ps.leave(m)
}

// decoder walks the tape of one payload, converting it into the model and
// collecting every problem with its field path.
type decoder struct {
	problemSink
	sc      scanner
	raw     []byte
	src     string // string(raw): unescaped strings are sub-strings of it, one allocation per payload
	version Version
	// rawValid is true when the whole payload is valid UTF-8 (nearly
	// always): strings then need no check of their own.
	rawValid bool
}

func (d *decoder) node(i int32) *node { return &d.sc.nodes[i] }

// text returns a string node's value.
func (d *decoder) text(i int32) string {
	n := d.node(i)
	if n.escaped {
		return unescape(d.raw[n.start:n.end])
	}
	return d.src[n.start:n.end]
}

// literal returns the raw bytes of a scalar node.
func (d *decoder) literal(i int32) string {
	n := d.node(i)
	return d.src[n.start:n.end]
}

// describe says what a node is, for messages: `string "abc"`, `number 12`.
func (d *decoder) describe(i int32) string {
	n := d.node(i)
	switch n.kind {
	case nodeString:
		s := d.text(i)
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return "string " + strconv.Quote(s)
	case nodeNumber:
		s := d.literal(i)
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return "number " + s
	case nodeTrue:
		return "boolean true"
	case nodeFalse:
		return "boolean false"
	case nodeObject:
		return "an object"
	case nodeArray:
		return "an array"
	}
	return "null"
}

func (d *decoder) wrongType(i int32, want string, blocking bool) {
	d.report(RuleType, blocking, "expected "+want+", got "+d.describe(i))
}

// members iterates an object's members: for m := first; m >= 0; m = next.
func (d *decoder) firstMember(obj int32) int32 {
	if obj+1 < d.node(obj).next {
		return obj + 1
	}
	return -1
}

func (d *decoder) nextMember(obj, m int32) int32 {
	nx := d.node(m + 1).next
	if nx < d.node(obj).next {
		return nx
	}
	return -1
}

// member finds a top-level member's value by key, or -1.
func (d *decoder) member(obj int32, key string) int32 {
	v := int32(-1)
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		if d.text(m) == key {
			v = m + 1 // the last one wins, as in encoding/json
		}
	}
	return v
}

func (d *decoder) isNull(i int32) bool { return d.node(i).kind == nodeNull }

// object reports a type problem unless the node is an object; null is absent.
func (d *decoder) object(i int32, blocking bool) bool {
	switch d.node(i).kind {
	case nodeObject:
		return true
	case nodeNull:
		return false
	}
	d.wrongType(i, "an object", blocking)
	return false
}

// array reports a type problem unless the node is an array; null is absent.
func (d *decoder) array(i int32, blocking bool) bool {
	switch d.node(i).kind {
	case nodeArray:
		return true
	case nodeNull:
		return false
	}
	d.wrongType(i, "an array", blocking)
	return false
}

// elements iterates an array: for e := first; e >= 0; e = next.
func (d *decoder) firstElement(arr int32) int32 {
	if arr+1 < d.node(arr).next {
		return arr + 1
	}
	return -1
}

func (d *decoder) nextElement(arr, e int32) int32 {
	nx := d.node(e).next
	if nx < d.node(arr).next {
		return nx
	}
	return -1
}

func (d *decoder) str(i int32, blocking bool) string {
	switch d.node(i).kind {
	case nodeString:
		s := d.text(i)
		if !d.rawValid && !utf8.ValidString(s) {
			s = ValidText(s)
			d.invalidText(s, blocking)
		}
		return s
	case nodeNull:
		return ""
	}
	d.wrongType(i, "a string", blocking)
	return ""
}

// strList reads a list of strings.
func (d *decoder) strList(i int32, blocking bool) []string {
	if !d.array(i, blocking) {
		return nil
	}
	var out []string
	k := 0
	for e := d.firstElement(i); e >= 0; e = d.nextElement(i, e) {
		m := d.index(k)
		if s := d.str(e, blocking); s != "" {
			out = append(out, s)
		}
		d.leave(m)
		k++
	}
	return out
}

// num reads a number exactly. Numbers quoted as strings (2.1.1 examples do
// it) are accepted and reported as a non-blocking format problem.
func (d *decoder) num(i int32, blocking bool) (decimal.Decimal, bool) {
	n := d.node(i)
	var lit string
	switch n.kind {
	case nodeNumber:
		lit = d.literal(i)
	case nodeString:
		lit = strings.TrimSpace(d.text(i))
		if !isNumberLiteral(lit) {
			d.wrongType(i, "a number", blocking)
			return decimal.Decimal{}, false
		}
		d.report(RuleFormat, false, "number given as a string "+strconv.Quote(lit)+", read as "+lit)
	case nodeNull:
		return decimal.Decimal{}, false
	default:
		d.wrongType(i, "a number", blocking)
		return decimal.Decimal{}, false
	}
	v, intDigits, scale, ok := parseDecimal(lit)
	if !ok || intDigits > MaxNumberIntegerDigits {
		d.report(RuleTooLarge, blocking, "number "+shorten(lit)+" has more than "+
			strconv.Itoa(MaxNumberIntegerDigits)+" integer digits")
		return decimal.Decimal{}, false
	}
	if scale > MaxNumberScale {
		d.report(RulePrecision, false, "number "+shorten(lit)+" has more than "+
			strconv.Itoa(MaxNumberScale)+" decimals")
	}
	return v, true
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func (d *decoder) nullNum(i int32, blocking bool) decimal.NullDecimal {
	v, ok := d.num(i, blocking)
	return decimal.NullDecimal{Decimal: v, Valid: ok}
}

// integer reads an int (step_size, durations). An integral number written
// with a fraction ("300.0") is accepted.
func (d *decoder) integer(i int32, blocking bool) (int64, bool) {
	v, ok := d.num(i, blocking)
	if !ok {
		return 0, false
	}
	if !v.IsInteger() {
		d.wrongType(i, "an integer", blocking)
		return 0, false
	}
	if v.Abs().GreaterThan(decimal.New(1, 15)) {
		d.report(RuleTooLarge, blocking, "integer "+v.String()+" is out of range")
		return 0, false
	}
	return v.IntPart(), true
}

func (d *decoder) boolean(i int32, blocking bool) (bool, bool) {
	switch d.node(i).kind {
	case nodeTrue:
		return true, true
	case nodeFalse:
		return false, true
	case nodeNull:
		return false, false
	}
	d.wrongType(i, "a boolean", blocking)
	return false, false
}

// dateTime reads an OCPI DateTime. A value that cannot be read is a format
// problem (blocking when the field is); a numeric offset is converted and
// reported without blocking.
func (d *decoder) dateTime(i int32, blocking bool) time.Time {
	switch d.node(i).kind {
	case nodeString:
	case nodeNull:
		return time.Time{}
	default:
		d.wrongType(i, "a DateTime string", blocking)
		return time.Time{}
	}
	s := d.text(i)
	t, note, err := parseDateTime(s)
	if err != nil {
		d.report(RuleFormat, blocking, strconv.Quote(shorten(s))+" is "+err.Error())
		return time.Time{}
	}
	if note != "" {
		// Read exactly, so it does not block, unless only a date was given.
		d.report(RuleFormat, blocking && strings.Contains(note, noteDateOnly), strconv.Quote(shorten(s))+
			" is not OCPI's DateTime format ("+note+"); read as "+FormatDateTime(t))
	}
	return t
}

func (d *decoder) dateTimePtr(i int32, blocking bool) *time.Time {
	t := d.dateTime(i, blocking)
	if t.IsZero() {
		return nil
	}
	return &t
}

// raw copies a node's JSON text (for signed_data, energy_mix).
func (d *decoder) rawJSON(i int32) []byte {
	n := d.node(i)
	if n.kind == nodeNull {
		return nil
	}
	start, end := n.start, n.end
	if n.kind == nodeString {
		start, end = start-1, end+1
	}
	if !d.rawValid && !utf8.Valid(d.raw[start:end]) {
		s := ValidText(string(d.raw[start:end]))
		d.invalidText(s, false)
		return []byte(s)
	}
	return append([]byte(nil), d.raw[start:end]...)
}

// invalidText reports a string that was not valid UTF-8 (DuckDB cannot
// store it) and was kept as s, with its bad bytes spelt \xHH. It blocks
// pricing where the field does: the value is no longer the one sent.
func (d *decoder) invalidText(s string, blocking bool) {
	d.report(RuleEncoding, blocking, "not valid UTF-8: kept as "+strconv.Quote(shorten(s))+
		` with each invalid byte written \xHH; the raw payload has the bytes as sent`)
}

// isNumberLiteral reports whether s is a JSON number.
func isNumberLiteral(s string) bool {
	if s == "" {
		return false
	}
	var sc scanner
	sc.data = []byte(s)
	if sc.number() != nil {
		return false
	}
	return sc.pos == len(s)
}

// parseDecimal converts a JSON number literal exactly. It also returns the
// count of integer digits and of significant decimals, for the storage
// limits. Exponents are bounded so "1e999999999" cannot exhaust memory.
func parseDecimal(lit string) (v decimal.Decimal, intDigits, scale int, ok bool) {
	i := 0
	neg := false
	if lit[0] == '-' {
		neg = true
		i = 1
	}
	var mant int64
	var sig, frac, lastNonZeroFrac int
	var exp int
	dot := false
	fast := true
	for ; i < len(lit); i++ {
		c := lit[i]
		if c == '.' {
			dot = true
			continue
		}
		if c == 'e' || c == 'E' {
			e, good := boundedExponent(lit[i+1:])
			if !good {
				return decimal.Decimal{}, 0, 0, false
			}
			exp = e
			break
		}
		dgt := int64(c - '0')
		if dot {
			frac++
			if dgt != 0 {
				lastNonZeroFrac = frac
			}
		}
		if mant == 0 && dgt == 0 {
			continue
		}
		sig++
		if sig > 18 {
			fast = false
			continue
		}
		mant = mant*10 + dgt
	}
	if sig > 60 {
		return decimal.Decimal{}, 0, 0, false
	}
	intDigits = sig - frac + exp
	if !fast {
		dv, err := decimal.NewFromString(lit)
		if err != nil {
			return decimal.Decimal{}, 0, 0, false
		}
		v = dv
	} else {
		if neg {
			mant = -mant
		}
		v = decimal.New(mant, int32(exp-frac))
	}
	// Significant digits left of the point: all significant digits minus
	// those right of it. The scale is the last non-zero decimal place.
	scale = lastNonZeroFrac
	if exp != 0 {
		scale = 0
		if str := v.String(); strings.IndexByte(str, '.') >= 0 {
			scale = len(str) - strings.IndexByte(str, '.') - 1
		}
	}
	if intDigits < 0 {
		intDigits = 0
	}
	return v, intDigits, scale, true
}

// boundedExponent parses an exponent, refusing magnitudes beyond 100.
func boundedExponent(s string) (int, bool) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	e := 0
	for i := 0; i < len(s); i++ {
		e = e*10 + int(s[i]-'0')
		if e > 100 {
			return 0, false
		}
	}
	if neg {
		e = -e
	}
	return e, true
}
