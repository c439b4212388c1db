package pricing

import (
	"fmt"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

// evalPoint is what restrictions are evaluated against: the start of a
// period, in local time, with the quantities consumed before it.
type evalPoint struct {
	local         time.Time
	energyBefore  decimal.Decimal // kWh consumed in earlier periods
	durationSoFar int64           // whole seconds since the session start
	minCurrent    decimal.NullDecimal
	maxCurrent    decimal.NullDecimal
	minPower      decimal.NullDecimal
	maxPower      decimal.NullDecimal
}

// parseClock parses "HH:MM" into seconds after midnight.
func parseClock(s string) (int64, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("time %q is not HH:MM", s)
	}
	var h, m int64
	for i, c := range []byte(s) {
		if i == 2 {
			continue
		}
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("time %q is not HH:MM", s)
		}
	}
	h = int64(s[0]-'0')*10 + int64(s[1]-'0')
	m = int64(s[3]-'0')*10 + int64(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("time %q out of range", s)
	}
	return h*3600 + m*60, nil
}

// parseDate parses "YYYY-MM-DD" into days since 1970-01-01.
func parseDate(s string) (int64, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	return floorDiv(t.Unix(), 86400), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// inWindow is the time-of-day reading of digest §5.4: start inclusive, end
// exclusive, "00:00" as an end means the end of the day, end < start wraps
// past midnight, and start == end (both set, not 00:00) is the whole day.
func inWindow(tod int64, start, end int64, hasStart, hasEnd bool) bool {
	if !hasStart {
		start = 0
	}
	if !hasEnd || end == 0 {
		end = 86400
	}
	if start < end {
		return tod >= start && tod < end
	}
	return tod >= start || tod < end
}

// localDayNumber returns days since 1970-01-01 of the local calendar date.
func localDayNumber(t time.Time) int64 {
	y, m, d := t.Date()
	return floorDiv(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

// weekdayName is the OCPI DayOfWeek of a Go weekday.
func weekdayName(w time.Weekday) string {
	return ocpi.DaysOfWeek[(int(w)+6)%7]
}

// restrictionCheck names the restriction an evaluation point failed
// (noFailure: none). matchRestrictions finds it; describe words it, only
// for the explanation: formatting every rejected element's reason cost
// the reference pricer more than a tenth of its time.
type restrictionCheck uint8

const (
	noFailure restrictionCheck = iota
	startTimeUnreadable
	endTimeUnreadable
	outsideTimes
	beforeStartDate
	notBeforeEndDate
	notOnDayOfWeek
	belowMinKWh
	atMaxKWh
	belowMinDuration
	atMaxDuration
	belowMinCurrent
	atMaxCurrent
	belowMinPower
	atMaxPower
)

// boundCheck is one current or power restriction: its bound, the
// point's value, the failure it reports and the names describe uses.
type boundCheck struct {
	bound, value decimal.NullDecimal
	isMin        bool
	failure      restrictionCheck
	dimension    string // the CDR dimension, "MIN_CURRENT"
	restriction  string // the tariff restriction, "min_current"
}

// boundChecks are the current and power restrictions in the order they
// are checked.
func boundChecks(r *ocpi.TariffRestrictions, p *evalPoint) [4]boundCheck {
	return [4]boundCheck{
		{r.MinCurrent, p.minCurrent, true, belowMinCurrent, "MIN_CURRENT", "min_current"},
		{r.MaxCurrent, p.maxCurrent, false, atMaxCurrent, "MAX_CURRENT", "max_current"},
		{r.MinPower, p.minPower, true, belowMinPower, "MIN_POWER", "min_power"},
		{r.MaxPower, p.maxPower, false, atMaxPower, "MAX_POWER", "max_power"},
	}
}

// matchRestrictions evaluates every restriction except reservation (the
// phase check does that) at p. It returns which one failed (describe says
// why), and whether it matched only because a power or current dimension
// was missing.
func matchRestrictions(r *ocpi.TariffRestrictions, p *evalPoint) (failed restrictionCheck, unverifiable bool) {
	if r == nil {
		return noFailure, false
	}
	tod := int64(p.local.Hour()*3600 + p.local.Minute()*60 + p.local.Second())
	if r.StartTime != "" || r.EndTime != "" {
		var s, e int64
		var err error
		if r.StartTime != "" {
			if s, err = parseClock(r.StartTime); err != nil {
				return startTimeUnreadable, false
			}
		}
		if r.EndTime != "" {
			if e, err = parseClock(r.EndTime); err != nil {
				return endTimeUnreadable, false
			}
		}
		if !inWindow(tod, s, e, r.StartTime != "", r.EndTime != "") {
			return outsideTimes, false
		}
	}
	day := localDayNumber(p.local)
	if r.StartDate != "" {
		d, err := parseDate(r.StartDate)
		if err != nil || day < d {
			return beforeStartDate, false
		}
	}
	if r.EndDate != "" {
		d, err := parseDate(r.EndDate)
		if err != nil || day >= d {
			return notBeforeEndDate, false
		}
	}
	if len(r.DayOfWeek) > 0 {
		wd := weekdayName(p.local.Weekday())
		found := false
		for _, d := range r.DayOfWeek {
			if strings.EqualFold(strings.TrimSpace(d), wd) {
				found = true
				break
			}
		}
		if !found {
			return notOnDayOfWeek, false
		}
	}
	if r.MinKWh.Valid && p.energyBefore.LessThan(r.MinKWh.Decimal) {
		return belowMinKWh, false
	}
	if r.MaxKWh.Valid && !p.energyBefore.LessThan(r.MaxKWh.Decimal) {
		return atMaxKWh, false
	}
	if r.MinDuration != nil && p.durationSoFar < *r.MinDuration {
		return belowMinDuration, false
	}
	if r.MaxDuration != nil && p.durationSoFar >= *r.MaxDuration {
		return atMaxDuration, false
	}
	for _, c := range boundChecks(r, p) {
		if !c.bound.Valid {
			continue
		}
		if !c.value.Valid {
			unverifiable = true
			continue
		}
		if c.isMin == c.value.Decimal.LessThan(c.bound.Decimal) {
			return c.failure, false
		}
	}
	return noFailure, unverifiable
}

// describe says why the restrictions r failed the check at p.
func describe(failed restrictionCheck, r *ocpi.TariffRestrictions, p *evalPoint) string {
	switch failed {
	case startTimeUnreadable:
		_, err := parseClock(r.StartTime)
		return "start_time unreadable: " + err.Error()
	case endTimeUnreadable:
		_, err := parseClock(r.EndTime)
		return "end_time unreadable: " + err.Error()
	case outsideTimes:
		return fmt.Sprintf("local time %s outside %s-%s", p.local.Format("15:04:05"), orDash(r.StartTime), orDash(r.EndTime))
	case beforeStartDate:
		return fmt.Sprintf("local date %s before start_date %s", p.local.Format("2006-01-02"), r.StartDate)
	case notBeforeEndDate:
		return fmt.Sprintf("local date %s not before end_date %s", p.local.Format("2006-01-02"), r.EndDate)
	case notOnDayOfWeek:
		return fmt.Sprintf("%s not in day_of_week %v", weekdayName(p.local.Weekday()), r.DayOfWeek)
	case belowMinKWh:
		return fmt.Sprintf("%s kWh so far < min_kwh %s", p.energyBefore, r.MinKWh.Decimal)
	case atMaxKWh:
		return fmt.Sprintf("%s kWh so far >= max_kwh %s", p.energyBefore, r.MaxKWh.Decimal)
	case belowMinDuration:
		return fmt.Sprintf("%d s since start < min_duration %d", p.durationSoFar, *r.MinDuration)
	case atMaxDuration:
		return fmt.Sprintf("%d s since start >= max_duration %d", p.durationSoFar, *r.MaxDuration)
	}
	for _, c := range boundChecks(r, p) {
		if c.failure == failed {
			op := ">="
			if c.isMin {
				op = "<"
			}
			return fmt.Sprintf("%s %s %s %s %s", c.dimension, c.value.Decimal, op, c.restriction, c.bound.Decimal)
		}
	}
	return "matches"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
