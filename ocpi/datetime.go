package ocpi

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ParseDateTime parses an OCPI DateTime and returns it in UTC.
//
// Accepted: "2015-06-29T20:39:09Z", the same without "Z" (OCPI: no zone means
// UTC), 1 to 9 fractional digits, and the CDR chapter's malformed 1970
// sentinel "1970-1-1T00:00:00Z"; and, as other implementations send them, a
// numeric offset (converted to UTC), a space instead of "T", no seconds, or
// a date alone. The decoder reports those shapes (see parseDateTime).
func ParseDateTime(s string) (time.Time, error) {
	t, _, err := parseDateTime(s)
	return t, err
}

// FormatDateTime formats t the strict OCPI way: UTC, trailing "Z", and
// milliseconds only when the time has a fraction of a second (truncated to
// milliseconds, keeping the 25-character limit).
func FormatDateTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// unknownDateTime is the OCPI sentinel for an unknown session start or end.
var unknownDateTime = time.Unix(0, 0).UTC()

// IsUnknownDateTime reports whether t is the 1970-01-01T00:00:00Z sentinel
// OCPI uses for an unknown CDR start or end.
func IsUnknownDateTime(t time.Time) bool { return t.Equal(unknownDateTime) }

var errDateTime = errors.New(`not an OCPI DateTime (expected "2006-01-02T15:04:05Z", optionally with a fraction of a second)`)

// parseDateTime is ParseDateTime that also says how the value departs from
// OCPI's format when it does (note is empty for a strict DateTime). Shapes
// other implementations send are read, each exactly: a numeric offset
// (converted; OCPI DateTimes are UTC), a space instead of "T", no seconds
// (":00"), an offset without a colon ("+0200") or minutes ("+02"), and a
// date without a time (read as midnight UTC; imprecise, so the decoder
// blocks pricing with it where the field does).
func parseDateTime(s string) (t time.Time, note string, err error) {
	if s == "1970-1-1T00:00:00Z" || s == "1970-1-1T00:00:00" {
		return unknownDateTime, "", nil
	}
	var notes []string
	if len(s) == 10 && s[4] == '-' && s[7] == '-' {
		s += "T00:00:00Z"
		notes = append(notes, noteDateOnly)
	}
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
		notes = append(notes, `a space instead of "T"`)
	}
	if len(s) >= 16 && s[13] == ':' && (len(s) == 16 || s[16] != ':') {
		s = s[:16] + ":00" + s[16:]
		notes = append(notes, "no seconds")
	}
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, "", errDateTime
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	second, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, "", errDateTime
	}
	// Years outside 1900-9000 are typos, and keep offsets from carrying a
	// time out of the four-digit years FormatDateTime writes.
	if year < 1900 || year > 9000 {
		return time.Time{}, "", fmt.Errorf("year %04d is outside 1900-9000 (an \"open end\" or a typo is not a date)", year)
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, "", fmt.Errorf("%s is not a date and time of the calendar (month 01-12, day of that month, hour 00-23, minutes and seconds 00-59)", s[:19])
	}
	rest := s[19:]
	nanos := 0
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		frac := n - 1
		if frac < 1 || frac > 9 {
			return time.Time{}, "", errors.New("a DateTime fraction needs 1 to 9 digits")
		}
		v, _ := digits(rest[1:n])
		for i := frac; i < 9; i++ {
			v *= 10
		}
		nanos = v
		rest = rest[n:]
	}
	var offsetSeconds int
	switch {
	case rest == "" || rest == "Z" || rest == "z":
	case len(rest) >= 3 && (rest[0] == '+' || rest[0] == '-'):
		// +HH:MM, +HHMM or +HH
		hh, mm := rest[1:3], "00"
		switch {
		case len(rest) == 6 && rest[3] == ':':
			mm = rest[4:6]
		case len(rest) == 5:
			mm = rest[3:5]
		case len(rest) == 3:
		default:
			return time.Time{}, "", errDateTime
		}
		oh, okh := digits(hh)
		om, okm := digits(mm)
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, "", errDateTime
		}
		offsetSeconds = oh*3600 + om*60
		if rest[0] == '-' {
			offsetSeconds = -offsetSeconds
		}
		notes = append(notes, "a numeric offset (OCPI DateTimes are UTC)")
	default:
		return time.Time{}, "", errDateTime
	}
	t = time.Date(year, time.Month(month), day, hour, minute, second, nanos, time.UTC)
	t = t.Add(-time.Duration(offsetSeconds) * time.Second)
	return t, strings.Join(notes, ", "), nil
}

// noteDateOnly marks a DateTime given as a date alone.
const noteDateOnly = "a date without a time, read as midnight UTC"

func digits(s string) (int, bool) {
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
