package ocpi

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func readFixture(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

const realisticCDR = "../testdata/ocpi/bench/cdr_221_realistic.json"

// edit replaces exactly one occurrence of old in the fixture.
func edit(t *testing.T, raw []byte, old, new string) []byte {
	t.Helper()
	if n := bytes.Count(raw, []byte(old)); n != 1 {
		t.Fatalf("fixture has %d occurrences of %q, want 1", n, old)
	}
	return bytes.Replace(raw, []byte(old), []byte(new), 1)
}

func TestRealisticCDRIsClean(t *testing.T) {
	d := Decode(readFixture(t, realisticCDR), Hint{})
	if d.Rejected || len(d.Problems) != 0 || d.Kind != KindCDR || d.Version != V221 {
		t.Fatalf("got %s %s rejected=%v problems=%v", d.Kind, d.Version, d.Rejected, d.Problems)
	}
	c := d.CDR
	if len(c.ChargingPeriods) != 4 || c.ChargingPeriods[1].Dimensions[0].Volume.String() != "12.118" ||
		c.TotalCost.InclVAT.Decimal.String() != "12.38" || c.Token.PartyID != "XYZ" {
		t.Fatalf("unexpected model: %+v", c)
	}
}

type wantProblem struct {
	path     string
	rule     Rule
	blocking bool
}

// The catalogue of bad inputs: each case names the problem it must produce
// (path, rule, blocking) and whether the payload is rejected.
func TestBadInputs(t *testing.T) {
	base := readFixture(t, realisticCDR)
	tests := []struct {
		name     string
		raw      []byte
		hint     Hint
		rejected bool
		want     []wantProblem
	}{
		{name: "not JSON", raw: []byte(`{"id": "1",`), rejected: true,
			want: []wantProblem{{"", RuleSyntax, true}}},
		{name: "trailing garbage", raw: []byte(`{"id": "1"} x`), rejected: true,
			want: []wantProblem{{"", RuleSyntax, true}}},
		{name: "empty body", raw: nil, rejected: true,
			want: []wantProblem{{"", RuleSyntax, true}}},
		{name: "an array, not an object", raw: []byte(`[{"id": "1"}]`), rejected: true,
			want: []wantProblem{{"", RuleType, true}}},
		{name: "unknown kind", raw: []byte(`{"id": "1", "country_code": "NL", "party_id": "ABC"}`), rejected: true,
			want: []wantProblem{{"", RuleKind, true}}},
		{name: "a session", raw: []byte(`{"id": "1", "kwh": 3, "status": "ACTIVE", "charging_periods": []}`), rejected: true,
			want: []wantProblem{{"", RuleKind, true}}},
		{name: "unsupported version hint", raw: base, hint: Hint{Version: "2.0"}, rejected: true,
			want: []wantProblem{{"", RuleKind, true}}},
		{name: "no id", raw: edit(t, base, `"id": "NLABC20241105-00012877",`, ``), rejected: true,
			want: []wantProblem{{"id", RuleRequired, true}}},
		{name: "id of the wrong type", raw: edit(t, base, `"id": "NLABC20241105-00012877",`, `"id": 12877,`), rejected: true,
			want: []wantProblem{{"id", RuleType, false}}},
		{name: "no owner anywhere", raw: edit(t, edit(t, base, `"country_code": "NL",`, ``), `"party_id": "ABC",`, ``), rejected: true,
			want: []wantProblem{{"", RuleOwner, true}}},
		{name: "owner from the connection", raw: edit(t, edit(t, base, `"country_code": "NL",`, ``), `"party_id": "ABC",`, ``),
			hint: Hint{CountryCode: "NL", PartyID: "ABC"},
			want: []wantProblem{{"", RuleOwner, false}}},
		{name: "someone else's object", raw: base, hint: Hint{CountryCode: "NL", PartyID: "XXX"}, rejected: true,
			want: []wantProblem{{"", RuleOwner, true}}},
		{name: "owner matches case-insensitively", raw: base, hint: Hint{CountryCode: "nl", PartyID: "abc"}},
		{name: "2.1.1 without a connection owner", raw: readFixture(t, specDir+"/2.1.1/cdr_example.json"), rejected: true,
			want: []wantProblem{{"", RuleOwner, true}}},
		{name: "wrong type deep inside", raw: edit(t, base, `{"type": "TIME", "volume": 0.2167}`, `{"type": "TIME", "volume": "abc"}`),
			want: []wantProblem{{"charging_periods[2].dimensions[2].volume", RuleType, true}}},
		{name: "number as string is read", raw: edit(t, base, `{"type": "TIME", "volume": 0.2167}`, `{"type": "TIME", "volume": "0.2167"}`),
			want: []wantProblem{{"charging_periods[2].dimensions[2].volume", RuleFormat, false}}},
		{name: "object where a string belongs", raw: edit(t, base, `"currency": "EUR"`, `"currency": {"code": "EUR"}`),
			want: []wantProblem{{"currency", RuleType, true}}},
		{name: "array where an object belongs", raw: edit(t, base, `"total_cost": {"excl_vat": 10.23, "incl_vat": 12.38}`, `"total_cost": [10.23]`),
			want: []wantProblem{{"total_cost", RuleType, false}}},
		{name: "boolean where a number belongs", raw: edit(t, base, `"total_energy": 22.784`, `"total_energy": true`),
			want: []wantProblem{{"total_energy", RuleType, false}}},
		{name: "missing total_cost", raw: edit(t, base, `"total_cost": {"excl_vat": 10.23, "incl_vat": 12.38},`, ``),
			want: []wantProblem{{"total_cost", RuleRequired, false}}},
		{name: "missing excl_vat", raw: edit(t, base, `"total_cost": {"excl_vat": 10.23, "incl_vat": 12.38}`, `"total_cost": {"incl_vat": 12.38}`),
			want: []wantProblem{{"total_cost.excl_vat", RuleRequired, false}}},
		{name: "missing volume", raw: edit(t, base, `{"type": "TIME", "volume": 1.1}`, `{"type": "TIME"}`),
			want: []wantProblem{{"charging_periods[1].dimensions[2].volume", RuleRequired, true}}},
		{name: "missing start", raw: edit(t, base, `"start_date_time": "2024-11-05T16:48:02Z",
  "end_date_time"`, `"end_date_time"`),
			want: []wantProblem{{"start_date_time", RuleRequired, true}}},
		{name: "missing periods", raw: edit(t, edit(t, base, `"charging_periods": [{`, `"charging_periodz": [{`), `"total_energy": 22.784`, `"total_energy": 22.784, "charging_periods": null`),
			want: []wantProblem{{"charging_periods", RuleRequired, true}}},
		{name: "missing token party does not block", raw: edit(t, base, `"party_id": "XYZ",`, ``),
			want: []wantProblem{{"cdr_token.party_id", RuleRequired, false}}},
		{name: "missing address does not block", raw: edit(t, base, `"address": "Damrak 70",`, ``),
			want: []wantProblem{{"cdr_location.address", RuleRequired, false}}},
		{name: "unknown dimension type", raw: edit(t, base, `{"type": "ENERGY", "volume": 1.254}`, `{"type": "energy", "volume": 1.254}`),
			want: []wantProblem{{"charging_periods[2].dimensions[0].type", RuleEnum, true}}},
		{name: "session-only dimension", raw: edit(t, base, `{"type": "MAX_POWER", "volume": 3.6}`, `{"type": "STATE_OF_CHARGE", "volume": 80}`),
			want: []wantProblem{{"charging_periods[2].dimensions[1].type", RuleEnum, false}}},
		{name: "unknown auth method", raw: edit(t, base, `"AUTH_REQUEST"`, `"NFC"`),
			want: []wantProblem{{"auth_method", RuleEnum, false}}},
		{name: "open enum token type is fine", raw: edit(t, base, `"type": "RFID"`, `"type": "EMAID"`)},
		{name: "negative volume", raw: edit(t, base, `{"type": "TIME", "volume": 1.1}`, `{"type": "TIME", "volume": -1.1}`),
			want: []wantProblem{{"charging_periods[1].dimensions[2].volume", RuleNegative, true}}},
		{name: "end before start", raw: edit(t, base, `"end_date_time": "2024-11-05T19:27:51Z"`, `"end_date_time": "2024-11-05T15:27:51Z"`),
			want: []wantProblem{{"end_date_time", RuleEndBeforeStart, true}}},
		{name: "periods out of order", raw: edit(t, base, `"start_date_time": "2024-11-05T18:46:00Z"`, `"start_date_time": "2024-11-05T17:00:00Z"`),
			want: []wantProblem{{"charging_periods[2].start_date_time", RuleOrder, true}}},
		{name: "period after the session", raw: edit(t, base, `"start_date_time": "2024-11-05T18:59:00Z"`, `"start_date_time": "2024-11-05T20:59:00Z"`),
			want: []wantProblem{{"charging_periods[3].start_date_time", RuleOrder, true}}},
		{name: "unknown currency", raw: edit(t, base, `"currency": "EUR"`, `"currency": "EUX"`),
			want: []wantProblem{{"currency", RuleCurrency, true}}},
		{name: "bad DateTime", raw: edit(t, base, `"last_updated": "2024-11-05T19:30:12Z"`, `"last_updated": "05/11/2024 19:30"`),
			want: []wantProblem{{"last_updated", RuleFormat, false}}},
		{name: "offset DateTime is converted", raw: edit(t, base, `"end_date_time": "2024-11-05T19:27:51Z"`, `"end_date_time": "2024-11-05T20:27:51+01:00"`),
			want: []wantProblem{{"end_date_time", RuleFormat, false}}},
		{name: "DateTime with a space and no seconds is read", raw: edit(t, base, `"end_date_time": "2024-11-05T19:27:51Z"`, `"end_date_time": "2024-11-05 19:28+00:00"`),
			want: []wantProblem{{"end_date_time", RuleFormat, false}}},
		{name: "a date alone as the session end blocks", raw: edit(t, base, `"end_date_time": "2024-11-05T19:27:51Z"`, `"end_date_time": "2024-11-06"`),
			want: []wantProblem{{"end_date_time", RuleFormat, true}}},
		{name: "total_energy does not add up", raw: edit(t, base, `"total_energy": 22.784`, `"total_energy": 25`),
			want: []wantProblem{{"total_energy", RuleTotals, false}}},
		{name: "total_time does not add up", raw: edit(t, base, `"total_time": 2.6636`, `"total_time": 2.1828`),
			want: []wantProblem{{"total_time", RuleTotals, false}}},
		{name: "total_parking_time does not add up", raw: edit(t, base, `"total_parking_time": 0.4808`, `"total_parking_time": 0.9`),
			want: []wantProblem{{"total_parking_time", RuleTotals, false}}},
		{name: "sub-totals do not add up", raw: edit(t, base, `"total_fixed_cost": {"excl_vat": 0.35, "incl_vat": 0.42}`, `"total_fixed_cost": {"excl_vat": 1.35, "incl_vat": 1.42}`),
			want: []wantProblem{{"total_cost", RuleTotals, false}}},
		{name: "credit without reference", raw: edit(t, base, `"total_cost": {"excl_vat": 10.23, "incl_vat": 12.38}`, `"credit": true, "total_cost": {"excl_vat": -10.23, "incl_vat": -12.38}`),
			want: []wantProblem{{"credit_reference_id", RuleCredit, false}}},
		{name: "id too long", raw: edit(t, base, `"NLABC20241105-00012877"`, `"`+strings.Repeat("X", 40)+`"`),
			want: []wantProblem{{"id", RuleLength, false}}},
		{name: "bad coordinates", raw: edit(t, base, `"latitude": "52.374310"`, `"latitude": "52,374310"`),
			want: []wantProblem{{"cdr_location.coordinates.latitude", RuleFormat, false}}},
		{name: "number too large", raw: edit(t, base, `"total_energy": 22.784`, `"total_energy": 1e99`),
			want: []wantProblem{{"total_energy", RuleTooLarge, false}}},
		{name: "exponent bomb", raw: edit(t, base, `"total_energy": 22.784`, `"total_energy": 1e999999999`),
			want: []wantProblem{{"total_energy", RuleTooLarge, false}}},
		{name: "too many decimals", raw: edit(t, base, `{"type": "ENERGY", "volume": 9.412}`, `{"type": "ENERGY", "volume": 9.4120001}`),
			want: []wantProblem{{"charging_periods[0].dimensions[0].volume", RulePrecision, false}}},
		{name: "1970 sentinel start", raw: edit(t, base, `"start_date_time": "2024-11-05T16:48:02Z",
  "end_date_time"`, `"start_date_time": "1970-1-1T00:00:00Z",
  "end_date_time"`),
			want: []wantProblem{{"start_date_time", RuleRequired, true}}},
		{name: "a 10 MB body", raw: append(append([]byte(`{"id": "`), bytes.Repeat([]byte("x"), 10<<20)...), `"}`...), rejected: true,
			want: []wantProblem{{"", RuleTooLarge, true}}},
		{name: "100000 brackets", raw: bytes.Repeat([]byte("["), 100000), rejected: true,
			want: []wantProblem{{"", RuleDepth, true}}},
		{name: "deep objects", raw: []byte(strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)), rejected: true,
			want: []wantProblem{{"", RuleDepth, true}}},
		{name: "invalid UTF-8 in an address is kept escaped", raw: edit(t, base, `"address": "Damrak 70",`, "\"address\": \"Damrak\xff 70\","),
			want: []wantProblem{{"cdr_location.address", RuleEncoding, false}}},
		{name: "invalid UTF-8 in the currency blocks", raw: edit(t, base, `"currency": "EUR"`, "\"currency\": \"EU\xc3\""),
			want: []wantProblem{{"currency", RuleEncoding, true}}},
		{name: "invalid UTF-8 in an id", raw: edit(t, base, `"NLABC20241105-00012877"`, "\"NLABC\xfe1\""),
			want: []wantProblem{{"id", RuleEncoding, false}}},
		{name: "empty charging periods", raw: edit(t, edit(t, base, `"charging_periods": [{`, `"charging_periodz": [{`), `"total_energy": 22.784`, `"total_energy": 22.784, "charging_periods": []`),
			want: []wantProblem{{"charging_periods", RuleRequired, true}}},
		{name: "unknown fields are tolerated", raw: edit(t, base, `"meter_id": "MTR-00042-2",`, `"meter_id": "MTR-00042-2", "x_vendor": {"deep": [1, 2, {"a": null}]},`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decode(tc.raw, tc.hint)
			if d.Rejected != tc.rejected {
				t.Errorf("rejected = %v, want %v; problems: %v", d.Rejected, tc.rejected, d.Problems)
			}
			if d.Rejected && len(d.Problems) == 0 {
				t.Errorf("rejected without a problem")
			}
			if d.Rejected && (d.CDR != nil || d.Tariff != nil || d.Location != nil || d.Invoice != nil) {
				t.Errorf("rejected payload kept an object")
			}
			if len(tc.want) == 0 && len(d.Problems) != 0 {
				t.Errorf("want no problems, got %v", d.Problems)
			}
			for _, w := range tc.want {
				found := false
				for _, p := range d.Problems {
					if p.Path == w.path && p.Rule == w.rule && p.Blocking == w.blocking {
						found = true
					}
				}
				if !found {
					t.Errorf("missing problem %s [%s blocking=%v]; got %v", w.path, w.rule, w.blocking, d.Problems)
				}
			}
			// Nothing else may be reported for a path already named, and no
			// problem may be reported twice.
			seen := map[Problem]bool{}
			for _, p := range d.Problems {
				if seen[p] {
					t.Errorf("problem reported twice: %s", p)
				}
				seen[p] = true
			}
		})
	}
}

