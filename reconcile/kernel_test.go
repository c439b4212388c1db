package reconcile

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

// The hypotheses priced by the kernel are the reference's: on CDRs billed
// under each hypothesis (another version, UTC, no step, another VAT rate,
// the other step reading, lines rounded, truncation, a price off), with
// one to three periods around the evening boundary, charging and parking,
// the trials (totals, the periods where they differ, what they explain)
// are those of the reference alone, and the kernel priced most of them.
func TestKernelTrialsAreTheReferences(t *testing.T) {
	utc := baseOpts
	utc.TimeZone = time.UTC
	noStep := []ocpi.Tariff{mapComponents([]ocpi.Tariff{v2}, func(pc *ocpi.PriceComponent) { pc.StepSize = 1 })[0]}
	vat := func(r string) []ocpi.Tariff {
		return []ocpi.Tariff{mapComponents([]ocpi.Tariff{v2}, func(pc *ocpi.PriceComponent) { pc.VAT.Decimal = dec(r) })[0]}
	}
	parking := v2
	parking.Elements = append(append([]ocpi.TariffElement(nil), v2.Elements...),
		ocpi.TariffElement{PriceComponents: []ocpi.PriceComponent{comp(ocpi.TariffDimParkingTime, "2.00", "21", 300)}})
	cache := &kernelCache{}
	trials := 0
	rapid.Check(t, func(rt *rapid.T) {
		tariff := rapid.SampledFrom([]ocpi.Tariff{v2, parking}).Draw(rt, "tariff")
		c := sessionCDR()
		start := time.Date(2026, 10, 12, 14, 0, 0, 0, time.UTC).Add(time.Duration(rapid.IntRange(0, 8*60).Draw(rt, "min")) * time.Minute)
		c.StartDateTime, c.ChargingPeriods = start, nil
		at := start
		var energy, hours, park int64 // 1e-4
		for i := range rapid.IntRange(1, 3).Draw(rt, "periods") {
			mins := int64(rapid.IntRange(5, 120).Draw(rt, fmt.Sprintf("mins%d", i)))
			kwh := int64(rapid.IntRange(0, 300).Draw(rt, fmt.Sprintf("kwh%d", i))) * 100
			h := mins * 10000 / 60
			dim := ocpi.DimTime
			if i > 0 && rapid.Bool().Draw(rt, fmt.Sprintf("park%d", i)) {
				dim, kwh = ocpi.DimParkingTime, 0
				park += h
			}
			c.ChargingPeriods = append(c.ChargingPeriods, ocpi.ChargingPeriod{StartDateTime: at, TariffID: "T1",
				Dimensions: []ocpi.CDRDimension{{Type: ocpi.DimEnergy, Volume: dec(fmt.Sprint(kwh)).Shift(-4)},
					{Type: dim, Volume: dec(fmt.Sprint(h)).Shift(-4)}}})
			energy, hours = energy+kwh, hours+h
			at = at.Add(time.Duration(mins) * time.Minute)
		}
		c.EndDateTime = at
		c.TotalEnergy, c.TotalTime = dec(fmt.Sprint(energy)).Shift(-4), dec(fmt.Sprint(hours)).Shift(-4)
		if park > 0 {
			c.TotalParkingTime = decNullD(dec(fmt.Sprint(park)).Shift(-4))
		}
		opts := baseOpts
		bill := []ocpi.Tariff{tariff}
		switch rapid.IntRange(0, 8).Draw(rt, "billedAs") {
		case 0:
			bill = []ocpi.Tariff{v1}
		case 1:
			opts = utc
		case 2:
			bill = noStep
		case 3:
			bill = vat(rapid.SampledFrom([]string{"19", "20", "9", "6"}).Draw(rt, "vat"))
		case 4:
			opts.Policy.Step = pricing.StepCombinedTime
		case 5:
			opts.Policy.Level = pricing.RoundLine
		}
		r, err := pricing.Price(c, bill, opts)
		if err != nil {
			rt.Skip(err)
		}
		setBilled(c, r, 2)
		switch rapid.IntRange(0, 5).Draw(rt, "off") {
		case 0:
			c.TotalCost.ExclVAT = c.TotalCost.ExclVAT.Sub(dec("0.01"))
		case 1:
			c.TotalCost.ExclVAT = c.TotalCost.ExclVAT.Add(dec(fmt.Sprintf("0.%02d", rapid.IntRange(2, 99).Draw(rt, "cents"))))
		}
		eval := func(k *kernelCache) *Evaluation {
			cs := &Case{CDR: c, Tariffs: []ocpi.Tariff{tariff}, Versions: map[string][]ocpi.Tariff{"T1": {v1, tariff}},
				Options: baseOpts, kernel: k}
			cs.Result, cs.PriceError = pricing.Price(c, cs.Tariffs, baseOpts)
			if cs.PriceError != nil {
				rt.Fatal(cs.PriceError)
			}
			return Evaluate(cs)
		}
		ref, fast := eval(nil), eval(cache)
		if !reflect.DeepEqual(ref, fast) {
			rt.Fatalf("kernel trials differ:\nreference %v\n%s\nkernel    %v\n%s", ref, ref.Evidence(), fast, fast.Evidence())
		}
		trials += len(ref.Trials)
	})
	t.Logf("%d trials, %d priced by the kernel", trials, cache.used.Load())
	if used := cache.used.Load(); used*2 < int64(trials) {
		t.Errorf("the kernel priced %d of %d trials", used, trials)
	}
}

// A kernel amount in millionths at minor units is MicroAt of its decimal.
func TestKernelMicroIsMicroAt(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		v := rapid.Int64Range(-1e17, 1e17).Draw(rt, "v")
		if rapid.Bool().Draw(rt, "half") {
			v = v/1e6*1e6 + 5e5 // a half at two or more decimals
		}
		kt := &kernelTrials{minor: rapid.IntRange(-1, 8).Draw(rt, "minor")}
		if got, want := kt.micro(v), MicroAt(pricing.Money(v), kt.minor); got != want {
			rt.Fatalf("micro(%d) at %d = %d, MicroAt %d", v, kt.minor, got, want)
		}
	})
}
