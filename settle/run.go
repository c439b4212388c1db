package settle

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/pricing"
	"github.com/roamsettle/roamsettle/reconcile"
)

// Policy is how one partner's CDRs are settled.
type Policy struct {
	// Pricing is the partner's pricing policy (the zero value:
	// pricing.DefaultPolicy). Its rounding level must be total or line: the
	// priced rows hold totals at the currency's minor units.
	Pricing pricing.Policy
	// Zone is the zone the partner's settlement periods are read in (nil:
	// UTC): a period is the CDRs whose end falls between midnights there.
	Zone *time.Location
}

// Options are a run's inputs besides its Source and Sink.
type Options struct {
	Run Run
	// Policies by owner; an owner without one gets the default.
	Policies map[Party]Policy
	// Workers is the number of pricing goroutines (0: one per core).
	Workers int
	// Lines writes one priced line per priced dimension of each period.
	Lines bool
	// BatchCDRs is how many CDRs the kernel prices at once (0: 32768).
	BatchCDRs int
	// Steps run after pricing, in order, inside the run's transaction.
	Steps []Step
	// Progress, when set, is told when each phase of the run ends.
	Progress func(Phase)
	// Inputs is the whole job's inputs digest (JobInputs.Digest), recorded
	// with the priced rows so that a later run of the same inputs can use
	// them instead of pricing again ("": none).
	Inputs string

	// perCDRContexts resolves every CDR's context from its own strings, as
	// for a hash two contexts share (tests).
	perCDRContexts bool
}

// Step is a stage of a run after pricing (reconcile, invoices, reports):
// it sees what pricing produced and writes its own results through the
// run's writer, in the same transaction, so a run is all or nothing.
type Step interface {
	// Name names the step in the run's phases and errors.
	Name() string
	// Run does the step. An error rolls the whole run back.
	Run(ctx context.Context, r *Running) error
}

// Running is what a step sees of the run in progress.
type Running struct {
	Run       Run
	Selection *Selection
	Source    Source
	// Writer is the run's open transaction: a step asserts the interface
	// of the writes it needs on it.
	Writer RunWriter
	// Summary is what pricing did (complete when steps run).
	Summary *Summary
}

// Phase is a stage of the run: how long it took, the process's CPU time
// in it (all threads, DuckDB's included: on a shared machine a steadier
// measure than the wall clock) and the process's peak memory when it ended
// (both from ProcessStats, when the process sets it).
type Phase struct {
	Name    string
	Elapsed time.Duration
	CPU     time.Duration
	PeakRSS int64
}

// Summary is what a run did.
type Summary struct {
	Run       Run
	Selection Selection
	CDRs      int64
	Periods   int64
	Kernel    int64
	Reference int64
	// NotPriceable and ReferenceWhy count the reason codes of the CDRs
	// not priced and of those the reference priced.
	NotPriceable map[string]int64
	ReferenceWhy map[string]int64
	// ZonesUnresolved counts priced CDRs priced in UTC for want of a zone;
	// ZoneSources counts priced CDRs by where their zone came from.
	ZonesUnresolved int64
	ZoneSources     map[string]int64
	// Outcomes counts the billed-versus-computed outcome of every CDR's
	// total_cost; Differences sums the different ones per currency.
	Outcomes    [4]int64 // by reconcile.Outcome
	Differences []CurrencyDifference
	// EmbeddedPriced counts the CDRs also priced with their embedded
	// tariff, EmbeddedNeq those whose two prices differ.
	EmbeddedPriced, EmbeddedNeq int64
	Lines                       int64
	Started                     time.Time
	Elapsed                     time.Duration
	Phases                      []Phase
}

// Count is the number of CDRs whose total_cost comparison had outcome o.
func (s *Summary) Count(o reconcile.Outcome) int64 {
	if int(o) < len(s.Outcomes) {
		return s.Outcomes[o]
	}
	return 0
}

// CurrencyDifference sums, for one currency, the priced CDRs whose
// recomputed total_cost differs from the billed one (excl. or incl. VAT).
// Amounts in different currencies are never added.
type CurrencyDifference struct {
	Currency string
	CDRs     int64
	// Sum and AbsSum are Σ (computed − billed) and Σ |computed − billed| of
	// total_cost excl. VAT, at the currency's minor units.
	Sum, AbsSum decimal.Decimal
}

// currencySums accumulates CurrencyDifference in millionths.
type currencySums struct {
	cdrs, sum, abs int64
}

func (s *Summary) phase(name string, since *time.Time, cpu *time.Duration, progress func(Phase)) {
	now := time.Now()
	p := Phase{Name: name, Elapsed: now.Sub(*since)}
	if ProcessStats != nil {
		c, peak := ProcessStats()
		p.CPU, p.PeakRSS = c-*cpu, peak
		*cpu = c
	}
	s.Phases = append(s.Phases, p)
	if progress != nil {
		progress(p)
	}
	*since = now
}

// ProcessStats, when set by the process, reports its CPU time so far and
// its peak memory for the phases (the domain does not read /proc itself).
var ProcessStats func() (cpu time.Duration, peakRSS int64)

