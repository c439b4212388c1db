package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var twoPartners = []string{"NL-ABC", "DE-XYZ"}

// summary lists runner calls as "partner period kind origin" lines.
func summary(calls []runnerCall) []string {
	var out []string
	for _, c := range calls {
		out = append(out, fmt.Sprintf("%s %s %s %s", c.job.Partner, c.job.Period, c.job.Kind, c.job.Origin))
	}
	return out
}

func (r *fakeRunner) since(i int) []runnerCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls[i:])
}

func TestPanicIsRecordedAsFailedAndTheSchedulerGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ledger := newFakeLedger()
		panicked := false
		runner := &fakeRunner{}
		runner.hook = func(ctx context.Context, job Job) error {
			if job.Partner == "NL-ABC" && job.Kind == Final && !panicked {
				panicked = true
				var m map[string]int
				m["boom"]++ // a nil-map write: a runtime panic, as real bugs raise
			}
			return nil
		}
		sleepUntilUTC(utc("2026-02-05T12:00:00Z"))
		st := start(t, Config{From: "2026-01", Partners: twoPartners}, Deps{Runner: runner, Ledger: ledger})
		sleepUntilUTC(utc("2026-02-06T01:00:00Z"))
		mark := runner.count()

		// Feb 6 02:00: January's deadline has passed. NL's final panics; the
		// tick goes on with NL's February and DE's runs.
		sleepUntilUTC(utc("2026-02-06T03:00:00Z"))
		got := summary(runner.since(mark))
		want := []string{"NL-ABC 2026-01 final scheduled", "NL-ABC 2026-02 provisional scheduled",
			"DE-XYZ 2026-01 final scheduled", "DE-XYZ 2026-02 provisional scheduled"}
		if !slices.Equal(got, want) {
			t.Errorf("Feb 6 runs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		rec := ledger.record(RunID{Scope: Scope{per(2026, 1), "NL-ABC", Final}})
		if rec == nil || len(rec.outcomes) != 1 || rec.outcomes[0].Status != Failed || !rec.outcomes[0].Panic ||
			!strings.HasPrefix(rec.outcomes[0].Err, "panic: assignment to entry in nil map") {
			t.Fatalf("NL January final after the panic: %+v", rec)
		}
		if h := st.s.Health(); h.Status != "failing" || h.LastTick.Failed != 1 || h.LastTick.Runs != 4 {
			t.Errorf("health after the panic: %+v %+v", h, h.LastTick)
		}
		if v := value(t, st.s.m.runs.WithLabelValues("final", "panicked")); v != 1 {
			t.Errorf("panicked finals = %v", v)
		}
		if v := value(t, st.s.m.lastSuccess.WithLabelValues("final")); v != 1 {
			t.Errorf("last final succeeded = %v, want 1 (DE's came after NL's panic)", v)
		}

		// Feb 7 02:00: the final is tried again and succeeds.
		mark = runner.count()
		sleepUntilUTC(utc("2026-02-07T03:00:00Z"))
		got = summary(runner.since(mark))
		want = []string{"NL-ABC 2026-01 final scheduled", "NL-ABC 2026-02 provisional scheduled",
			"DE-XYZ 2026-02 provisional scheduled"}
		if !slices.Equal(got, want) {
			t.Errorf("Feb 7 runs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if rec = ledger.record(rec.job.RunID); rec.status != Succeeded || len(rec.outcomes) != 2 {
			t.Errorf("NL January final: %s after %d attempts", rec.status, len(rec.outcomes))
		}
		for _, p := range []string{"NL-ABC", "DE-XYZ"} {
			if f := ledger.finals(p); !slices.Equal(f, []Period{per(2026, 1)}) {
				t.Errorf("%s finals: %v", p, f)
			}
		}
		if h := st.s.Health(); h.Status != "ok" {
			t.Errorf("health after the retry: %s", h.Status)
		}
		st.stop(t)
		ledger.check(t)
	})
}

