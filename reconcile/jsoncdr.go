package reconcile

import (
	"encoding/json"
	"unicode/utf8"
)

// appendCDR appends c as encoding/json writes it as an element of the
// report's "cdrs" array (indent "  ", nested two levels deep), byte for
// byte: a partner's month has a million of them, and reflection was a
// fifth of reconcile's time. TestAppendCDRIsEncodingJSON, FuzzAppendCDR and
// TestWriteJSONStreamsTheWholeEncoding hold it to encoding/json.
func appendCDR(b []byte, c *JSONCDR) []byte {
	const in1, in2 = "\n      ", "\n        "
	b = append(b, '{')
	b = appendField(b, in1, "country_code", c.CountryCode, true)
	b = appendField(b, in1, "party_id", c.PartyID, true)
	b = appendField(b, in1, "id", c.ID, true)
	b = appendField(b, in1, "verdict", string(c.Verdict), true)
	b = append(b, in1...)
	b = append(b, `"reasons": `...)
	if c.Reasons == nil {
		b = append(b, "null"...)
	} else {
		b = appendStrings(b, in1, in2, len(c.Reasons), func(i int) string { return string(c.Reasons[i]) })
	}
	b = append(b, ',')
	b = appendField(b, in1, "currency", c.Currency, true)
	for _, a := range []struct {
		name string
		v    *JSONAmount
	}{{"billed", c.Billed}, {"recomputed", c.Recomputed}, {"difference", c.Difference}} {
		b = append(b, in1...)
		b = appendString(b, a.name)
		b = append(b, ": "...)
		if a.v == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '{')
			b = appendOptField(b, in2, "excl_vat", a.v.ExclVAT, true)
			b = appendOptField(b, in2, "incl_vat", a.v.InclVAT, false)
			b = append(b, in1...)
			b = append(b, '}')
		}
		if a.name != "difference" || c.Note != "" || len(c.Hypotheses) > 0 {
			b = append(b, ',')
		}
	}
	if c.Note != "" {
		b = appendField(b, in1, "note", c.Note, len(c.Hypotheses) > 0)
	}
	if len(c.Hypotheses) > 0 {
		b = append(b, in1...)
		b = append(b, `"hypotheses": `...)
		b = appendStrings(b, in1, in2, len(c.Hypotheses), func(i int) string { return c.Hypotheses[i] })
	}
	return append(b, "\n    }"...)
}

func appendField(b []byte, indent, name, v string, comma bool) []byte {
	b = append(b, indent...)
	b = appendString(b, name)
	b = append(b, ": "...)
	b = appendString(b, v)
	if comma {
		b = append(b, ',')
	}
	return b
}

func appendOptField(b []byte, indent, name string, v *string, comma bool) []byte {
	if v != nil {
		return appendField(b, indent, name, *v, comma)
	}
	b = append(b, indent...)
	b = appendString(b, name)
	b = append(b, ": null"...)
	if comma {
		b = append(b, ',')
	}
	return b
}

// appendStrings appends an array of n strings: [] when empty, else one per
// line at indent in, closed at indent out.
func appendStrings(b []byte, out, in string, n int, at func(int) string) []byte {
	if n == 0 {
		return append(b, "[]"...)
	}
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, in...)
		b = appendString(b, at(i))
	}
	b = append(b, out...)
	return append(b, ']')
}

// appendString appends s quoted as encoding/json quotes it: printable
// ASCII without the characters it escapes is copied, anything else goes
// through encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
