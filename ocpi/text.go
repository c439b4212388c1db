package ocpi

import (
	"strings"
	"unicode/utf8"
)

// ValidText returns s with every byte that is not part of valid UTF-8
// replaced by the four characters \xHH (its hex value), and s itself when it
// is valid. DuckDB refuses invalid UTF-8 in a VARCHAR; the replacement keeps
// two values that differ only in their bad bytes apart (U+FFFD would make
// two different ids or bodies look the same), and the raw payload keeps the
// bytes as sent.
func ValidText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			const hex = "0123456789ABCDEF"
			c := s[i]
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xF])
			i++
			continue
		}
		b.WriteString(s[i : i+n])
		i += n
	}
	return b.String()
}