func TestFailedFinalHoldsBackLaterFinals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ledger := newFakeLedger()
		failed := false
		runner := &fakeRunner{}
		runner.hook = func(ctx context.Context, job Job) error {
			if job.Partner == "NL-ABC" && job.Kind == Final && job.Period == per(2026, 1) && !failed {
				failed = true
				return errors.New("reprice: tariff store unavailable")
			}
			return nil
		}
		// Down since January: on start, January and February are past their
		// deadlines.
		sleepUntilUTC(utc("2026-03-10T12:00:00Z"))
		st := start(t, Config{From: "2026-01", Partners: twoPartners}, Deps{Runner: runner, Ledger: ledger})
		synctest.Wait()
		got := summary(runner.since(0))
		want := []string{"NL-ABC 2026-01 final catch-up", "NL-ABC 2026-03 provisional catch-up",
			"DE-XYZ 2026-01 final catch-up", "DE-XYZ 2026-02 final catch-up", "DE-XYZ 2026-03 provisional catch-up"}
		if !slices.Equal(got, want) {
			t.Errorf("catch-up:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		sleepUntilUTC(utc("2026-03-11T03:00:00Z"))
		got = summary(runner.since(len(want)))
		want = []string{"NL-ABC 2026-01 final scheduled", "NL-ABC 2026-02 final scheduled", "NL-ABC 2026-03 provisional scheduled",
			"DE-XYZ 2026-03 provisional scheduled"}
		if !slices.Equal(got, want) {
			t.Errorf("next night:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		st.stop(t)
		ledger.check(t)
	})
}

func TestTwoTriggersOfOneScopeAtOnceGiveOneRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ledger := newFakeLedger()
		release := make(chan struct{})
		runner := &fakeRunner{}
		runner.hook = func(ctx context.Context, job Job) error {
			<-release
			return nil
		}
		sleepUntilUTC(utc("2026-11-10T12:00:00Z"))
		// From lies ahead: the schedule itself runs nothing here.
		st := start(t, Config{From: "2027-01", Partners: twoPartners}, Deps{Runner: runner, Ledger: ledger})
		for _, kind := range []Kind{Final, Provisional} {
			mark := runner.count()
			req := Request{Period: per(2026, 10), Partner: "nl-abc", Kind: kind}
			results := make([]Result, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() { results[i], errs[i] = st.s.Trigger(context.Background(), req) })
			}
			synctest.Wait()
			if n := runner.count() - mark; n != 1 {
				t.Fatalf("%s: %d runs going, want 1", kind, n)
			}
			if h := st.s.Health(); !slices.Equal(h.Running, []string{"2026-10 NL-ABC " + string(kind)}) {
				t.Errorf("%s: health running %v", kind, h.Running)
			}
			release <- struct{}{}
			wg.Wait()
			if n := runner.count() - mark; n != 1 {
				t.Errorf("%s: %d runs, want 1", kind, n)
			}
			if errs[0] != nil || errs[1] != nil || results[0].Joined == results[1].Joined ||
				results[0].Outcome != results[1].Outcome || results[0].Outcome.Status != Succeeded ||
				results[0].ID != results[1].ID {
				t.Errorf("%s: results %+v %v, %+v %v", kind, results[0], errs[0], results[1], errs[1])
			}
		}
		// The final again, later: the ledger has it done; nothing runs.
		mark := runner.count()
		r, err := st.s.Trigger(context.Background(), Request{Period: per(2026, 10), Partner: "NL-ABC", Kind: Final})
		if err != nil || r.Claim != Done || r.Ran() || runner.count() != mark {
			t.Errorf("final again: %+v %v", r, err)
		}
		if v := value(t, st.s.m.skipped.WithLabelValues("final", "done")); v != 1 {
			t.Errorf("skipped done = %v", v)
		}
		st.stop(t)
		ledger.check(t)
	})
}

