package ocpi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

// seedCorpus adds every spec example and the benchmark CDR.
func seedCorpus(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(specDir, "*", "*.json"))
	paths = append(paths, realisticCDR)
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"cdrs":[{"id":1},"2",null],"invoice_id":"x","id":"1","country_code":"NL","party_id":"A"}`))
	f.Add([]byte(`{"total_cost":"1e999","id":"\ud800","charging_periods":[{"dimensions":[{"volume":-0.0}]}]}`))
	f.Add([]byte("{\"id\":\"A\xff\",\"country_code\":\"NL\",\"party_id\":\"ABC\",\"elements\":[],\"energy_mix\":{\"x\":\"\xc3\"}}"))
}

// checkDecoded holds for every payload: no panic, a rejected payload says
// why and keeps no object, an accepted one has exactly one object whose
// identity is known.
func checkDecoded(t *testing.T, raw []byte, d Decoded) {
	if d.Rejected {
		if len(d.Problems) == 0 {
			t.Fatalf("rejected without a problem: %q", raw)
		}
		if d.CDR != nil || d.Tariff != nil || d.Location != nil || d.Invoice != nil {
			t.Fatalf("rejected payload kept an object")
		}
		return
	}
	n := 0
	for _, set := range []bool{d.CDR != nil, d.Tariff != nil, d.Location != nil, d.Invoice != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("accepted with %d objects", n)
	}
	r := Received{CDR: d.CDR, Tariff: d.Tariff, Location: d.Location, Invoice: d.Invoice}
	if cc, pid, id := r.Identity(); id == "" || (cc == "" && pid == "") {
		t.Fatalf("accepted without identity: %q %q %q", cc, pid, id)
	}
	if !json.Valid(raw) {
		t.Fatalf("accepted invalid JSON %q", raw)
	}
	// Nothing that DuckDB would refuse reaches storage: every string of the
	// model and every message is valid UTF-8.
	eachString(reflect.ValueOf(r), func(s string) {
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 %q kept in the model of %q", s, raw)
		}
	})
	for _, p := range d.Problems {
		if !utf8.ValidString(p.Path) || !utf8.ValidString(p.Message) {
			t.Fatalf("invalid UTF-8 in problem %q", p)
		}
	}
}

// eachString calls fn with every string and []byte reachable from v.
func eachString(v reflect.Value, fn func(string)) {
	switch v.Kind() {
	case reflect.String:
		fn(v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			eachString(v.Elem(), fn)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				eachString(v.Field(i), fn)
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if v.Kind() == reflect.Slice {
				fn(string(v.Bytes()))
			}
			return
		}
		for i := range v.Len() {
			eachString(v.Index(i), fn)
		}
	}
}

func fuzzKind(f *testing.F, kind Kind) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecoded(t, raw, Decode(raw, Hint{Kind: kind, CountryCode: "NL", PartyID: "TNM"}))
	})
}

func FuzzDecode(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		d := Decode(raw, Hint{})
		checkDecoded(t, raw, d)
		// The scanner accepts exactly what encoding/json accepts (within the
		// size and depth limits).
		if !d.Problems.Has(RuleDepth) && !d.Problems.Has(RuleTooLarge) {
			var sc scanner
			if (sc.parse(raw) == nil) != json.Valid(raw) {
				t.Fatalf("scanner and encoding/json disagree on %q", raw)
			}
		}
	})
}

func FuzzDecodeCDR(f *testing.F)      { fuzzKind(f, KindCDR) }
func FuzzDecodeTariff(f *testing.F)   { fuzzKind(f, KindTariff) }
func FuzzDecodeLocation(f *testing.F) { fuzzKind(f, KindLocation) }
func FuzzDecodeInvoice(f *testing.F)  { fuzzKind(f, KindInvoice) }

func FuzzParseDateTime(f *testing.F) {
	for _, s := range []string{"2015-06-29T20:39:09Z", "2015-06-29T20:39:09", "2016-12-29T17:45:09.2Z",
		"2018-01-01T01:08:01.123456789", "2015-06-29T22:39:09+02:00", "1970-1-1T00:00:00Z", "9999-12-31T23:59:59Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseDateTime(s)
		if err != nil {
			return
		}
		if v.Location() != time.UTC {
			t.Fatalf("%q parsed outside UTC", s)
		}
		// What we write, we read back to the same instant (at millisecond
		// precision, which is what FormatDateTime keeps).
		back, err := ParseDateTime(FormatDateTime(v))
		if err != nil || !back.Equal(v.Truncate(time.Millisecond)) {
			t.Fatalf("%q: round trip %s -> %v %v", s, FormatDateTime(v), back, err)
		}
	})
}