// Text DuckDB cannot store (invalid UTF-8) never reaches the model: each bad
// byte is spelt \xHH, so values that differ only in bad bytes stay apart.
func TestInvalidUTF8IsReplacedVisibly(t *testing.T) {
	base := readFixture(t, realisticCDR)
	d := Decode(edit(t, edit(t, base, `"address": "Damrak 70",`, "\"address\": \"Damrak\xff 70\","),
		`"NLABC20241105-00012877"`, "\"NLABC\xfe1\""), Hint{})
	if d.Rejected {
		t.Fatalf("rejected: %v", d.Problems)
	}
	if got := d.CDR.Location.Address; got != `Damrak\xFF 70` {
		t.Errorf("address %q", got)
	}
	if got := d.CDR.ID; got != `NLABC\xFE1` {
		t.Errorf("id %q", got)
	}
	if ValidText("a\xfeb") == ValidText("a\xffb") || ValidText("ok é") != "ok é" {
		t.Errorf("ValidText")
	}
}

// Other implementations mix the versions' field names (issue 12): the
// other version's name is read, with a finding, instead of losing the value.
func TestOtherVersionsNamesAreRead(t *testing.T) {
	v211 := edit(t, readFixture(t, specDir+"/2.1.1/cdr_example.json"), `"stop_date_time"`, `"end_date_time"`)
	d := Decode(v211, Hint{CountryCode: "NL", PartyID: "TNM"})
	if d.Rejected || d.Version != V211 || d.CDR.EndDateTime.IsZero() || d.Problems.Blocking() {
		t.Fatalf("2.1.1 CDR with end_date_time: %s end %v problems %v", d.Version, d.CDR.EndDateTime, d.Problems)
	}
	if !hasProblem(d.Problems, "end_date_time", RuleFormat, false) {
		t.Errorf("no finding for end_date_time: %v", d.Problems)
	}
	d = Decode(readFixture(t, realisticCDR), Hint{Version: V230})
	if d.Rejected || d.CDR.TotalCost.ExclVAT.String() != "10.23" || d.CDR.TotalCost.InclVAT.Decimal.String() != "12.38" {
		t.Fatalf("2.2.1 CDR read as 2.3.0 lost its billed amount: %+v %v", d.CDR.TotalCost, d.Problems)
	}
	if !hasProblem(d.Problems, "total_cost.excl_vat", RuleFormat, false) || hasProblem(d.Problems, "total_cost.before_taxes", RuleRequired, false) {
		t.Errorf("problems: %v", d.Problems)
	}
	t230 := readFixture(t, specDir+"/2.3.0/tariff_12_025kwh_min_price.json")
	d = Decode(t230, Hint{Version: V221})
	if d.Rejected || d.Tariff.MinPrice == nil || !hasProblem(d.Problems, "min_price.before_taxes", RuleFormat, false) {
		t.Errorf("2.3.0 min_price read as 2.2.1: %+v %v", d.Tariff, d.Problems)
	}
}

