package pricing

import (
	"bytes"
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
