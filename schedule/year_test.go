package schedule

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// A simulated year of nightly ticks, 2026, in two zones, through both DST
// changes, with a 3-day outage across May's grace deadline (June 6 00:00
// UTC): every month is finalised exactly once per partner, at the first tick
// after its deadline (May's on restart, as a catch-up), every night has
// exactly one tick, and the nights lost to the outage are caught up once.
func TestYearOfNightlyRuns(t *testing.T) {
	for _, c := range []struct {
		name, zone, cron string
		h, m             int
		// The one tick of each DST change day, hard-coded in UTC.
		springDay, autumnDay   string
		springTick, autumnTick string
	}{
		{"Berlin 02:30: skipped in March, repeated in October", "Europe/Berlin", "30 2 * * *", 2, 30,
			"2026-03-29", "2026-10-25", "2026-03-29T01:00:00Z", "2026-10-25T00:30:00Z"},
		{"New York 02:30: skipped in March", "America/New_York", "30 2 * * *", 2, 30,
			"2026-03-08", "2026-11-01", "2026-03-08T07:00:00Z", "2026-11-01T07:30:00Z"},
		{"New York 01:30: repeated in November", "America/New_York", "30 1 * * *", 1, 30,
			"2026-03-08", "2026-11-01", "2026-03-08T06:30:00Z", "2026-11-01T05:30:00Z"},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				yearOfNightlyRuns(t, c.zone, c.cron, c.h, c.m, c.springDay, c.autumnDay, utc(c.springTick), utc(c.autumnTick))
			})
		})
	}
}

