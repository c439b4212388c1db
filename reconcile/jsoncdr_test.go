package reconcile

import (
	"encoding/json"
	"testing"
)

// appendCDR writes what encoding/json writes for a CDR two levels deep,
// whatever is present, absent or in need of escaping.
func TestAppendCDRIsEncodingJSON(t *testing.T) {
	s := func(v string) *string { return &v }
	cases := []JSONCDR{
		{},
		{CountryCode: "NL", PartyID: "EVB", ID: "NLEVB2501-00000001", Verdict: VerdictOK, Reasons: []Reason{}, Currency: "EUR",
			Billed: &JSONAmount{s("3.47"), s("4.20")}, Recomputed: &JSONAmount{s("3.47"), s("4.20")}, Difference: &JSONAmount{s("0.00"), s("0.00")}},
		{CountryCode: "DE", PartyID: "LDS", ID: `id "quoted" \ <tag> & é ☃ ` + "\u2028 \x01 \t\n\xff", Verdict: VerdictMismatch,
			Reasons: []Reason{"PRICE", "TAX"}, Currency: "", Billed: &JSONAmount{ExclVAT: s("1.00")}, Recomputed: nil,
			Difference: &JSONAmount{InclVAT: s("-0.01")}, Note: "a note <b>", Hypotheses: []string{"PRICE: older version", "TAX: 19 %"}},
		{ID: "X", Verdict: VerdictNotVerifiable, Reasons: []Reason{"MISSING_DATA"}, Note: "only a note"},
		{ID: "Y", Hypotheses: []string{"one"}},
		{ID: "Z", Hypotheses: []string{}, Reasons: []Reason{}},
	}
	for i, c := range cases {
		want, err := json.MarshalIndent(c, "    ", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := appendCDR([]byte("prefix"), &c); string(got) != "prefix"+string(want) {
			t.Errorf("case %d:\n%s\nwant\n%s", i, got[len("prefix"):], want)
		}
	}
}

func FuzzAppendCDR(f *testing.F) {
	f.Add("NLEVB2501-00000001", "PRICE", "", "3.47", false)
	f.Add("<&>\u2028\xff\x00", "TAX", "a \"note\"", "", true)
	f.Fuzz(func(t *testing.T, id, reason, note, amount string, noReasons bool) {
		c := JSONCDR{CountryCode: id, PartyID: reason, ID: id, Verdict: Verdict(reason), Reasons: []Reason{Reason(reason)},
			Currency: note, Note: note, Billed: &JSONAmount{ExclVAT: &amount}, Hypotheses: []string{note, id}}
		if noReasons {
			c.Reasons, c.Hypotheses, c.Billed = nil, nil, nil
		}
		want, err := json.MarshalIndent(c, "    ", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := appendCDR(nil, &c); string(got) != string(want) {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
	})
}
