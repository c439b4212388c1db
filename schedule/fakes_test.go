package schedule

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// fakeLedger keeps run records under the RunID as a unique key, as the
// store will, and refuses protocol mistakes (a Finish without a claim, a
// second Finish).
type fakeLedger struct {
	mu       sync.Mutex
	recs     map[string]*fakeRecord
	order    []string // keys in first-Begin order
	begins   int
	claims   int
	finishes int
	errs     []string // protocol violations seen
	beginErr error
	busy     map[string]bool // identities another process holds
}

type fakeRecord struct {
	job      Job
	status   Status // "running" while claimed
	outcomes []Outcome
}

func newFakeLedger() *fakeLedger {
	return &fakeLedger{recs: map[string]*fakeRecord{}, busy: map[string]bool{}}
}

func (l *fakeLedger) Begin(ctx context.Context, job Job, started time.Time) (Claim, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.begins++
	if l.beginErr != nil {
		return 0, l.beginErr
	}
	k := job.RunID.String()
	if l.busy[k] {
		return Busy, nil
	}
	r, ok := l.recs[k]
	switch {
	case !ok:
		r = &fakeRecord{job: job}
		l.recs[k] = r
		l.order = append(l.order, k)
	case r.status == Succeeded:
		return Done, nil
	case r.status == "running":
		return Busy, nil
	}
	r.status = "running"
	l.claims++
	return Claimed, nil
}

func (l *fakeLedger) Finish(ctx context.Context, id RunID, out Outcome) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.finishes++
	r, ok := l.recs[id.String()]
	if !ok || r.status != "running" {
		l.errs = append(l.errs, fmt.Sprintf("Finish %s without a claim", id))
		return fmt.Errorf("not claimed")
	}
	if ctx.Err() != nil {
		l.errs = append(l.errs, fmt.Sprintf("Finish %s with a dead context", id))
	}
	r.status = out.Status
	r.outcomes = append(r.outcomes, out)
	return nil
}

func (l *fakeLedger) Earliest(ctx context.Context, partner string) (Period, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var p Period
	for _, r := range l.recs {
		if r.job.Partner != partner || r.job.Origin == OriginManual {
			continue
		}
		if p.IsZero() || r.job.Period.Before(p) {
			p = r.job.Period
		}
	}
	return p, !p.IsZero(), nil
}

// record returns a copy of the record of id (nil if none).
func (l *fakeLedger) record(id RunID) *fakeRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.recs[id.String()]
	if !ok {
		return nil
	}
	c := *r
	c.outcomes = slices.Clone(r.outcomes)
	return &c
}

// finals lists the periods finalised (succeeded) for a partner, in order.
func (l *fakeLedger) finals(partner string) []Period {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ps []Period
	for _, r := range l.recs {
		if r.job.Partner == partner && r.job.Kind == Final && r.status == Succeeded {
			ps = append(ps, r.job.Period)
		}
	}
	slices.SortFunc(ps, func(a, b Period) int {
		if a.Before(b) {
			return -1
		}
		if b.Before(a) {
			return 1
		}
		return 0
	})
	return ps
}

func (l *fakeLedger) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.errs {
		t.Error("ledger:", e)
	}
	for k, r := range l.recs {
		if r.status == "running" {
			t.Errorf("ledger: %s left running", k)
		}
	}
}

// fakeRunner records each job with the (fake) time it started, takes dur of
// fake time unless hook decides otherwise, and stops early when ctx ends.
type fakeRunner struct {
	mu    sync.Mutex
	calls []runnerCall
	dur   time.Duration
	hook  func(ctx context.Context, job Job) error // nil: just take dur
}

type runnerCall struct {
	job Job
	at  time.Time
}

func (r *fakeRunner) Settle(ctx context.Context, job Job) error {
	r.mu.Lock()
	r.calls = append(r.calls, runnerCall{job, time.Now()})
	hook := r.hook
	r.mu.Unlock()
	if hook != nil {
		return hook(ctx, job)
	}
	if r.dur > 0 {
		select {
		case <-time.After(r.dur):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (r *fakeRunner) callsOf(partner string, kind Kind) []runnerCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runnerCall
	for _, c := range r.calls {
		if c.job.Partner == partner && c.job.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

func (r *fakeRunner) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// fakePuller records pulls.
type fakePuller struct {
	mu    sync.Mutex
	pulls []runnerCall // job.Partner and time
	err   error
}

func (p *fakePuller) Pull(ctx context.Context, partner string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pulls = append(p.pulls, runnerCall{Job{RunID: RunID{Scope: Scope{Partner: partner}}}, time.Now()})
	return p.err
}

func (p *fakePuller) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pulls)
}

// started runs a scheduler until stop is called; stop waits for Run to
// return and reports whether it returned nil.
type started struct {
	s      *Scheduler
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg Config, d Deps) *started {
	t.Helper()
	s, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &started{s: s, cancel: cancel, done: make(chan error, 1)}
	go func() { st.done <- s.Run(ctx) }()
	return st
}

func (st *started) stop(t *testing.T) {
	t.Helper()
	st.cancel()
	if err := <-st.done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// sleepUntilUTC advances the bubble's clock to t.
func sleepUntilUTC(t time.Time) { time.Sleep(time.Until(t)) }

func per(y int, m time.Month) Period { return Period{y, m} }

// value reads a counter or a gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	if pb.Counter != nil {
		return pb.Counter.GetValue()
	}
	return pb.Gauge.GetValue()
}
