package pricing

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Each reading the engine took on an open point of the spec is named in the
// explanation with its digest section (issue 10: incl bound derived from an
// excl-only min/max price, a period without tariff_id priced by the single
// tariff, and every other one).
func TestExplainNamesOpenPointReadings(t *testing.T) {
	tariff := specTariff(t, "spec221", "tariff_12_025kwh_min_price.json")
	tariff.MinPrice.InclVAT.Valid = false // an excl-only bound: the incl bound is derived
	cdr := mkCDR(at(t, "2026-06-01", "10:00", time.Monday), seg{min: 10, energy: "1.5", charging: true})
	res, err := Price(cdr, []ocpi.Tariff{tariff}, Options{TimeZone: berlin})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := res.Explain(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"readings of open points of the spec (digest section):",
		"§5.7 clamp_incl_derived: ",
		"§5.7 min_max_clamp: ",
		"§5.1 period_without_tariff_id: ",
		"§5.9 rounding_policy: ",
		"  volumes: energy 1.5 kWh, time 600 s, parking 0 s, reservation 0 s\n", // the period's, formatted only here
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("explanation lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), string(ReadTimeWindow)) || strings.Contains(b.String(), string(ReadMixedPeriod)) {
		t.Errorf("explanation names readings the price did not depend on:\n%s", b.String())
	}

	// The complex tariff on a Saturday: windows, weekdays, currents, FLAT
	// once per phase and its bucket, the step readings.
	cdr = mkCDR(at(t, "2026-06-06", "13:30", time.Saturday), seg{min: 114, energy: "60", charging: true, maxCur: "48", minCur: "43"}, seg{min: 71, parking: true})
	res, err = Price(cdr, []ocpi.Tariff{specTariff(t, "spec221", "tariff_4_complex.json")}, Options{TimeZone: berlin})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []ReadingCode{ReadTimeWindow, ReadDayOfWeek, ReadPowerCurrent, ReadFlatOncePerPhase, ReadFlatBucket,
		ReadStepCeiling, ReadStepTime, ReadDeclaredVolumes, ReadTariffIDAssumed, ReadRounding} {
		if !res.TookReading(c) {
			t.Errorf("reading %s not taken", c)
		}
	}
	if res.TookReading(ReadZone) {
		t.Error("zone chain reading taken with a zone given")
	}
}

// The catalogue: stable codes, a digest section and a text each, no code
// twice; Result.take refuses a code outside it.
func TestReadingsCatalogue(t *testing.T) {
	seen := map[ReadingCode]bool{}
	for _, r := range Readings() {
		if r.Code == "" || r.Section == "" || r.Text == "" || seen[r.Code] {
			t.Errorf("bad or repeated entry %+v", r)
		}
		seen[r.Code] = true
	}
	if len(seen) > 64 {
		t.Errorf("%d readings do not fit Result's 64-bit set", len(seen))
	}
	defer func() {
		if recover() == nil {
			t.Error("take accepted an unknown reading")
		}
	}()
	(&Result{}).take("no_such_reading")
}