// A list present but empty is not "missing"; a time zone that is not an
// IANA name is reported, not silently replaced (issue 12).
func TestEmptyListsAndZoneNames(t *testing.T) {
	base := readFixture(t, realisticCDR)
	d := Decode(edit(t, edit(t, base, `"charging_periods": [{`, `"charging_periodz": [{`), `"total_energy": 22.784`,
		`"total_energy": 22.784, "charging_periods": []`), Hint{})
	if !strings.Contains(d.Problems.String(), "charging_periods: the list is empty") {
		t.Errorf("empty list: %v", d.Problems)
	}
	loc := readFixture(t, specDir+"/2.2.1/location_example.json")
	for zone, ok := range map[string]bool{"Europe/Brussels": true, "UTC+2": false, "CET": true, "Local": false, "Mars/Olympus": false} {
		d := Decode(edit(t, loc, `"time_zone": "Europe/Brussels"`, `"time_zone": "`+zone+`"`), Hint{})
		if got := !hasProblem(d.Problems, "time_zone", RuleFormat, false); got != ok || d.Rejected {
			t.Errorf("time_zone %q: accepted without finding = %v, want %v (%v)", zone, got, ok, d.Problems)
		}
	}
}

func hasProblem(ps Problems, path string, rule Rule, blocking bool) bool {
	for _, p := range ps {
		if p.Path == path && p.Rule == rule && p.Blocking == blocking {
			return true
		}
	}
	return false
}