// Two processes (which invariant 8 forbids, but a lock is not idempotency):
// the ledger's unique key alone keeps the final to one run.
func TestLedgerKeyKeepsOneFinalAcrossSchedulers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ledger := newFakeLedger()
		release := make(chan struct{})
		runner := &fakeRunner{}
		runner.hook = func(ctx context.Context, job Job) error { <-release; return nil }
		sleepUntilUTC(utc("2026-11-10T12:00:00Z"))
		a, err := New(Config{}, Deps{Runner: runner, Ledger: ledger})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := New(Config{}, Deps{Runner: runner, Ledger: ledger})
		req := Request{Period: per(2026, 9), Kind: Final}
		var ra Result
		var wg sync.WaitGroup
		wg.Go(func() { ra, _ = a.Trigger(context.Background(), req) })
		synctest.Wait()
		rb, err := b.Trigger(context.Background(), req)
		if err != nil || rb.Claim != Busy || rb.Ran() {
			t.Errorf("second process while the first runs: %+v %v", rb, err)
		}
		close(release)
		wg.Wait()
		rb, err = b.Trigger(context.Background(), req)
		if err != nil || rb.Claim != Done || !ra.Ran() || runner.count() != 1 {
			t.Errorf("after: a %+v, b %+v %v, %d runs", ra, rb, err, runner.count())
		}
		ledger.check(t)
	})
}

func TestTriggerWhileTheTicksRunIsGoingJoinsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ledger := newFakeLedger()
		release := make(chan struct{})
		runner := &fakeRunner{}
		runner.hook = func(ctx context.Context, job Job) error {
			if job.AsOf.Equal(utc("2026-11-10T02:00:00Z")) {
				<-release
			}
			return nil
		}
		sleepUntilUTC(utc("2026-11-10T01:00:00Z"))
		st := start(t, Config{From: "2026-11", Partners: []string{"NL-ABC"}}, Deps{Runner: runner, Ledger: ledger})
		sleepUntilUTC(utc("2026-11-10T02:00:30Z"))
		synctest.Wait()
		var r Result
		var err error
		done := make(chan struct{})
		go func() {
			r, err = st.s.Trigger(context.Background(), Request{Period: per(2026, 11), Partner: "nl*abc", Kind: Provisional})
			close(done)
		}()
		synctest.Wait()
		close(release)
		<-done
		got := summary(runner.since(0))
		want := []string{"NL-ABC 2026-11 provisional catch-up", "NL-ABC 2026-11 provisional scheduled"}
		if !slices.Equal(got, want) {
			t.Errorf("runs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if err != nil || !r.Joined || !r.ID.AsOf.Equal(utc("2026-11-10T02:00:00Z")) || r.Outcome.Status != Succeeded {
			t.Errorf("trigger: %+v %v", r, err)
		}
		st.stop(t)
		ledger.check(t)
	})
}

func TestRunsOfOnePeriodAndPartnerNeverOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		going := map[string]int{}
		overlap := 0
		runner := &fakeRunner{}
		runner.hook = func(ctx context.Context, job Job) error {
			k := job.Period.String() + job.Partner
			mu.Lock()
			going[k]++
			if going[k] > 1 {
				overlap++
			}
			mu.Unlock()
			time.Sleep(10 * time.Minute)
			mu.Lock()
			going[k]--
			mu.Unlock()
			return nil
		}
		sleepUntilUTC(utc("2026-11-10T12:00:00Z"))
		s, _ := New(Config{}, Deps{Runner: runner, Ledger: newFakeLedger()})
		var wg sync.WaitGroup
		for _, r := range []Request{{per(2026, 10), "NL-ABC", Final}, {per(2026, 10), "NL-ABC", Provisional},
			{per(2026, 10), "DE-XYZ", Final}} {
			wg.Go(func() {
				if _, err := s.Trigger(context.Background(), r); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if overlap != 0 || runner.count() != 3 {
			t.Errorf("%d overlapping runs of %d", overlap, runner.count())
		}
		// NL's two ran one after the other, DE's beside them.
		if d := time.Since(utc("2026-11-10T12:00:00Z")); d != 20*time.Minute {
			t.Errorf("took %s, want 20m", d)
		}
	})
}