// Execute runs one settlement run: it selects the scope's CDRs by the
// period rule, prices each against the tariff version in effect (the
// kernel over Arrow batches; the decimal reference for the CDRs the kernel
// cannot take), compares each with what was billed, writes the priced rows
// through the sink, runs the steps, and commits. The same inputs always
// give the same rows.
func Execute(ctx context.Context, src Source, sink Sink, opts Options) (*Summary, error) {
	run := opts.Run
	if run.Kind == "" {
		run.Kind = KindReprice
		opts.Run = run
	}
	id := run.ID()
	if run.Scope.Period.IsZero() {
		return nil, &Error{Op: "run", Kind: ErrInvalid, Object: id, Err: fmt.Errorf("no period")}
	}
	for p, pol := range opts.Policies {
		if err := checkPolicy(pol.Pricing); err != nil {
			return nil, &Error{Op: "run", Kind: ErrInvalid, Object: id + " policy of " + p.String(), Err: err}
		}
	}
	if opts.BatchCDRs <= 0 {
		opts.BatchCDRs = 32768
	}
	zones := map[Party]*time.Location{}
	for p, pol := range opts.Policies {
		zones[p] = pol.Zone
	}
	sum := &Summary{Run: run, Selection: run.Scope.Selection(zones), Started: time.Now(),
		NotPriceable: map[string]int64{}, ReferenceWhy: map[string]int64{}, ZoneSources: map[string]int64{}}
	r := newRunner(ctx, src, opts, sum)
	if err := r.execute(sink); err != nil {
		return nil, err
	}
	return sum, nil
}

// checkPolicy refuses what the priced rows cannot hold.
func checkPolicy(p pricing.Policy) error {
	if p.Mode == "" {
		return nil
	}
	if p.Level == pricing.RoundNone {
		return fmt.Errorf("rounding level %q: want total or line", p.Level)
	}
	return p.Validate()
}

func (r *runner) execute(sink Sink) error {
	sum, id := r.sum, r.opts.Run.ID()
	started := sum.Started
	mark := started
	var cpu time.Duration
	if ProcessStats != nil {
		cpu, _ = ProcessStats()
	}
	phase := func(name string) { sum.phase(name, &mark, &cpu, r.opts.Progress) }
	if err := r.loadTariffs(); err != nil {
		return err
	}
	minKey, maxKey, n, err := r.src.ScopeKeys(r.ctx, r.sel)
	if err != nil {
		return wrap("scope keys", ErrRead, id, err)
	}
	sum.CDRs = n
	w, err := sink.BeginRun(r.ctx, r.opts.Run)
	if err != nil {
		return wrap("begin", ErrWrite, id, err)
	}
	r.startWriter(w)
	committed := false
	defer func() {
		r.stopWriter()
		if !committed {
			w.Rollback()
		}
	}()
	phase("begin")
	if n > 0 {
		if err := r.prepareHeaders(minKey, maxKey, n); err != nil {
			return err
		}
		phase("locations")
		if err := r.loadHeaders(maxKey); err != nil {
			return err
		}
		if r.keys != nil && int64(len(r.keys)) != n {
			// A sparse scope's arrays hold its CDRs' entries only.
			r.state, r.flags, r.start, r.billedX, r.billedI = r.state[:len(r.keys)], r.flags[:len(r.keys)], r.start[:len(r.keys)], r.billedX[:len(r.keys)], r.billedI[:len(r.keys)]
			r.owner, r.fallback, r.zone, r.emb, r.currency = r.owner[:len(r.keys)], r.fallback[:len(r.keys)], r.zone[:len(r.keys)], r.emb[:len(r.keys)], r.currency[:len(r.keys)]
		}
		if err := r.loadEmbedded(); err != nil {
			return err
		}
		phase("headers, embedded")
		if err := r.scan(maxKey); err != nil {
			return err
		}
		phase("periods and kernel")
		for i, s := range r.state {
			if s == hPending {
				r.toReference(r.keyOf(i), RefNoPeriods)
			}
		}
		if err := r.priceReference(); err != nil {
			return err
		}
		phase("reference")
		if err := r.flush(); err != nil {
			return err
		}
	}
	if err := r.stopWriter(); err != nil {
		return err
	}
	phase("last writes")
	if err := r.writeDictionaries(w); err != nil {
		return err
	}
	r.sumDifferences()
	for _, st := range r.opts.Steps {
		if err := st.Run(r.ctx, &Running{Run: r.opts.Run, Selection: r.sel, Source: r.src, Writer: w, Summary: sum}); err != nil {
			return wrap("step "+st.Name(), ErrStep, id, err)
		}
		phase(st.Name())
	}
	if err := w.Commit(r.ctx, RunRecord{Run: r.opts.Run, Started: started, Finished: time.Now(), CDRs: n, Inputs: r.opts.Inputs}); err != nil {
		return wrap("commit", ErrWrite, id, err)
	}
	committed = true
	phase("commit")
	sum.Elapsed = time.Since(started)
	return nil
}

func (r *runner) writeDictionaries(w RunWriter) error {
	id := r.opts.Run.ID()
	if err := w.WriteTariffs(r.ctx, r.tariffs); err != nil {
		return wrap("write tariffs", ErrWrite, id, err)
	}
	zones := make([]PricedZone, len(r.zones))
	for i, z := range r.zones {
		zones[i] = z.PricedZone
	}
	if err := w.WriteZones(r.ctx, zones); err != nil {
		return wrap("write zones", ErrWrite, id, err)
	}
	if err := w.WriteReasons(r.ctx, r.reasons); err != nil {
		return wrap("write reasons", ErrWrite, id, err)
	}
	return wrap("write messages", ErrWrite, id, w.WriteMessages(r.ctx, r.messages))
}

// sumDifferences turns the per-currency sums into the summary's.
func (r *runner) sumDifferences() {
	for ci, c := range r.currSums {
		if c.cdrs == 0 {
			continue
		}
		r.sum.Differences = append(r.sum.Differences, CurrencyDifference{Currency: r.currencies[ci], CDRs: c.cdrs,
			Sum: reconcile.FromMicro(c.sum), AbsSum: reconcile.FromMicro(c.abs)})
	}
	sort.Slice(r.sum.Differences, func(a, b int) bool { return r.sum.Differences[a].Currency < r.sum.Differences[b].Currency })
}