func TestTypeProblemMessage(t *testing.T) {
	raw := edit(t, readFixture(t, realisticCDR), `{"type": "ENERGY", "volume": 1.254}`, `{"type": "ENERGY", "volume": "abc"}`)
	d := Decode(raw, Hint{})
	want := `charging_periods[2].dimensions[0].volume: expected a number, got string "abc" [type, blocks pricing]`
	if len(d.Problems) != 1 || d.Problems[0].String() != want {
		t.Fatalf("got %v\nwant %s", d.Problems, want)
	}
	// Decoding went on: the rest of the CDR is there.
	if d.CDR == nil || len(d.CDR.ChargingPeriods) != 4 || d.CDR.TotalEnergy.String() != "22.784" {
		t.Fatalf("decoding stopped early: %+v", d.CDR)
	}
}

// Several problems are all reported at once.
func TestEveryProblemAtOnce(t *testing.T) {
	raw := []byte(`{"country_code":"NL","party_id":"ABC","id":"1","start_date_time":"2024-01-01T10:00:00Z",
	"end_date_time":"2024-01-01T09:00:00Z","currency":"XXX","charging_periods":[{"start_date_time":"2024-01-01T10:00:00Z",
	"dimensions":[{"type":"TIME","volume":-1},{"type":"WHAT","volume":1},{"type":"ENERGY","volume":[]}]}],
	"total_cost":{"excl_vat":"x"},"total_energy":1,"total_time":1,"last_updated":"2024-01-01T11:00:00Z"}`)
	d := Decode(raw, Hint{})
	var got []string
	for _, p := range d.Problems {
		got = append(got, p.Path+" "+string(p.Rule))
	}
	want := []string{
		"charging_periods[0].dimensions[2].volume type",
		"total_cost.excl_vat type",
		"end_date_time end_before_start",
		"cdr_token required",
		"auth_method required",
		"cdr_location required",
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(got, "\n")+"\n", w+"\n") {
			t.Errorf("missing %q in\n%s", w, strings.Join(got, "\n"))
		}
	}
	for _, w := range []string{"currency currency", "charging_periods[0].dimensions[0].volume negative", "charging_periods[0].dimensions[1].type enum"} {
		if !strings.Contains(strings.Join(got, "\n")+"\n", w+"\n") {
			t.Errorf("missing %q", w)
		}
	}
	if !d.Problems.Blocking() || d.Rejected {
		t.Errorf("want blocking, not rejected")
	}
}