func yearOfNightlyRuns(t *testing.T, zone, cronExpr string, h, m int, springDay, autumnDay string, springTick, autumnTick time.Time) {
	loc := mustLoad(t, zone)
	ledger, runner, puller := newFakeLedger(), &fakeRunner{dur: 3 * time.Minute}, &fakePuller{}
	cfg := Config{Cron: cronExpr, Zone: zone, Grace: "5d", From: "2026-01",
		Partners: []string{"NL-ABC", "DE-XYZ"}, Pull: []string{"NL-ABC"}}
	deps := Deps{Runner: runner, Ledger: ledger, Pull: puller.Pull}

	var (
		firstStart = utc("2025-12-31T12:00:00Z")
		outage     = utc("2026-06-04T12:00:00Z")
		restart    = utc("2026-06-07T12:00:00Z")
		end        = utc("2027-01-07T12:00:00Z")
	)
	sleepUntilUTC(firstStart)
	a := start(t, cfg, deps)
	sleepUntilUTC(outage)
	a.stop(t)
	sleepUntilUTC(restart)
	b := start(t, cfg, deps)
	sleepUntilUTC(end)
	if hl := b.s.Health(); hl.LastTick == nil || hl.LastTick.Runs != 2 || hl.Status != "ok" ||
		!hl.NextDue.Equal(time.Date(2027, 1, 8, h, m, 0, 0, loc)) {
		t.Errorf("health at the end: %+v (last tick %+v)", hl, hl.LastTick)
	}
	b.stop(t)
	ledger.check(t)

	// The expected ticks, one per local date, from the calendar's wall time
	// and the two DST days hard-coded; the outage loses June 5 and 6, and
	// June 7's tick runs at the restart.
	slotOf := func(d time.Time) time.Time {
		switch d.Format("2006-01-02") {
		case springDay:
			return springTick
		case autumnDay:
			return autumnTick
		}
		return time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, loc).UTC()
	}
	type prov struct {
		period Period
		asOf   time.Time
	}
	var wantProv []prov
	for d := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); d.Before(time.Date(2027, 1, 8, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
		if d.Month() == time.June && (d.Day() == 5 || d.Day() == 6) {
			continue
		}
		slot := slotOf(d)
		cur := PeriodOf(slot, time.UTC)
		// A closed month is settled provisionally until its deadline, the 6th.
		if prev := cur.Prev(); slot.Day() <= 5 && !prev.Before(per(2026, time.January)) {
			wantProv = append(wantProv, prov{prev, slot})
		}
		wantProv = append(wantProv, prov{cur, slot})
	}
	if len(wantProv) != 429 {
		t.Fatalf("the expectation itself is off: %d provisional runs, want 370 nights + 59 grace days = 429", len(wantProv))
	}

	for _, partner := range []string{"NL-ABC", "DE-XYZ"} {
		// Finals: each month of 2026 exactly once, in order, at the first
		// tick after the deadline; May's at the restart.
		finals := runner.callsOf(partner, Final)
		if len(finals) != 12 {
			t.Errorf("%s: %d final runs, want 12", partner, len(finals))
		}
		for i, f := range finals {
			want := per(2026, time.Month(i+1))
			if f.job.Period != want {
				t.Errorf("%s: final #%d is %s, want %s", partner, i+1, f.job.Period, want)
				continue
			}
			due, origin := slotOf(time.Date(2026, time.Month(i+2), 6, 0, 0, 0, 0, time.UTC)), OriginScheduled
			if want.Month == time.May {
				due, origin = restart, OriginCatchUp
			}
			if f.at.Before(due) || !f.at.Before(due.Add(30*time.Minute)) || f.job.Origin != origin {
				t.Errorf("%s: final %s ran at %s as %s, want within 30 min of %s as %s",
					partner, want, f.at.Format(time.RFC3339), f.job.Origin, due.Format(time.RFC3339), origin)
			}
		}
		if got := ledger.finals(partner); len(got) != 12 {
			t.Errorf("%s: ledger has %d successful finals: %v", partner, len(got), got)
		}

		// Provisionals: exactly the expected (period, tick) pairs, in order,
		// each started at its tick (June 7's at the restart).
		provs := runner.callsOf(partner, Provisional)
		if len(provs) != len(wantProv) {
			t.Errorf("%s: %d provisional runs, want %d", partner, len(provs), len(wantProv))
		}
		for i := 0; i < min(len(provs), len(wantProv)); i++ {
			p, w := provs[i], wantProv[i]
			if p.job.Period != w.period || !p.job.AsOf.Equal(w.asOf) {
				t.Fatalf("%s: provisional #%d is %s, want %s as of %s", partner, i+1, p.job.RunID, w.period, w.asOf.Format(time.RFC3339))
			}
			runAt, origin := w.asOf, OriginScheduled
			if w.asOf.Format("2006-01-02") == "2026-06-07" {
				runAt, origin = restart, OriginCatchUp
			}
			if p.at.Before(runAt) || !p.at.Before(runAt.Add(30*time.Minute)) || p.job.Origin != origin {
				t.Errorf("%s: %s ran at %s as %s, want within 30 min of %s as %s", partner, p.job.RunID,
					p.at.Format(time.RFC3339), p.job.Origin, runAt.Format(time.RFC3339), origin)
			}
		}
	}

	// The DST days: one tick each, at the hard-coded instant.
	for _, day := range []struct {
		date string
		want time.Time
	}{{springDay, springTick}, {autumnDay, autumnTick}} {
		var ticks []string
		seen := map[time.Time]bool{}
		for _, p := range runner.callsOf("NL-ABC", Provisional) {
			if p.job.AsOf.In(loc).Format("2006-01-02") == day.date && !seen[p.job.AsOf] {
				seen[p.job.AsOf] = true
				ticks = append(ticks, p.job.AsOf.Format(time.RFC3339))
			}
		}
		if fmt.Sprint(ticks) != fmt.Sprint([]string{day.want.Format(time.RFC3339)}) {
			t.Errorf("%s: ticks %v, want exactly [%s]", day.date, ticks, day.want.Format(time.RFC3339))
		}
	}

	// Nothing ran while down.
	for _, c := range runner.calls {
		if c.at.After(outage) && c.at.Before(restart) {
			t.Errorf("%s ran at %s, during the outage", c.job.RunID, c.at)
		}
	}
	// Each run was claimed once: no identity was attempted twice.
	if ledger.claims != 2*(12+429) || ledger.finishes != ledger.claims {
		t.Errorf("ledger: %d claims, %d finishes, want %d each", ledger.claims, ledger.finishes, 2*(12+429))
	}
	// One pull per tick, NL-ABC only: the first start's catch-up tick (Dec 31,
	// before From, so it settles nothing) and 370 nights.
	if n := puller.count(); n != 371 {
		t.Errorf("%d pulls, want 371", n)
	}
	for _, p := range puller.pulls {
		if p.job.Partner != "NL-ABC" {
			t.Fatalf("pulled %q", p.job.Partner)
		}
	}
	// The restarted scheduler caught up May's final and June 7's provisional
	// run for both partners, and counted them.
	if n := value(t, b.s.m.catchUp); n != 4 {
		t.Errorf("catch-up runs = %v, want 4", n)
	}
	if n := value(t, b.s.m.runs.WithLabelValues("final", "succeeded")); n != 2*8 {
		t.Errorf("finals after the restart = %v, want 16 (May to December, two partners)", n)
	}
	if n := value(t, a.s.m.catchUp); n != 0 {
		t.Errorf("first start caught up %v runs, want 0", n)
	}
}