// Shutdown cancels the run's context; the run stops at its next step
// boundary, Run returns only then, the outcome is recorded as cancelled, and
// the next start runs the tick again.
func TestShutdownWaitsForTheStepBoundary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ledger := newFakeLedger()
		runner := &fakeRunner{}
		steps := 0 // of the last run to return
		runner.hook = func(ctx context.Context, job Job) error {
			n := 0
			defer func() { steps = n }()
			for range 4 {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("settle %s: stopped after %d steps: %w", job.RunID, n, err)
				}
				time.Sleep(10 * time.Minute) // a step is not interrupted
				n++
			}
			return nil
		}
		sleepUntilUTC(utc("2026-11-10T01:00:00Z"))
		cfg := Config{From: "2026-11"}
		st := start(t, cfg, Deps{Runner: runner, Ledger: ledger})
		synctest.Wait() // the catch-up of Nov 9's tick
		sleepUntilUTC(utc("2026-11-10T02:15:00Z"))
		st.cancel()
		<-st.done
		if now := time.Now(); !now.Equal(utc("2026-11-10T02:20:00Z")) || steps != 2 {
			t.Errorf("Run returned at %s after %d steps, want 02:20 after 2", now, steps)
		}
		id := RunID{Scope: Scope{per(2026, 11), "", Provisional}, AsOf: utc("2026-11-10T02:00:00Z")}
		rec := ledger.record(id)
		if rec == nil || rec.status != Canceled || !strings.Contains(rec.outcomes[0].Err, "stopped after 2 steps") {
			t.Fatalf("record of the cancelled run: %+v", rec)
		}
		if _, err := st.s.Trigger(context.Background(), Request{Period: per(2026, 11), Kind: Provisional}); !errors.Is(err, ErrStopped) {
			t.Errorf("trigger after shutdown: %v", err)
		}
		if h := st.s.Health(); h.Status != "stopped" {
			t.Errorf("health %s", h.Status)
		}

		sleepUntilUTC(utc("2026-11-10T03:00:00Z"))
		st2 := start(t, cfg, Deps{Runner: runner, Ledger: ledger})
		sleepUntilUTC(utc("2026-11-10T04:00:00Z"))
		if rec = ledger.record(id); rec.status != Succeeded || len(rec.outcomes) != 2 || !rec.outcomes[1].Ended.Equal(utc("2026-11-10T03:40:00Z")) {
			t.Errorf("after restart: %s, %+v", rec.status, rec.outcomes)
		}
		st2.stop(t)
		ledger.check(t)
	})
}

// A restart on a day whose tick has run runs nothing again; a restart after
// a long outage with no from finalises from the earliest period the ledger
// has a scheduled run of.
func TestRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ledger := newFakeLedger()
		runner := &fakeRunner{dur: time.Minute}
		deps := Deps{Runner: runner, Ledger: ledger}
		cfg := Config{Cron: "0 3 * * *", Zone: "Europe/Berlin"}
		// First start ever, no from: the period of the first tick (the
		// catch-up of March 10's) is where the schedule begins.
		sleepUntilUTC(utc("2026-03-10T12:00:00Z"))
		st := start(t, cfg, deps)
		sleepUntilUTC(utc("2026-03-11T12:00:00Z"))
		st.stop(t)
		want := []string{" 2026-03 provisional catch-up", " 2026-03 provisional scheduled"}
		if got := summary(runner.since(0)); !slices.Equal(got, want) {
			t.Errorf("first days: %q, want %q", got, want)
		}
		// Restarted an hour later: March 11's tick has run.
		sleepUntilUTC(utc("2026-03-11T13:00:00Z"))
		st = start(t, cfg, deps)
		synctest.Wait()
		if n := runner.count(); n != 2 {
			t.Errorf("restart on the same day ran %d runs", n-2)
		}
		if v := value(t, st.s.m.skipped.WithLabelValues("provisional", "done")); v != 1 {
			t.Errorf("skipped as done: %v", v)
		}
		st.stop(t)
		// Down until June 2: March and April are past their deadlines, May
		// is in its grace period.
		sleepUntilUTC(utc("2026-06-02T12:00:00Z"))
		st = start(t, cfg, deps)
		sleepUntilUTC(utc("2026-06-02T13:00:00Z"))
		want = []string{" 2026-03 final catch-up", " 2026-04 final catch-up", " 2026-05 provisional catch-up", " 2026-06 provisional catch-up"}
		if got := summary(runner.since(2)); !slices.Equal(got, want) {
			t.Errorf("after the outage:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if v := value(t, st.s.m.catchUp); v != 4 {
			t.Errorf("catch-up count %v", v)
		}
		st.stop(t)
		ledger.check(t)
	})
}

