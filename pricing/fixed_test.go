package pricing

import (
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

// The allocation-free conversions give exactly what the decimal ones give
// (or step aside for them), on any coefficient and exponent.
func TestFastConversionsAgree(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		coef := rapid.Int64().Draw(t, "coef")
		if rapid.Bool().Draw(t, "small") {
			coef = rapid.Int64Range(-100_000_000, 100_000_000).Draw(t, "smallcoef")
		}
		d := decimal.New(coef, int32(rapid.IntRange(-22, 6).Draw(t, "exp")))
		scale := int32(rapid.SampledFrom([]int{0, 6, 10}).Draw(t, "scale"))
		if v, ok := scaledFast(d, scale); ok {
			want, err := scaled(d, scale, "x")
			if err != nil || v != want {
				t.Fatalf("scaledFast(%s, %d) = %d, scaled = %d, %v", d, scale, v, want, err)
			}
		}
		if s, ok := hoursSecondsFast(d); ok {
			if want := d.Mul(decimal.NewFromInt(3600)).Round(0).IntPart(); s != want {
				t.Fatalf("hoursSecondsFast(%s) = %d, decimal %d", d, s, want)
			}
		}
	})
	for _, c := range []struct {
		h    string
		want int64
	}{{"0.0834", 300}, {"1.973", 7103}, {"0.000138", 0}, {"0.000139", 1}, {"-0.000139", -1}, {"2.5", 9000}, {"0", 0}} {
		if s, ok := hoursSecondsFast(dec(c.h)); !ok || s != c.want {
			t.Errorf("%s h = %d s (ok %v), want %d", c.h, s, ok, c.want)
		}
	}
}

// After warm-up, BatchBuilder.Add allocates nothing per CDR (issue 10: it
// took 29 to 54 allocations per CDR).
func TestBatchBuilderAllocations(t *testing.T) {
	cdrs := benchCDRs(500)
	cdrs[7].ChargingPeriods[0], cdrs[7].ChargingPeriods[len(cdrs[7].ChargingPeriods)-1] = cdrs[7].ChargingPeriods[len(cdrs[7].ChargingPeriods)-1], cdrs[7].ChargingPeriods[0]
	var bb BatchBuilder
	fill := func() {
		bb.Reset()
		for _, c := range cdrs {
			if err := bb.Add(c, 0, berlin); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill()
	if a := testing.AllocsPerRun(5, fill); a != 0 {
		t.Errorf("%.0f allocations per batch of %d CDRs, want 0", a, len(cdrs))
	}
}