// The same object twice decodes identically, with the same SHA-256.
func TestSameObjectTwice(t *testing.T) {
	raw := readFixture(t, realisticCDR)
	a := Received{Raw: raw}
	b := Received{Raw: append([]byte(nil), raw...)}
	DecodeReceived(&a, Hint{Kind: KindCDR})
	DecodeReceived(&b, Hint{Kind: KindCDR})
	if a.SHA256 != sha256.Sum256(raw) || a.SHA256 != b.SHA256 {
		t.Fatalf("SHA-256 differs")
	}
	if !reflect.DeepEqual(a.CDR, b.CDR) || a.CDR == nil {
		t.Fatalf("same bytes decoded differently")
	}
	ca, cc, id := a.Identity()
	if ca != "NL" || cc != "ABC" || id != "NLABC20241105-00012877" {
		t.Fatalf("identity %s %s %s", ca, cc, id)
	}
	// A preset hash is kept.
	c := Received{Raw: raw, SHA256: [32]byte{1}}
	DecodeReceived(&c, Hint{})
	if c.SHA256 != [32]byte{1} {
		t.Fatalf("preset SHA-256 overwritten")
	}
}

// Decoded strings do not alias the caller's buffer, which importers reuse.
func TestNoAliasingOfInput(t *testing.T) {
	raw := readFixture(t, realisticCDR)
	d := Decode(raw, Hint{})
	for i := range raw {
		raw[i] = 'x'
	}
	if d.CDR.ID != "NLABC20241105-00012877" || d.CDR.Location.City != "Amsterdam" {
		t.Fatalf("decoded strings alias the input buffer")
	}
}

