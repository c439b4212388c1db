package pricing

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Each restriction an evaluation point fails is found by
// matchRestrictions and worded by describe as the explanation shows it;
// a point that meets every restriction matches, unverifiable when a
// current or power bound meets no value.
func TestRestrictionFailuresAreWorded(t *testing.T) {
	sat := time.Date(2026, 6, 6, 21, 30, 0, 0, time.UTC) // a Saturday
	point := evalPoint{local: sat, energyBefore: dec("12.5"), durationSoFar: 1800,
		minCurrent: decimal.NewNullDecimal(dec("10")), maxCurrent: decimal.NewNullDecimal(dec("32")),
		minPower: decimal.NewNullDecimal(dec("7.4")), maxPower: decimal.NewNullDecimal(dec("22"))}
	nd := func(s string) decimal.NullDecimal { return decimal.NewNullDecimal(dec(s)) }
	secs := func(n int64) *int64 { return &n }
	cases := []struct {
		r      ocpi.TariffRestrictions
		failed restrictionCheck
		why    string
	}{
		{ocpi.TariffRestrictions{StartTime: "7:00"}, startTimeUnreadable, `start_time unreadable: time "7:00" is not HH:MM`},
		{ocpi.TariffRestrictions{EndTime: "25:00"}, endTimeUnreadable, "end_time unreadable: "},
		{ocpi.TariffRestrictions{StartTime: "07:00", EndTime: "21:00"}, outsideTimes, "local time 21:30:00 outside 07:00-21:00"},
		{ocpi.TariffRestrictions{EndTime: "08:00"}, outsideTimes, "local time 21:30:00 outside --08:00"},
		{ocpi.TariffRestrictions{StartDate: "2026-06-07"}, beforeStartDate, "local date 2026-06-06 before start_date 2026-06-07"},
		{ocpi.TariffRestrictions{EndDate: "2026-06-06"}, notBeforeEndDate, "local date 2026-06-06 not before end_date 2026-06-06"},
		{ocpi.TariffRestrictions{DayOfWeek: []string{"MONDAY", "SUNDAY"}}, notOnDayOfWeek, "SATURDAY not in day_of_week [MONDAY SUNDAY]"},
		{ocpi.TariffRestrictions{MinKWh: nd("20")}, belowMinKWh, "12.5 kWh so far < min_kwh 20"},
		{ocpi.TariffRestrictions{MaxKWh: nd("12.5")}, atMaxKWh, "12.5 kWh so far >= max_kwh 12.5"},
		{ocpi.TariffRestrictions{MinDuration: secs(3600)}, belowMinDuration, "1800 s since start < min_duration 3600"},
		{ocpi.TariffRestrictions{MaxDuration: secs(1800)}, atMaxDuration, "1800 s since start >= max_duration 1800"},
		{ocpi.TariffRestrictions{MinCurrent: nd("16")}, belowMinCurrent, "MIN_CURRENT 10 < min_current 16"},
		{ocpi.TariffRestrictions{MaxCurrent: nd("32")}, atMaxCurrent, "MAX_CURRENT 32 >= max_current 32"},
		{ocpi.TariffRestrictions{MinPower: nd("11")}, belowMinPower, "MIN_POWER 7.4 < min_power 11"},
		{ocpi.TariffRestrictions{MaxPower: nd("11")}, atMaxPower, "MAX_POWER 22 >= max_power 11"},
		{ocpi.TariffRestrictions{StartTime: "21:00", DayOfWeek: []string{" saturday"}, MinKWh: nd("12.5"), MaxCurrent: nd("33")},
			noFailure, "matches"},
	}
	for _, c := range cases {
		failed, unverifiable := matchRestrictions(&c.r, &point)
		why := describe(failed, &c.r, &point)
		if failed != c.failed || unverifiable || len(why) < len(c.why) || why[:len(c.why)] != c.why {
			t.Errorf("%+v: %d %q (unverifiable %v), want %d %q", c.r, failed, why, unverifiable, c.failed, c.why)
		}
	}
	noPower := point
	noPower.maxPower = decimal.NullDecimal{}
	if failed, unverifiable := matchRestrictions(&ocpi.TariffRestrictions{MaxPower: nd("11")}, &noPower); failed != noFailure || !unverifiable {
		t.Errorf("a power bound without a power: %d, unverifiable %v", failed, unverifiable)
	}
}
