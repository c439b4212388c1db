package ocpi

import (
	"strings"
	"testing"
)

// Missing is not zero: a CDR without total_cost (or with one that cannot
// be read) states no amount, and one that states 0 states an amount.
func TestTotalCostOptional(t *testing.T) {
	const head221 = `{"country_code":"NL","party_id":"ABC","id":"C1","start_date_time":"2026-10-01T10:00:00Z",` +
		`"end_date_time":"2026-10-01T11:00:00Z","currency":"EUR","charging_periods":[{"start_date_time":"2026-10-01T10:00:00Z",` +
		`"dimensions":[{"type":"ENERGY","volume":1}]}],"total_energy":1,"total_time":1`
	const head211 = `{"id":"C1","start_date_time":"2026-10-01T10:00:00Z","stop_date_time":"2026-10-01T11:00:00Z","auth_id":"A",` +
		`"currency":"EUR","charging_periods":[{"start_date_time":"2026-10-01T10:00:00Z","dimensions":[{"type":"ENERGY","volume":1}]}],` +
		`"total_energy":1,"total_time":1`
	for _, tc := range []struct {
		name, json string
		want       string // "" none, else excl
		problem    string
	}{
		{"2.2.1 missing", head221 + `}`, "", "total_cost"},
		{"2.2.1 null", head221 + `,"total_cost":null}`, "", "total_cost"},
		{"2.2.1 zero", head221 + `,"total_cost":{"excl_vat":0}}`, "0", ""},
		{"2.2.1 unreadable", head221 + `,"total_cost":{"excl_vat":"abc"}}`, "", "total_cost.excl_vat"},
		{"2.2.1 without excl_vat", head221 + `,"total_cost":{"incl_vat":1}}`, "", "total_cost.excl_vat"},
		{"2.1.1 missing", head211 + `}`, "", "total_cost"},
		{"2.1.1 zero", head211 + `,"total_cost":0}`, "0", ""},
		{"2.1.1 amount", head211 + `,"total_cost":4.00}`, "4", ""},
	} {
		d := Decode([]byte(tc.json), Hint{Kind: KindCDR, CountryCode: "NL", PartyID: "ABC"})
		if d.CDR == nil {
			t.Fatalf("%s: not decoded: %v", tc.name, d.Problems)
		}
		got := d.CDR.TotalCost
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%s: total_cost %s, want none", tc.name, got.ExclVAT)
		case tc.want != "" && (got == nil || got.ExclVAT.String() != tc.want):
			t.Errorf("%s: total_cost %v, want %s", tc.name, got, tc.want)
		}
		found := false
		for _, p := range d.Problems {
			found = found || strings.HasPrefix(p.Path, "total_cost")
			if strings.HasPrefix(p.Path, "total_cost") && p.Blocking {
				t.Errorf("%s: %s blocks pricing", tc.name, p)
			}
		}
		if found != (tc.problem != "") {
			t.Errorf("%s: problems %v, want one at %q", tc.name, d.Problems, tc.problem)
		}
	}
}