func TestInvoiceReconciliationBothShapes(t *testing.T) {
	for _, raw := range []string{
		`{"country_code": "NL", "party_id": "TNM", "id": "3", "invoice_id": "INV202303", "cdrs": [{"id": "1"}, {"id": "2"}, {"id": "3"}], "last_updated": "2015-04-01T21:59:59Z"}`,
		`{"country_code": "NL", "party_id": "TNM", "id": "3", "invoice_id": "INV202303", "cdrs": ["1", "2", "3"], "last_updated": "2015-04-01T21:59:59Z"}`,
	} {
		d := Decode([]byte(raw), Hint{})
		if d.Rejected || len(d.Problems) != 0 || d.Kind != KindInvoice || d.Version != V230 {
			t.Fatalf("%s: %+v", raw, d)
		}
		if got := strings.Join(d.Invoice.CDRs, ","); got != "1,2,3" {
			t.Errorf("cdrs = %s", got)
		}
	}
}

func TestTariffRules(t *testing.T) {
	tariff := func(body string) []byte {
		return []byte(`{"country_code":"DE","party_id":"ALL","id":"1","currency":"EUR","last_updated":"2024-01-01T00:00:00Z",` + body + `}`)
	}
	tests := []struct {
		name string
		raw  []byte
		want wantProblem
	}{
		{"no elements", tariff(`"elements":[]`), wantProblem{"elements", RuleRequired, true}},
		{"unknown dimension", tariff(`"elements":[{"price_components":[{"type":"KWH","price":1,"step_size":1}]}]`),
			wantProblem{"elements[0].price_components[0].type", RuleEnum, true}},
		{"negative step", tariff(`"elements":[{"price_components":[{"type":"TIME","price":1,"step_size":-1}]}]`),
			wantProblem{"elements[0].price_components[0].step_size", RuleNegative, true}},
		{"fractional step", tariff(`"elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1.5}]}]`),
			wantProblem{"elements[0].price_components[0].step_size", RuleType, true}},
		{"missing price", tariff(`"elements":[{"price_components":[{"type":"TIME","step_size":1}]}]`),
			wantProblem{"elements[0].price_components[0].price", RuleRequired, true}},
		{"bad HH:MM", tariff(`"elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1}],"restrictions":{"start_time":"24:00"}}]`),
			wantProblem{"elements[0].restrictions.start_time", RuleFormat, true}},
		{"bad date", tariff(`"elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1}],"restrictions":{"start_date":"2024-02-30"}}]`),
			wantProblem{"elements[0].restrictions.start_date", RuleFormat, true}},
		{"unknown day", tariff(`"elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1}],"restrictions":{"day_of_week":["MONDAY","FUNDAY"]}}]`),
			wantProblem{"elements[0].restrictions.day_of_week[1]", RuleEnum, true}},
		{"unknown reservation", tariff(`"elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1}],"restrictions":{"reservation":"MAYBE"}}]`),
			wantProblem{"elements[0].restrictions.reservation", RuleEnum, true}},
		{"unknown tariff type", tariff(`"type":"CHEAP","elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1}]}]`),
			wantProblem{"type", RuleEnum, false}},
		{"min above max", tariff(`"min_price":{"excl_vat":10},"max_price":{"excl_vat":5},"elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1}]}]`),
			wantProblem{"min_price", RuleOrder, true}},
		{"tax_included unknown", tariff(`"tax_included":"MAYBE","elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1}]}]`),
			wantProblem{"tax_included", RuleEnum, true}},
		{"2.3.0 limits", tariff(`"tax_included":"NO","min_price":{"before_taxes":10},"max_price":{"before_taxes":5},"elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1}]}]`),
			wantProblem{"min_price", RuleOrder, true}},
		{"tariff window reversed", tariff(`"start_date_time":"2024-02-01T00:00:00Z","end_date_time":"2024-01-01T00:00:00Z","elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1}]}]`),
			wantProblem{"end_date_time", RuleEndBeforeStart, true}},
		{"unknown currency", []byte(`{"country_code":"DE","party_id":"ALL","id":"1","currency":"eur","elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1}]}]}`),
			wantProblem{"currency", RuleCurrency, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decode(tc.raw, Hint{})
			if d.Kind != KindTariff || d.Rejected {
				t.Fatalf("kind %s rejected %v: %v", d.Kind, d.Rejected, d.Problems)
			}
			for _, p := range d.Problems {
				if p.Path == tc.want.path && p.Rule == tc.want.rule && p.Blocking == tc.want.blocking {
					return
				}
			}
			t.Errorf("missing %+v in %v", tc.want, d.Problems)
		})
	}
}