func TestLedgerTroubleIsCountedAndTheSchedulerGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ledger := newFakeLedger()
		runner := &fakeRunner{}
		sleepUntilUTC(utc("2026-11-10T12:00:00Z"))
		st := start(t, Config{From: "2026-11"}, Deps{Runner: runner, Ledger: ledger})
		synctest.Wait()
		ledger.mu.Lock()
		ledger.beginErr = errors.New("database is locked")
		ledger.mu.Unlock()
		sleepUntilUTC(utc("2026-11-11T03:00:00Z"))
		if h := st.s.Health(); h.Status != "failing" || h.LastTick.Failed != 1 || runner.count() != 1 {
			t.Errorf("with the ledger down: %+v %+v, %d runs", h, h.LastTick, runner.count())
		}
		if v := value(t, st.s.m.ledgerErrors); v != 1 {
			t.Errorf("ledger errors %v", v)
		}
		ledger.mu.Lock()
		ledger.beginErr = nil
		ledger.busy[RunID{Scope: Scope{per(2026, 11), "", Provisional}, AsOf: utc("2026-11-12T02:00:00Z")}.String()] = true
		ledger.mu.Unlock()
		sleepUntilUTC(utc("2026-11-12T03:00:00Z"))
		if v := value(t, st.s.m.skipped.WithLabelValues("provisional", "busy")); v != 1 || runner.count() != 1 {
			t.Errorf("busy: skipped %v, %d runs", v, runner.count())
		}
		sleepUntilUTC(utc("2026-11-13T03:00:00Z"))
		if h := st.s.Health(); h.Status != "ok" || runner.count() != 2 {
			t.Errorf("recovered: %s, %d runs", h.Status, runner.count())
		}
		st.stop(t)
	})
}

func TestPulls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ledger := newFakeLedger()
		runner := &fakeRunner{}
		var mu sync.Mutex
		var log []string
		pull := func(ctx context.Context, partner string) error {
			mu.Lock()
			defer mu.Unlock()
			log = append(log, partner+" "+time.Now().UTC().Format("01-02T15:04"))
			switch partner {
			case "DE-XYZ":
				return errors.New("502 Bad Gateway")
			case "FR-QQQ":
				panic("puller bug")
			}
			return nil
		}
		runner.hook = func(ctx context.Context, job Job) error {
			mu.Lock()
			defer mu.Unlock()
			log = append(log, "run "+job.Scope.String())
			return nil
		}
		sleepUntilUTC(utc("2026-11-10T12:00:00Z"))
		st := start(t, Config{From: "2026-11", Partners: []string{"NL-ABC", "DE-XYZ", "FR-QQQ", "BE-AAA"},
			Pull: []string{"NL-ABC", "DE-XYZ", "FR-QQQ"}}, Deps{Runner: runner, Ledger: ledger, Pull: pull})
		synctest.Wait()
		if _, err := st.s.Trigger(context.Background(), Request{Period: per(2026, 10), Partner: "NL-ABC", Kind: Final}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.s.Trigger(context.Background(), Request{Period: per(2026, 10), Partner: "BE-AAA", Kind: Final}); err != nil {
			t.Fatal(err)
		}
		want := []string{"NL-ABC 11-10T12:00", "DE-XYZ 11-10T12:00", "FR-QQQ 11-10T12:00",
			"run 2026-11 NL-ABC provisional", "run 2026-11 DE-XYZ provisional", "run 2026-11 FR-QQQ provisional", "run 2026-11 BE-AAA provisional",
			"NL-ABC 11-10T12:00", "run 2026-10 NL-ABC final", // a manual run pulls its partner if it is pulled
			"run 2026-10 BE-AAA final"}
		if !slices.Equal(log, want) {
			t.Errorf("pulls and runs:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
		}
		if v := value(t, st.s.m.pulls.WithLabelValues("failed")); v != 2 {
			t.Errorf("failed pulls %v", v)
		}
		if h := st.s.Health(); h.LastTick.PullsFailed != 2 || h.Status != "failing" {
			t.Errorf("health %+v", h.LastTick)
		}
		st.stop(t)
	})
}

func TestTriggerRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sleepUntilUTC(utc("2026-11-10T12:00:00Z"))
		runner := &fakeRunner{}
		berlin := mustLoad(t, "Europe/Berlin")
		s, _ := New(Config{}, Deps{Runner: runner, Ledger: newFakeLedger(),
			PeriodZone: func(p string) *time.Location {
				if p == "DE-XYZ" {
					return berlin
				}
				return nil
			}})
		for _, c := range []struct {
			req  Request
			want string
		}{
			{Request{Period: per(2026, 11), Kind: Final}, "cannot be finalised before the period ends (2026-12-01T00:00:00Z)"},
			{Request{Period: per(2026, 11), Partner: "DE-XYZ", Kind: Final}, "(2026-12-01T00:00:00+01:00)"},
			{Request{Period: per(2026, 10), Partner: "NLABCD", Kind: Final}, `partner "NLABCD"`},
			{Request{Period: per(2026, 10), Kind: "draft"}, `kind "draft"`},
			{Request{Kind: Final}, "no period"},
		} {
			if _, err := s.Trigger(context.Background(), c.req); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%+v: %v, want %q", c.req, err, c.want)
			}
		}
		if runner.count() != 0 {
			t.Errorf("%d runs", runner.count())
		}
	})
}

func TestMetricsRegisterAndHealthEncodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sleepUntilUTC(utc("2026-11-10T12:00:00Z"))
		st := start(t, Config{From: "2026-11", Zone: "Europe/Berlin", Cron: "30 2 * * *"}, Deps{Runner: &fakeRunner{}, Ledger: newFakeLedger()})
		synctest.Wait()
		reg := prometheus.NewRegistry()
		if err := reg.Register(prometheus.NewGoCollector()); err != nil {
			t.Fatal(err)
		}
		for _, c := range st.s.Collectors() {
			if err := reg.Register(c); err != nil {
				t.Fatal(err)
			}
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "roamsettle_") {
				names = append(names, mf.GetName())
			}
		}
		want := []string{"roamsettle_schedule_catchup_runs_total", "roamsettle_schedule_last_run_success",
			"roamsettle_schedule_last_run_timestamp_seconds", "roamsettle_schedule_last_tick_timestamp_seconds",
			"roamsettle_schedule_ledger_errors_total", "roamsettle_schedule_next_tick_timestamp_seconds",
			"roamsettle_schedule_pulls_total", "roamsettle_schedule_running", "roamsettle_schedule_runs_total",
			"roamsettle_schedule_skipped_total"}
		if !slices.Equal(names, want) {
			t.Errorf("metrics %v", names)
		}
		if v := value(t, st.s.m.nextTick); v != float64(utc("2026-11-11T01:30:00Z").Unix()) {
			t.Errorf("next tick %v", v)
		}
		b, _ := json.Marshal(st.s.Health())
		wantJSON := `{"status":"ok","cron":"30 2 * * *","zone":"Europe/Berlin","grace":"5d","next_due":"2026-11-11T01:30:00Z",` +
			`"last_tick":{"slot":"2026-11-10T01:30:00Z","origin":"catch-up","started":"2026-11-10T12:00:00Z",` +
			`"ended":"2026-11-10T12:00:00Z","runs":1,"failed":0,"pulls_failed":0}}`
		if string(b) != wantJSON {
			t.Errorf("health JSON\n%s\nwant\n%s", b, wantJSON)
		}
		st.stop(t)
	})
}
