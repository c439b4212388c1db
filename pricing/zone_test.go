package pricing

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

func windowTariff() *ocpi.Tariff {
	return &ocpi.Tariff{ID: "w", Currency: "EUR", Elements: []ocpi.TariffElement{
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimTime, Price: dec("1"), StepSize: 1}}, Restrictions: &ocpi.TariffRestrictions{StartTime: "02:00", EndTime: "03:00"}},
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimTime, Price: dec("2"), StepSize: 1}}, Restrictions: &ocpi.TariffRestrictions{DayOfWeek: []string{"MONDAY"}}},
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimTime, Price: dec("3"), StepSize: 1}}},
	}}
}

func elementsOf(res *Result) []int {
	var out []int
	for _, ln := range res.Lines {
		out = append(out, ln.Element)
	}
	return out
}

func TestLocalTime(t *testing.T) {
	utc := func(s string) time.Time { x, _ := time.Parse(time.RFC3339, s); return x }
	cases := []struct {
		name     string
		start    time.Time
		segs     []seg
		zone     *time.Location
		elements []int
	}{
		// 2026-10-25 (Sunday): 03:00 CEST becomes 02:00 CET. 00:30Z is 02:30
		// CEST, 01:30Z is 02:30 CET (the repeated hour), 02:00Z is 03:00 CET.
		{"autumn change: the repeated hour matches twice", utc("2026-10-24T23:30:00Z"),
			[]seg{{min: 60, charging: true}, {min: 60, charging: true}, {min: 30, charging: true}, {min: 30, charging: true}}, berlin, []int{2, 0, 0, 2}},
		// 2026-03-29: 02:00 CET jumps to 03:00 CEST; 01:00Z is 03:00 CEST, no 02:xx exists.
		{"spring change: the missing hour never matches", utc("2026-03-29T00:30:00Z"),
			[]seg{{min: 30, charging: true}, {min: 30, charging: true}}, berlin, []int{2, 2}},
		// Monday 2026-06-01 23:30 local -> Tuesday 00:30: the Monday element stops at midnight.
		{"across local midnight", utc("2026-06-01T21:30:00Z"),
			[]seg{{min: 30, charging: true}, {min: 60, charging: true}}, berlin, []int{1, 2}},
		// The same instants in UTC are still Monday: priced differently and flagged.
		{"unresolved zone prices in UTC", utc("2026-06-01T21:30:00Z"),
			[]seg{{min: 30, charging: true}, {min: 60, charging: true}}, nil, []int{1, 1}},
		// A tariff boundary (02:00 local) split by the CPO into two periods.
		{"across a tariff boundary", utc("2026-06-02T23:30:00Z"),
			[]seg{{min: 30, charging: true}, {min: 60, charging: true}}, berlin, []int{2, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cdr := mkCDR(c.start, c.segs...)
			res, err := Price(cdr, []ocpi.Tariff{*windowTariff()}, Options{TimeZone: c.zone, Policy: ExactPolicy()})
			if err != nil {
				t.Fatal(err)
			}
			if got := elementsOf(res); !equalInts(got, c.elements) {
				t.Errorf("elements %v, want %v", got, c.elements)
			}
			if (c.zone == nil) != res.HasWarning(WarnZoneUnresolved) {
				t.Errorf("unresolved warning %v with zone %v", res.HasWarning(WarnZoneUnresolved), c.zone)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestZoneChain(t *testing.T) {
	cases := []struct {
		country, embedded string
		lookup            LocationZones
		want              string
		source            ZoneSource
	}{
		{country: "IRL", want: "Europe/Dublin", source: ZoneCountry},
		{country: "IRN", want: "Asia/Tehran", source: ZoneCountry},
		{country: "IE", want: "Europe/Dublin", source: ZoneCountry},
		{country: "USA", want: "UTC", source: ZoneUnresolved},
		{country: "NLD", embedded: "Europe/Brussels", want: "Europe/Brussels", source: ZoneLocation},
		{country: "NLD", lookup: func(cc, pid, id string) (string, bool) { return "America/New_York", id == "LOC1" }, want: "America/New_York", source: ZoneLocation},
		{country: "XXX", lookup: func(cc, pid, id string) (string, bool) { return "", false }, want: "UTC", source: ZoneUnresolved},
	}
	for _, c := range cases {
		cdr := &ocpi.CDR{Location: ocpi.CDRLocation{ID: "LOC1", Country: c.country, TimeZone: c.embedded}}
		opts := Options{}
		if c.lookup != nil {
			opts.Zones = c.lookup
		}
		z := resolveZone(cdr, &opts)
		if z.Name != c.want || z.Source != c.source {
			t.Errorf("%s/%s: got %s (%s), want %s (%s)", c.country, c.embedded, z.Name, z.Source, c.want, c.source)
		}
	}
}

func TestInEffect(t *testing.T) {
	ts := func(s string) time.Time { x, _ := time.Parse(time.RFC3339, s); return x }
	p := func(x time.Time) *time.Time { return &x }
	versions := []ocpi.Tariff{
		{ID: "T", LastUpdated: ts("2026-01-01T00:00:00Z")},
		{ID: "T", LastUpdated: ts("2026-03-01T00:00:00Z"), EndDateTime: p(ts("2026-04-01T00:00:00Z"))},
		{ID: "T", LastUpdated: ts("2026-03-15T00:00:00Z"), StartDateTime: p(ts("2026-05-01T00:00:00Z"))},
		{ID: "T", LastUpdated: ts("2026-06-10T00:00:00Z")},
	}
	cases := []struct {
		at   string
		want int // index, -1 none
	}{
		{"2025-12-31T00:00:00Z", -1},
		{"2026-02-01T00:00:00Z", 0},
		{"2026-03-20T00:00:00Z", 1},
		{"2026-04-01T00:00:00Z", 0}, // version 1 ended (exclusive), version 2 not yet started
		{"2026-05-02T00:00:00Z", 2},
		{"2026-06-10T00:00:00Z", 3}, // last_updated == start counts
	}
	for _, c := range cases {
		got, ok := InEffect(versions, ts(c.at))
		idx := -1
		for i := range versions {
			if ok && got == &versions[i] {
				idx = i
			}
		}
		if idx != c.want {
			t.Errorf("at %s: version %d, want %d", c.at, idx, c.want)
		}
	}
}

func TestExplainNamesTheReading(t *testing.T) {
	cdr := mkCDR(at(t, "2026-06-06", "13:30", time.Saturday), seg{min: 114, energy: "60", charging: true, maxCur: "48", minCur: "43"}, seg{min: 71, parking: true})
	res, err := Price(cdr, []ocpi.Tariff{specTariff(t, "spec221", "tariff_4_complex.json")}, Options{TimeZone: berlin})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := res.Explain(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"local Sat 2026-06-06 13:30:00 CEST",
		"TIME: skipped element 1: MAX_CURRENT 48 >= max_current 32",
		"TIME: skipped element 2: SATURDAY not in day_of_week",
		"TIME: priced by element 3",
		"step extra (step 300",
		"total_cost                     12.38 / 13.98",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("explanation lacks %q:\n%s", want, b.String())
		}
	}
}

func TestCreditNegatesTotalOnly(t *testing.T) {
	cdr := mkCDR(at(t, "2026-06-01", "10:00", time.Monday), seg{min: 60, energy: "20", charging: true})
	cdr.Credit = true
	res, err := Price(cdr, []ocpi.Tariff{specTariff(t, "spec221", "tariff_9_025kwh_start.json")}, Options{TimeZone: berlin})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Totals.TotalCost.Excl.Equal(dec("-5.50")) || !res.Totals.TotalEnergyCost.Excl.Equal(dec("5.00")) {
		t.Errorf("credit totals %+v", res.Totals)
	}
}

// A location time_zone that is not an IANA name is passed over to the next
// source of the chain, and the result says so: which value, and the zone
// used instead (it was silent before).
func TestZoneInvalidNameIsFlagged(t *testing.T) {
	stored := func(tz string) LocationZones {
		return func(cc, pid, id string) (string, bool) { return tz, true }
	}
	cases := []struct {
		name              string
		country, embedded string
		lookup            LocationZones
		want              string
		source            ZoneSource
		warnings          []string // tz_invalid messages
	}{
		{name: "stored, then country", country: "DEU", lookup: stored("CET+1"), want: "Europe/Berlin", source: ZoneCountry,
			warnings: []string{`stored location time_zone "CET+1" is not an IANA zone name: priced in Europe/Berlin (country) instead`}},
		{name: "embedded 2.1.1, then country", country: "FRA", embedded: "Paris Time", want: "Europe/Paris", source: ZoneCountry,
			warnings: []string{`CDR location time_zone "Paris Time" is not an IANA zone name: priced in Europe/Paris (country) instead`}},
		{name: "stored bad, embedded good", country: "USA", embedded: "America/Chicago", lookup: stored("Central"), want: "America/Chicago", source: ZoneLocation,
			warnings: []string{`stored location time_zone "Central" is not an IANA zone name: priced in America/Chicago (location) instead`}},
		{name: "both bad, nothing else", country: "USA", embedded: "EST5", lookup: stored("UTC+2"), want: "UTC", source: ZoneUnresolved,
			warnings: []string{`stored location time_zone "UTC+2" is not an IANA zone name: priced in UTC (unresolved) instead`,
				`CDR location time_zone "EST5" is not an IANA zone name: priced in UTC (unresolved) instead`}},
		{name: "Local is the machine's, not a location's", country: "NLD", embedded: "Local", want: "Europe/Amsterdam", source: ZoneCountry,
			warnings: []string{`CDR location time_zone "Local" is not an IANA zone name: priced in Europe/Amsterdam (country) instead`}},
		{name: "a valid stored zone", country: "DEU", lookup: stored("Europe/Berlin"), want: "Europe/Berlin", source: ZoneLocation},
	}
	tariff := specTariff(t, "spec221", "tariff_1_simple_2hour.json")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cdr := mkCDR(at(t, "2026-06-01", "10:00", time.Monday), seg{min: 60, charging: true})
			cdr.Location = ocpi.CDRLocation{ID: "LOC1", Country: c.country, TimeZone: c.embedded}
			// The price command's chain (the embedded zone asked twice).
			opts := Options{Policy: ExactPolicy(), Zones: ZoneChain{EmbeddedZone{}, CountryZones{}}}
			if c.lookup != nil {
				opts.Zones = c.lookup
			}
			res, err := Price(cdr, []ocpi.Tariff{tariff}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Zone.Name != c.want || res.Zone.Source != c.source {
				t.Errorf("zone %s (%s), want %s (%s)", res.Zone.Name, res.Zone.Source, c.want, c.source)
			}
			var got []string
			for _, w := range res.Warnings {
				if w.Code == WarnZoneInvalid {
					got = append(got, w.Message)
				}
			}
			if !slices.Equal(got, c.warnings) {
				t.Errorf("tz_invalid warnings\n got %q\nwant %q", got, c.warnings)
			}
			if len(res.Zone.Invalid) != len(c.warnings) {
				t.Errorf("Zone.Invalid %q, want %d values", res.Zone.Invalid, len(c.warnings))
			}
		})
	}
}