func TestValidateExported(t *testing.T) {
	c := &CDR{Version: V221, CountryCode: "NL", PartyID: "ABC", ID: "1", Currency: "EUR",
		StartDateTime: time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC), EndDateTime: time.Date(2024, 1, 1, 11, 0, 0, 0, time.UTC),
		ChargingPeriods: []ChargingPeriod{{StartDateTime: time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC),
			Dimensions: []CDRDimension{{Type: DimEnergy, Volume: decimal.RequireFromString("-1")}}}}}
	ps := ValidateCDR(c)
	if !ps.Has(RuleRequired) || ps.Has(RuleNegative) {
		t.Errorf("2.2.1 negative ENERGY is export, not an error; missing token etc. are required: %v", ps)
	}
	c.Version = V211
	if ps := ValidateCDR(c); !ps.Has(RuleNegative) {
		t.Errorf("2.1.1 negative ENERGY must be reported: %v", ps)
	}
}

func TestCurrencyMinorUnits(t *testing.T) {
	for code, want := range map[string]int{"EUR": 2, "JPY": 0, "KWD": 3, "CAD": 2, "CLF": 4, "ISK": 0, "BHD": 3, "GBP": 2, "CHF": 2} {
		if got, ok := CurrencyMinorUnits(code); !ok || got != want {
			t.Errorf("%s: %d %v, want %d", code, got, ok, want)
		}
	}
	for _, code := range []string{"", "eur", "XXX", "EURO", "ABC"} {
		if _, ok := CurrencyMinorUnits(code); ok {
			t.Errorf("%q known", code)
		}
	}
}

// The scanner agrees with encoding/json on what is valid JSON.
func TestScannerAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`{}`, `[]`, `""`, `0`, `-0`, `1.5e+3`, `01`, `1.`, `.5`, `-`, `1e`, `"\u00e9"`, `"\x"`, `"a` + "\x01" + `"`,
		`{"a":1,}`, `[1,]`, `{"a" 1}`, `tru`, `nul`, `[1 2]`, ` {"a":[true,false,null]} `, `"\ud83d\ude00"`, `{"a":1}{}`,
	} {
		var sc scanner
		got := sc.parse([]byte(s)) == nil
		if want := json.Valid([]byte(s)); got != want {
			t.Errorf("%q: scanner valid=%v, encoding/json valid=%v", s, got, want)
		}
	}
	if got := unescape([]byte(`a\n\u00e9\ud83d\ude00\ud800x\/`)); got != "a\né😀\uFFFDx/" {
		t.Errorf("unescape: %q", got)
	}
}

