package pricing

import (
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

func TestBoundaryInsidePeriod(t *testing.T) {
	mon := func(clock string) time.Time { return at(t, "2026-06-01", clock, time.Monday) }
	fri := func(clock string) time.Time { return at(t, "2026-06-05", clock, time.Friday) }
	sat := func(clock string) time.Time { return at(t, "2026-06-06", clock, time.Saturday) }
	complexTariff := specTariff(t, "spec221", "tariff_4_complex.json")
	kwhTiers := &ocpi.Tariff{ID: "kwh", Currency: "EUR", Elements: []ocpi.TariffElement{
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimEnergy, Price: dec("0")}}, Restrictions: &ocpi.TariffRestrictions{MaxKWh: nullDec("1")}},
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimEnergy, Price: dec("0.2")}}, Restrictions: &ocpi.TariffRestrictions{MinKWh: nullDec("1")}},
	}}
	restricted := func(r ocpi.TariffRestrictions) *ocpi.Tariff {
		return &ocpi.Tariff{ID: "r", Currency: "EUR", Elements: []ocpi.TariffElement{
			{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimEnergy, Price: dec("0.5")}}, Restrictions: &r},
			{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimEnergy, Price: dec("0.3")}}},
		}}
	}
	maxDuration := specTariff(t, "spec221", "tariffrestriction_example_max_duration.json")
	rows := []struct {
		name   string
		tariff *ocpi.Tariff
		cdr    *ocpi.CDR
		want   string // part of the message; "" = no warning
		period int
	}{
		{"17:00 inside one period", twoRate(ocpi.TariffDimEnergy, "0.20", "0.27", 1),
			mkCDR(mon("16:30"), seg{min: 60, energy: "5", charging: true}), "at Mon 2026-06-01 17:00:00 CEST", 0},
		{"split at 17:00: on a period start, not inside", twoRate(ocpi.TariffDimEnergy, "0.20", "0.27", 1),
			mkCDR(mon("16:30"), seg{min: 30, energy: "2", charging: true}, seg{min: 30, energy: "3", charging: true}), "", 0},
		{"weekday parking window ends at 18:00 inside the parking", &complexTariff,
			mkCDR(mon("16:00"), seg{min: 90, energy: "10", charging: true, maxCur: "16"}, seg{min: 60, parking: true}), "at Mon 2026-06-01 18:00:00 CEST", 1},
		{"18:00 on a Saturday is no boundary of a Monday-Friday element", &complexTariff,
			mkCDR(sat("16:00"), seg{min: 90, energy: "10", charging: true, maxCur: "16"}, seg{min: 60, parking: true}), "", 0},
		{"a time boundary of an ENERGY element in a parking-only period", twoRate(ocpi.TariffDimEnergy, "0.20", "0.27", 1),
			mkCDR(mon("16:00"), seg{min: 30, energy: "2", charging: true}, seg{min: 90, parking: true}), "", 0},
		{"max_kwh 1 reached inside the only period", kwhTiers,
			mkCDR(mon("10:00"), seg{min: 60, energy: "5", charging: true}), "kWh bound 1 is reached (0 -> 5 kWh", 0},
		{"split at 1 kWh", kwhTiers,
			mkCDR(mon("10:00"), seg{min: 10, energy: "1", charging: true}, seg{min: 50, energy: "4", charging: true}), "", 0},
		{"max_duration 1800 s inside a 40 min period", &maxDuration,
			mkCDR(mon("10:00"), seg{min: 40, energy: "6.2", charging: true}), "at Mon 2026-06-01 10:30:00 CEST", 0},
		{"the spec's max_duration CDR is split at 30 min", &maxDuration,
			mkCDR(mon("10:00"), seg{min: 30, energy: "5", charging: true}, seg{min: 10, energy: "1.2", charging: true}), "", 0},
		{"end_date at local midnight", restricted(ocpi.TariffRestrictions{EndDate: "2026-06-02"}),
			mkCDR(mon("23:30"), seg{min: 60, energy: "5", charging: true}), "at Tue 2026-06-02 00:00:00 CEST", 0},
		{"Friday to Saturday for a Saturday element", restricted(ocpi.TariffRestrictions{DayOfWeek: []string{"SATURDAY"}}),
			mkCDR(fri("23:30"), seg{min: 60, energy: "5", charging: true}), "at Sat 2026-06-06 00:00:00 CEST", 0},
		{"Monday to Tuesday for a weekday element", restricted(ocpi.TariffRestrictions{DayOfWeek: []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"}}),
			mkCDR(mon("23:30"), seg{min: 60, energy: "5", charging: true}), "", 0},
		{"a 22:00-06:00 window over a whole day: the first change is at 22:00", restricted(ocpi.TariffRestrictions{StartTime: "22:00", EndTime: "06:00"}),
			mkCDR(mon("07:00"), seg{min: 60 * 24, energy: "5", charging: true}), "at Mon 2026-06-01 22:00:00 CEST", 0},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			res, err := Price(r.cdr, []ocpi.Tariff{*r.tariff}, Options{TimeZone: berlin, Policy: ExactPolicy()})
			if err != nil {
				t.Fatal(err)
			}
			var got []Warning
			for _, w := range res.Warnings {
				if w.Code == WarnBoundaryInPeriod {
					got = append(got, w)
				}
			}
			switch {
			case r.want == "" && len(got) > 0:
				t.Errorf("unexpected %+v", got)
			case r.want != "" && (len(got) != 1 || got[0].Period != r.period || !strings.Contains(got[0].Message, r.want)):
				t.Errorf("got %+v, want one in period %d containing %q", got, r.period, r.want)
			}
		})
	}
}

func nullDec(s string) decimal.NullDecimal { return decimal.NewNullDecimal(dec(s)) }
