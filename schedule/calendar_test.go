package schedule

import (
	"fmt"
	"testing"
	"time"
	_ "time/tzdata" // a fallback only: the transitions below are asserted, whichever copy is used

	"github.com/robfig/cron/v3"
	"pgregory.net/rapid"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// The 2026 transitions the tests rely on, checked against the zone data in
// use rather than assumed.
func TestZoneTransitions2026(t *testing.T) {
	for _, c := range []struct {
		zone, before, after string
		offBefore, offAfter int
	}{
		{"Europe/Berlin", "2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z", 3600, 7200},
		{"Europe/Berlin", "2026-10-25T00:59:59Z", "2026-10-25T01:00:00Z", 7200, 3600},
		{"America/New_York", "2026-03-08T06:59:59Z", "2026-03-08T07:00:00Z", -5 * 3600, -4 * 3600},
		{"America/New_York", "2026-11-01T05:59:59Z", "2026-11-01T06:00:00Z", -4 * 3600, -5 * 3600},
		{"Australia/Lord_Howe", "2026-10-03T15:29:59Z", "2026-10-03T15:30:00Z", 37800, 39600},
		{"Australia/Lord_Howe", "2026-04-04T14:59:59Z", "2026-04-04T15:00:00Z", 39600, 37800},
	} {
		loc := mustLoad(t, c.zone)
		if _, off := utc(c.before).In(loc).Zone(); off != c.offBefore {
			t.Errorf("%s at %s: offset %d, want %d", c.zone, c.before, off, c.offBefore)
		}
		if _, off := utc(c.after).In(loc).Zone(); off != c.offAfter {
			t.Errorf("%s at %s: offset %d, want %d", c.zone, c.after, off, c.offAfter)
		}
	}
}

func TestCalendarNextAcrossDST(t *testing.T) {
	for _, c := range []struct {
		name, zone, cron string
		after            string
		want             []string // the next instants, in order
	}{
		{"Berlin spring: 02:30 does not exist, due at 03:00 CEST", "Europe/Berlin", "30 2 * * *",
			"2026-03-28T12:00:00Z", []string{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
		{"Berlin autumn: 02:30 twice, due at the first only", "Europe/Berlin", "30 2 * * *",
			"2026-10-24T12:00:00Z", []string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"Berlin autumn: started in the second 02:xx, today's tick is past", "Europe/Berlin", "30 2 * * *",
			"2026-10-25T01:10:00Z", []string{"2026-10-26T01:30:00Z"}},
		{"Berlin autumn: started in the first 02:xx before the slot", "Europe/Berlin", "30 2 * * *",
			"2026-10-25T00:10:00Z", []string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"Berlin spring: four slots in the gap are one tick", "Europe/Berlin", "*/15 2 * * *",
			"2026-03-28T23:00:00Z", []string{"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"}},
		{"Berlin autumn hourly: the repeated 02:00 is not due again", "Europe/Berlin", "0 * * * *",
			"2026-10-24T23:30:00Z", []string{"2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"}},
		{"New York spring: 02:30 does not exist, due at 03:00 EDT", "America/New_York", "30 2 * * *",
			"2026-03-07T12:00:00Z", []string{"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
		{"New York autumn: 01:30 twice, due at 01:30 EDT only", "America/New_York", "30 1 * * *",
			"2026-10-31T12:00:00Z", []string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"Lord Howe spring: a half-hour gap", "Australia/Lord_Howe", "15 2 * * *",
			"2026-10-03T00:00:00Z", []string{"2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"}},
		{"Lord Howe autumn: a half hour twice", "Australia/Lord_Howe", "45 1 * * *",
			"2026-04-04T00:00:00Z", []string{"2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"}},
		{"UTC default", "UTC", "0 2 * * *",
			"2026-03-29T01:59:59Z", []string{"2026-03-29T02:00:00Z", "2026-03-30T02:00:00Z"}},
		{"monthly on the 6th", "UTC", "0 3 6 * *",
			"2026-01-31T00:00:00Z", []string{"2026-02-06T03:00:00Z", "2026-03-06T03:00:00Z"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cal, err := parseCalendar(c.cron, mustLoad(t, c.zone))
			if err != nil {
				t.Fatal(err)
			}
			at := utc(c.after)
			for i, w := range c.want {
				at = cal.next(at)
				if !at.Equal(utc(w)) {
					t.Fatalf("next #%d = %s, want %s", i+1, at.UTC().Format(time.RFC3339), w)
				}
			}
		})
	}
}

// robfig/cron's own evaluation in a zone, pinned: it skips the spring tick
// and repeats the autumn one (stack.md), which is why calendar exists. If a
// future version fixes it, this test says so.
func TestRobfigNextLosesAndRepeatsDSTTicks(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	s, err := cronParser.Parse("30 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	spec := s.(*cron.SpecSchedule)
	spec.Location = berlin
	if got := spec.Next(utc("2026-03-28T12:00:00Z")); !got.Equal(utc("2026-03-30T00:30:00Z")) {
		t.Errorf("spring: robfig next = %s, expected the lost tick (2026-03-30T00:30Z)", got.UTC())
	}
	first := spec.Next(utc("2026-10-24T12:00:00Z"))
	if second := spec.Next(first); !second.Equal(utc("2026-10-25T01:30:00Z")) {
		t.Errorf("autumn: robfig next after %s = %s, expected the repeated tick (2026-10-25T01:30Z)", first.UTC(), second.UTC())
	}
}

func TestCalendarPrev(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	cal, err := parseCalendar("30 2 * * *", berlin)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ at, want string }{
		{"2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z"}, // due exactly now
		{"2026-03-29T00:59:59Z", "2026-03-28T01:30:00Z"},
		{"2026-10-25T01:40:00Z", "2026-10-25T00:30:00Z"}, // after the repeated 02:30 CET
		{"2026-06-07T12:00:00Z", "2026-06-07T00:30:00Z"},
	} {
		if got := cal.prev(utc(c.at)); !got.Equal(utc(c.want)) {
			t.Errorf("prev(%s) = %s, want %s", c.at, got.UTC().Format(time.RFC3339), c.want)
		}
	}
	monthly, err := parseCalendar("0 3 6 * *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if got := monthly.prev(utc("2026-03-05T00:00:00Z")); !got.Equal(utc("2026-02-06T03:00:00Z")) {
		t.Errorf("monthly prev = %s", got)
	}
}

// A daily expression is due exactly once on every local date, at the first
// instant that reads its wall time, or, on a day that wall time is skipped,
// at the first instant after it: checked against a minute-by-minute scan
// around every transition of a year, in zones with hour, half-hour and
// midnight changes.
func TestCalendarDailyOncePerLocalDate(t *testing.T) {
	zones := []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
		"America/Havana", "Pacific/Chatham", "Europe/London", "Africa/Casablanca", "Asia/Tehran", "UTC"}
	rapid.Check(t, func(rt *rapid.T) {
		loc := mustLoad(t, rapid.SampledFrom(zones).Draw(rt, "zone"))
		h := rapid.IntRange(0, 23).Draw(rt, "hour")
		m := rapid.SampledFrom([]int{0, 15, 30, 45, 59}).Draw(rt, "minute")
		year := rapid.IntRange(2015, 2030).Draw(rt, "year")
		cal, err := parseCalendar(fmt.Sprintf("%d %d * * *", m, h), loc)
		if err != nil {
			rt.Fatal(err)
		}
		at := cal.next(time.Date(year, 1, 1, 0, 0, 0, 0, loc).Add(-time.Nanosecond))
		for day := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() == year; day = day.AddDate(0, 0, 1) {
			if want := dailyOracle(loc, day, h, m); !at.Equal(want) {
				rt.Fatalf("%s %s: tick at %s, want %s", loc, day.Format("2006-01-02"), at.In(loc), want.In(loc))
			}
			next := cal.next(at)
			if !next.After(at) {
				rt.Fatalf("next(%s) = %s is not after it", at, next)
			}
			at = next
		}
	})
}

// dailyOracle is when a daily h:m tick is due on the local date of day (a
// UTC midnight), by brute force near transitions.
func dailyOracle(loc *time.Location, day time.Time, h, m int) time.Time {
	y, mo, d := day.Date()
	lo, hi := day.Add(-15*time.Hour), day.Add(40*time.Hour)
	if _, a := lo.In(loc).Zone(); true {
		if _, b := hi.In(loc).Zone(); a == b {
			if _, end := lo.In(loc).ZoneBounds(); end.IsZero() || end.After(hi) {
				return time.Date(y, mo, d, h, m, 0, 0, loc) // no transition near: unambiguous
			}
		}
	}
	var after time.Time
	for u := lo; u.Before(hi); u = u.Add(time.Minute) {
		l := u.In(loc)
		if ly, lm, ld := l.Date(); ly != y || lm != mo || ld != d {
			continue
		}
		if l.Hour() == h && l.Minute() == m {
			return u
		}
		if after.IsZero() && (l.Hour() > h || l.Hour() == h && l.Minute() > m) {
			after = u
		}
	}
	return after
}

func FuzzParseCalendar(f *testing.F) {
	for _, s := range []string{"0 2 * * *", "30 2 * * *", "@daily", "@every 1h", "TZ=", "TZ=0", "CRON_TZ=Europe/Berlin 0 2 * * *",
		"*/15 2 * * 1-5", "0 0 30 2 *", "", "60 * * * *", "0 0 * * 7", "TZ=TZ=TZ="} {
		f.Add(s)
	}
	berlin := mustLoad(f, "Europe/Berlin")
	f.Fuzz(func(t *testing.T, expr string) {
		cal, err := parseCalendar(expr, berlin)
		if err != nil {
			return
		}
		at := utc("2026-10-24T22:00:00Z")
		for range 5 {
			n := cal.next(at)
			if n.IsZero() {
				return
			}
			if !n.After(at) {
				t.Fatalf("%q: next(%s) = %s", expr, at, n)
			}
			at = n
		}
	})
}