func TestDateTime(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		offset bool
		bad    bool
	}{
		{in: "2015-06-29T20:39:09Z", want: "2015-06-29T20:39:09Z"},
		{in: "2015-06-29T20:39:09", want: "2015-06-29T20:39:09Z"},
		{in: "2016-12-29T17:45:09.2Z", want: "2016-12-29T17:45:09.200Z"},
		{in: "2018-01-01T01:08:01.123", want: "2018-01-01T01:08:01.123Z"},
		{in: "2018-01-01T01:08:01.123456789Z", want: "2018-01-01T01:08:01.123Z"},
		{in: "2015-06-29T22:39:09+02:00", want: "2015-06-29T20:39:09Z", offset: true},
		{in: "2015-06-29T20:39:09-01:30", want: "2015-06-29T22:09:09Z", offset: true},
		// Shapes other implementations send (issue 12): read, with a note.
		{in: "2022-01-02 00:00:00+00:00", want: "2022-01-02T00:00:00Z", offset: true},
		{in: "2022-01-02T00:00Z", want: "2022-01-02T00:00:00Z", offset: true},
		{in: "2022-01-02 10:30", want: "2022-01-02T10:30:00Z", offset: true},
		{in: "2015-06-29T22:39:09.5+0200", want: "2015-06-29T20:39:09.500Z", offset: true},
		{in: "2015-06-29T22:39:09+02", want: "2015-06-29T20:39:09Z", offset: true},
		{in: "2015-06-29", want: "2015-06-29T00:00:00Z", offset: true},
		{in: "2015-06-29T20:39:09+2", bad: true},
		{in: "2015-06-29X20:39:09", bad: true},
		{in: "1970-1-1T00:00:00Z", want: "1970-01-01T00:00:00Z"},
		{in: "1970-01-01T00:00:00Z", want: "1970-01-01T00:00:00Z"},
		{in: "2024-02-29T00:00:00Z", want: "2024-02-29T00:00:00Z"},
		{in: "2023-02-29T00:00:00Z", bad: true},
		{in: "2015-06-29T24:00:00Z", bad: true},
		{in: "2015-06-29T20:39:09.Z", bad: true},
		{in: "2015-06-29T20:39:09.1234567890Z", bad: true},
		{in: "", bad: true},
	}
	for _, tc := range tests {
		got, note, err := parseDateTime(tc.in)
		offset := note != ""
		if (err != nil) != tc.bad {
			t.Errorf("%q: err %v, want bad=%v", tc.in, err, tc.bad)
			continue
		}
		if tc.bad {
			continue
		}
		if FormatDateTime(got) != tc.want || offset != tc.offset || got.Location() != time.UTC {
			t.Errorf("%q: got %s offset=%v, want %s offset=%v", tc.in, FormatDateTime(got), offset, tc.want, tc.offset)
		}
	}
	if !IsUnknownDateTime(mustParse(t, "1970-1-1T00:00:00Z")) {
		t.Error("1970 sentinel not recognised")
	}
}

func mustParse(t *testing.T, s string) time.Time {
	v, err := ParseDateTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseDecimalExact(t *testing.T) {
	for lit, want := range map[string]string{
		"0": "0", "-0": "0", "1.973": "1.973", "0.0001": "0.0001", "12345678901234567890.5": "12345678901234567890.5",
		"1.5e3": "1500", "15E-4": "0.0015", "-2.50": "-2.5", "0.1": "0.1",
	} {
		v, _, _, ok := parseDecimal(lit)
		if !ok || v.String() != want {
			t.Errorf("%s: got %s ok=%v, want %s", lit, v, ok, want)
		}
	}
}

func TestVolumeSum(t *testing.T) {
	var s volumeSum
	for _, x := range []string{"1.973", "0.0001", "-2", "123456.123456", "0.0000001", "99999999999999999999"} {
		s.add(decimal.RequireFromString(x))
	}
	if got := s.sum().String(); got != "100000000000000123455.0965561" {
		t.Fatalf("sum = %s", got)
	}
	var fast volumeSum
	fast.add(decimal.RequireFromString("1.5"))
	fast.add(decimal.RequireFromString("-0.25"))
	if fast.useSlow || fast.sum().String() != "1.25" {
		t.Fatalf("fast sum = %s slow=%v", fast.sum(), fast.useSlow)
	}
}

// A CDR without id is rejected (it cannot be stored or told apart), except
// for a caller that only prices it (Hint.PriceOnly): then the missing id is
// one problem that does not block.
func TestPriceOnlyCDRWithoutID(t *testing.T) {
	raw := edit(t, readFixture(t, realisticCDR), `"id": "NLABC20241105-00012877",`, ``)
	if d := Decode(raw, Hint{}); !d.Rejected || !d.Problems.Has(RuleRequired) {
		t.Fatalf("stored path: rejected %v, problems %v", d.Rejected, d.Problems)
	}
	d := Decode(raw, Hint{PriceOnly: true})
	if d.Rejected || d.CDR == nil || d.Problems.Blocking() {
		t.Fatalf("price only: rejected %v, problems %v", d.Rejected, d.Problems)
	}
	n := 0
	for _, p := range d.Problems {
		if p.Path == "id" {
			n++
		}
	}
	if n != 1 || len(d.CDR.ChargingPeriods) != 4 {
		t.Errorf("%d problems on id (want 1), %d periods: %v", n, len(d.CDR.ChargingPeriods), d.Problems)
	}
}
