package settle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/reconcile"
)

// The whole job (`roamsettle run`, the nightly schedule, `demo`): pull,
// price, then per partner reconcile, invoice and report, into
// OUT/<period>/<partner>/, recorded in the run ledger. See doc.go, "The
// whole job".

// JobKind is what a run of the whole job does with its period.
type JobKind string

const (
	// JobProvisional settles a period so far: priced, reconciled,
	// statements and reports, no invoice numbers. Any number of times.
	JobProvisional JobKind = "provisional"
	// JobFinal settles a period once per partner scope: numbered invoices.
	JobFinal JobKind = "final"
	// JobCorrection settles a finalised period again after its inputs
	// changed (late CDRs, a dispute settled): credit notes and new invoices
	// for what changed, never an edit.
	JobCorrection JobKind = "correction"
)

// JobKey is a run's identity: a unique key of the ledger. AsOf is zero for
// a final (once per scope) and the instant the run settles as of for the
// others.
type JobKey struct {
	Period  string // "YYYY-MM" (or a range of days, Period.String)
	Partner string // "CC-PID"; "" for every partner
	Kind    JobKind
	AsOf    time.Time
}

func (k JobKey) String() string {
	p := k.Partner
	if p == "" {
		p = "all"
	}
	s := k.Period + " " + p + " " + string(k.Kind)
	if !k.AsOf.IsZero() {
		s += " as of " + k.AsOf.UTC().Format(time.RFC3339)
	}
	return s
}

// Claim is the ledger's answer to a claim.
type Claim int

const (
	Claimed Claim = iota // recorded as running: this attempt does it
	Done                 // a run with this identity succeeded
	Busy                 // a run with this identity is running
)

// Run statuses as the ledger records them.
const (
	StatusRunning     = "running"
	StatusSucceeded   = "succeeded"
	StatusFailed      = "failed"
	StatusCanceled    = "canceled"
	StatusInterrupted = "interrupted"
)

// LedgerRun is a run as the ledger holds it.
type LedgerRun struct {
	No      int64
	Key     JobKey
	Status  string
	Inputs  []byte // the JSON SetInputs stored (JobInputs)
	Steps   []string
	Outputs []FileOutput
}

// JobLedger records runs under their identity (the store's run ledger).
type JobLedger interface {
	// Claim claims key for a new attempt: Claimed with the run's number,
	// or Done or Busy with the number of the run that holds it.
	Claim(ctx context.Context, key JobKey, origin string, started time.Time) (Claim, int64, error)
	// Lookup is the run with this identity (its steps and outputs).
	Lookup(ctx context.Context, key JobKey) (LedgerRun, error)
	// Runs lists the runs of a period and partner scope of the kinds given,
	// the most recently started first, without outputs.
	Runs(ctx context.Context, period, partner string, kinds ...JobKind) ([]LedgerRun, error)
	// SetInputs records what the running run settles; reset forgets the
	// steps an earlier attempt recorded (it settled other inputs).
	SetInputs(ctx context.Context, no int64, inputs, policy []byte, reset bool) error
	// RecordStep records what a step did and the files it wrote.
	RecordStep(ctx context.Context, no int64, rec StepRecord) error
	// Finish records how the running attempt ended.
	Finish(ctx context.Context, key JobKey, status, why string) error
}

// StepRecord is what one step did, as the ledger records it.
type StepRecord struct {
	Name           string
	Started, Ended time.Time
	Counts         map[string]int64
	Amounts        []StepAmount
	Outputs        []FileOutput
}

// StepAmount is a sum in one currency (never added across currencies).
type StepAmount struct {
	Name     string
	Currency string
	Amount   decimal.Decimal
}

// FileOutput is a file a run wrote: its path as the Files named it, size
// and SHA-256.
type FileOutput struct {
	Path   string
	Bytes  int64
	SHA256 [32]byte
	// Unchanged: the file already held these bytes and was not rewritten.
	Unchanged bool
}

// Files is where a run's documents go. Write renders one file (rel is
// slash-separated, under the output root) and puts it in place atomically
// (a crash never leaves part of a file under its name), unless the file
// already holds the same bytes; Intact reports whether a file written
// before still has its recorded size and hash; Existing gives the file rel
// as it is, when there is one (an issued document's renderings are written
// once). Write and Existing are called from several goroutines at once,
// for different names (a document's formats render together).
type Files interface {
	Write(rel string, render func(io.Writer) error) (FileOutput, error)
	Intact(out FileOutput) bool
	Existing(rel string) (FileOutput, bool)
}

// PartnerStep is a stage of the job done for one partner after pricing
// (reconcile, invoice, report). Its database writes are its own
// transaction (or none), and its files are rendered from what is stored
// after that commit, so that doing it again gives the same bytes.
type PartnerStep interface {
	Name() string
	Run(ctx context.Context, p *PartnerRun) (*StepReport, error)
}

// PartnerPrepass is a PartnerStep that does part of its work for every
// partner at once, before the partners' steps: reconcile screens every
// partner's CDRs in one pass over the period instead of one pass per
// partner. Before is given the runs of the partners whose step has not
// ended (two or more) and keeps what it did in their Kept; what it keeps
// must not change what the step does, only how fast.
type PartnerPrepass interface {
	PartnerStep
	Before(ctx context.Context, runs []*PartnerRun) error
}

// PartnerRun is what a PartnerStep sees: one partner's part of the run.
type PartnerRun struct {
	Key       JobKey
	Kind      JobKind
	Period    Period
	Party     Party
	Selection Selection // the partner's own selection
	Policy    Policy
	// AsOf is the instant the run settles as of: disputes are raised at it
	// and documents dated by it (never the clock, so that an attempt after
	// a crash gives the same bytes).
	AsOf time.Time
	// Priced is the job's price run, whose stored rows the steps read.
	Priced Run
	// Files writes under <period>/<CC-PID>/ of the output root; Root at
	// the output root itself (the Parquet exports' hive layout,
	// parquet/TABLE/partner=CC-PID/period=PERIOD/).
	Files Files
	Root  Files
	Log   *slog.Logger
	// Kept is what PartnerPrepass steps kept for this partner, by step
	// name: set by Before, read by the step's Run. It lives as long as the
	// run, whatever runs the same steps before or beside it.
	Kept map[string]any
}

// StepReport is what a step reports for the ledger and the summary.
type StepReport struct {
	Counts  map[string]int64
	Amounts []StepAmount
	Files   []FileOutput
	// Note is a line for the summary (e.g. why nothing was invoiced).
	Note string
}

// ScopeReader is what the job reads of a scope besides pricing's Source.
type ScopeReader interface {
	// ScopeOwners lists the owners with CDRs in the selection, ordered.
	ScopeOwners(ctx context.Context, sel *Selection) ([]Party, error)
	// ScopeInputs describes everything stored that a run of the selection
	// reads, as parts (CDRs, tariff versions, ...), each with a row count and
	// an order-independent hash of the rows' identities and contents.
	ScopeInputs(ctx context.Context, sel *Selection) ([]InputPart, error)
	// PricedInputs is the inputs digest recorded with the run's stored
	// priced rows (RunRecord.Inputs): "" when there are none, or when they
	// were written outside the job.
	PricedInputs(ctx context.Context, run Run) (string, error)
}

// InputPart is one kind of stored input of a scope.
type InputPart struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
	Hash string `json:"hash"`
}

// JobDeps is what cmd wires into a job.
type JobDeps struct {
	Source Source
	Sink   Sink
	Scope  ScopeReader
	Ledger JobLedger
	Files  Files
	// Pull fetches what a partner has for us (nil: no pulls); Pulls are the
	// partners configured for pull. A failed pull is reported and the run
	// goes on with what is stored (late CDRs lead to corrections).
	Pull  func(ctx context.Context, p Party) error
	Pulls []Party
	// Policies by owner, as for Execute.
	Policies map[Party]Policy
	// Policy is everything besides the stored inputs that shapes what a run
	// writes (the configuration's settlement keys, the engine's version, the
	// output folder), as JSON: part of the inputs digest.
	Policy []byte
	// InRun are steps inside pricing's transaction; Steps run per partner
	// after it, in order.
	InRun   []Step
	Steps   []PartnerStep
	Workers int
	// Started is told when a claimed run starts its steps (its key, number
	// and inputs are set); Progress when a step ends (nil: nothing).
	Started  func(*JobResult)
	Progress func(StepEvent)
	Log      *slog.Logger
}

// StepEvent is a step that ended (or was skipped).
type StepEvent struct {
	Name    string
	Party   Party // zero for price
	Report  *StepReport
	Price   *Summary // for price
	Elapsed time.Duration
	// Skipped: an earlier attempt of this run did it on the same inputs.
	Skipped bool
	// Reused (price): the stored priced rows were priced by an earlier run
	// from the same inputs (a final run after the provisional one), so the
	// period was not priced again.
	Reused bool
}

// JobRequest asks for a run of the whole job.
type JobRequest struct {
	Scope Scope
	// Final asks for numbered invoices: the final run of the period, or a
	// correction after it when the inputs changed.
	Final bool
	// AsOf is the instant the run settles as of (zero: now, or for a run
	// resumed, the instant its first attempt chose).
	AsOf   time.Time
	Origin string // manual, scheduled, catch-up, demo...
	// Now is the clock (nil: time.Now), for tests.
	Now func() time.Time
}

// JobResult is what a job did.
type JobResult struct {
	Key JobKey
	No  int64
	// Unchanged: the inputs are those of run Same, whose outputs are in
	// place; nothing was done.
	Unchanged bool
	Same      int64
	Resumed   bool // a run interrupted before was taken up again
	Inputs    JobInputs
	Price     *Summary
	Steps     []StepEvent
	Files     []FileOutput
	Owners    []Party
	// PullsFailed lists the partners whose pull failed.
	PullsFailed []string
	Elapsed     time.Duration
}

// JobInputs is what a run settles, recorded as its inputs: the digest says
// whether two runs had the same inputs.
type JobInputs struct {
	Digest string      `json:"digest"`
	AsOf   time.Time   `json:"as_of"`
	Parts  []InputPart `json:"parts"`
}

// ErrBusy: a run of the same identity is going in another process.
var ErrBusy = errors.New("a run of this scope is going")

// jobMu serialises the jobs of a process (the run command handed to serve,
// the schedule's runs): one writer owns the database anyway, and two jobs of
// overlapping scopes would write the same output folder.
var jobMu sync.Mutex

// RunJob runs the whole job for req: pulls, decides the run's identity from
// the ledger (a new run, the run interrupted before taken up again, or
// nothing when the inputs are those of the last run and its files are in
// place), then price and the partner steps, each recorded when done.
func RunJob(ctx context.Context, d *JobDeps, req JobRequest) (*JobResult, error) {
	jobMu.Lock()
	defer jobMu.Unlock()
	now := time.Now
	if req.Now != nil {
		now = req.Now
	}
	start := now()
	sc := req.Scope
	if sc.Period.IsZero() {
		return nil, &Error{Op: "run", Kind: ErrInvalid, Err: errors.New("no period")}
	}
	partner := ""
	if !sc.Partner.IsZero() {
		partner = sc.Partner.String()
	}
	period := sc.Period.String()
	if req.Final {
		if end := d.periodEnd(sc); end.After(start) {
			return nil, &Error{Op: "run", Kind: ErrInvalid, Object: period,
				Err: fmt.Errorf("a period cannot be finalised before it ends (%s)", end.Format(time.RFC3339))}
		}
	}
	res := &JobResult{}
	res.PullsFailed = d.pull(ctx, sc)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sel := d.selection(sc)
	in, err := d.inputs(ctx, &sel)
	if err != nil {
		return nil, err
	}
	runs, err := d.Ledger.Runs(ctx, period, partner, JobProvisional, JobFinal, JobCorrection)
	if err != nil {
		return nil, wrap("ledger", ErrRead, period, err)
	}
	asOf := req.AsOf.UTC().Truncate(time.Second)
	if asOf.IsZero() {
		asOf = start.UTC().Truncate(time.Second)
	}
	key := JobKey{Period: period, Partner: partner}
	final := latest(runs, StatusSucceeded, JobFinal)
	switch {
	case req.Final && final == nil:
		key.Kind = JobFinal
		if r := latest(runs, "", JobFinal); r != nil && resumable(r.Status) {
			res.Resumed = true
		}
	case req.Final:
		if last := latest(runs, StatusSucceeded, JobFinal, JobCorrection); d.same(ctx, last, in) {
			return d.unchanged(res, last, in)
		}
		key.Kind, key.AsOf = JobCorrection, asOf
		if r := latest(runs, "", JobCorrection); r != nil && resumable(r.Status) && req.AsOf.IsZero() {
			key.AsOf, res.Resumed = r.Key.AsOf, true
		}
	case final != nil:
		return nil, &Error{Op: "run", Kind: ErrInvalid, Object: final.Key.String(),
			Err: fmt.Errorf("the period is final (run %d): run it with --final to issue corrections for what changed since", final.No)}
	default:
		key.Kind, key.AsOf = JobProvisional, asOf
		if r := latest(runs, "", JobProvisional); r != nil && resumable(r.Status) && (req.AsOf.IsZero() || r.Key.AsOf.Equal(asOf)) {
			key.AsOf, res.Resumed = r.Key.AsOf, true
		} else if last := latest(runs, StatusSucceeded, JobProvisional); d.same(ctx, last, in) {
			return d.unchanged(res, last, in)
		}
	}
	claim, no, err := d.Ledger.Claim(ctx, key, req.Origin, start)
	if err != nil {
		return nil, wrap("ledger claim", ErrWrite, key.String(), err)
	}
	switch claim {
	case Done:
		r, err := d.Ledger.Lookup(ctx, key)
		if err != nil {
			return nil, wrap("ledger", ErrRead, key.String(), err)
		}
		if d.same(ctx, &r, in) {
			return d.unchanged(res, &r, in)
		}
		return nil, &Error{Op: "run", Kind: ErrInvalid, Object: key.String(),
			Err: fmt.Errorf("run %d already settled this identity on other inputs: run again without --as-of", r.No)}
	case Busy:
		return nil, &Error{Op: "run", Kind: ErrInvalid, Object: key.String(), Err: fmt.Errorf("%w (run %d)", ErrBusy, no)}
	}
	if !key.AsOf.IsZero() {
		asOf = key.AsOf
	}
	return d.execute(ctx, res, key, no, in, asOf, start, now)
}

// RunClaimed runs the job for a run the schedule has claimed already
// (schedule.Runner): no pulls (the schedule pulls before its runs), the
// same inputs digest, steps and records; the schedule records how it
// ended. A provisional run whose inputs are those of the last provisional
// run, with its files in place, records that and does nothing else.
func RunClaimed(ctx context.Context, d *JobDeps, sc Scope, key JobKey) (*JobResult, error) {
	jobMu.Lock()
	defer jobMu.Unlock()
	start := time.Now()
	sel := d.selection(sc)
	in, err := d.inputs(ctx, &sel)
	if err != nil {
		return nil, err
	}
	rec, err := d.Ledger.Lookup(ctx, key)
	if err != nil {
		return nil, wrap("ledger", ErrRead, key.String(), err)
	}
	res := &JobResult{Key: key, No: rec.No}
	if key.Kind == JobProvisional {
		runs, err := d.Ledger.Runs(ctx, key.Period, key.Partner, JobProvisional)
		if err != nil {
			return nil, wrap("ledger", ErrRead, key.Period, err)
		}
		if last := latest(runs, StatusSucceeded, JobProvisional); d.same(ctx, last, in) {
			d.unchanged(res, last, in)
			in.AsOf = key.AsOf
			js, err := in.JSON()
			if err != nil {
				return nil, err
			}
			if err := d.Ledger.SetInputs(ctx, rec.No, js, d.Policy, true); err != nil {
				return nil, wrap("ledger inputs", ErrWrite, key.String(), err)
			}
			now := time.Now()
			err = d.Ledger.RecordStep(ctx, rec.No, StepRecord{Name: "unchanged", Started: start, Ended: now,
				Counts: map[string]int64{"same_as_run": last.No}})
			return res, wrap("ledger step", ErrWrite, key.String(), err)
		}
	}
	asOf := key.AsOf
	if asOf.IsZero() {
		asOf = start.UTC().Truncate(time.Second)
	}
	err = d.steps(ctx, res, key, rec.No, in, asOf, time.Now)
	res.Elapsed = time.Since(start)
	return res, err
}

func resumable(status string) bool {
	return status == StatusFailed || status == StatusCanceled || status == StatusInterrupted
}

// latest is the first run (runs are newest first) of one of kinds with the
// status ("" any).
func latest(runs []LedgerRun, status string, kinds ...JobKind) *LedgerRun {
	for i := range runs {
		if status != "" && runs[i].Status != status {
			continue
		}
		for _, k := range kinds {
			if runs[i].Key.Kind == k {
				return &runs[i]
			}
		}
	}
	return nil
}

func (d *JobDeps) selection(sc Scope) Selection {
	zones := map[Party]*time.Location{}
	for p, pol := range d.Policies {
		zones[p] = pol.Zone
	}
	return sc.Selection(zones)
}

// periodEnd is the last instant any owner's window of the scope ends.
func (d *JobDeps) periodEnd(sc Scope) time.Time {
	sel := d.selection(sc)
	return sel.Span().To
}

func (d *JobDeps) pull(ctx context.Context, sc Scope) (failed []string) {
	if d.Pull == nil {
		return nil
	}
	for _, p := range d.Pulls {
		if !sc.Partner.IsZero() && p != sc.Partner {
			continue
		}
		if ctx.Err() != nil {
			return failed
		}
		if err := d.Pull(ctx, p); err != nil {
			d.log().Warn("pull failed; the run goes on with what is stored", "partner", p.String(), "err", err)
			failed = append(failed, p.String()+": "+err.Error())
		}
	}
	return failed
}

func (d *JobDeps) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

// same reports whether run r settled the inputs in and its files are in
// place, unchanged.
func (d *JobDeps) same(ctx context.Context, r *LedgerRun, in JobInputs) bool {
	if r == nil {
		return false
	}
	prev, err := ParseJobInputs(r.Inputs)
	if err != nil || prev.Digest != in.Digest {
		return false
	}
	full, err := d.Ledger.Lookup(ctx, r.Key)
	if err != nil {
		return false
	}
	for _, o := range full.Outputs {
		if !d.Files.Intact(o) {
			return false
		}
	}
	r.Outputs = full.Outputs
	return true
}

func (d *JobDeps) unchanged(res *JobResult, r *LedgerRun, in JobInputs) (*JobResult, error) {
	if res.Key == (JobKey{}) {
		res.Key, res.No = r.Key, r.No
	}
	res.Unchanged, res.Same, res.Inputs, res.Files = true, r.No, in, r.Outputs
	return res, nil
}

// execute does the steps of a claimed run and records its outcome.
func (d *JobDeps) execute(ctx context.Context, res *JobResult, key JobKey, no int64, in JobInputs, asOf, start time.Time, now func() time.Time) (*JobResult, error) {
	res.Key, res.No = key, no
	err := d.steps(ctx, res, key, no, in, asOf, now)
	status, why := StatusSucceeded, ""
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		status, why = StatusCanceled, "stopped at a step boundary: "+err.Error()
	default:
		status, why = StatusFailed, err.Error()
	}
	// The outcome is recorded even when the run was stopped.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if ferr := d.Ledger.Finish(fctx, key, status, why); ferr != nil {
		err = errors.Join(err, wrap("ledger finish", ErrWrite, key.String(), ferr))
	}
	res.Elapsed = now().Sub(start)
	if err != nil {
		return res, err
	}
	return res, nil
}

func (d *JobDeps) steps(ctx context.Context, res *JobResult, key JobKey, no int64, in JobInputs, asOf time.Time, now func() time.Time) error {
	prev, err := d.Ledger.Lookup(ctx, key)
	if err != nil {
		return wrap("ledger", ErrRead, key.String(), err)
	}
	done := map[string]bool{}
	old, perr := ParseJobInputs(prev.Inputs)
	if perr == nil && old.Digest == in.Digest {
		if !old.AsOf.IsZero() {
			asOf = old.AsOf // the instant the first attempt settled as of
		}
		intact := map[string]bool{}
		for _, o := range prev.Outputs {
			intact[o.Path] = d.Files.Intact(o)
		}
		for _, s := range prev.Steps {
			done[s] = true
		}
		for _, o := range prev.Outputs {
			if !intact[o.Path] {
				done = map[string]bool{} // a file went missing: redo every step
				break
			}
		}
	}
	in.AsOf = asOf
	res.Inputs = in
	js, err := in.JSON()
	if err != nil {
		return err
	}
	if err := d.Ledger.SetInputs(ctx, no, js, d.Policy, len(done) == 0); err != nil {
		return wrap("ledger inputs", ErrWrite, key.String(), err)
	}
	if d.Started != nil {
		d.Started(res)
	}
	// Steps run to their end once started: a shutdown stops the run at the
	// next step boundary.
	sctx := context.WithoutCancel(ctx)
	period, err := ParsePeriod(key.Period)
	if err != nil {
		return err
	}
	scope := Scope{Period: period}
	if key.Partner != "" {
		cc, pid, ok := cutParty(key.Partner)
		if !ok {
			return &Error{Op: "run", Kind: ErrInvalid, Object: key.Partner, Err: errors.New("not a CC-PID partner")}
		}
		scope.Partner = NewParty(cc, pid)
	}
	priceRun := Run{Kind: KindReprice, Scope: scope}
	switch {
	case done["price"]:
		d.progress(StepEvent{Name: "price", Skipped: true})
	case d.pricedAlready(ctx, priceRun, in.Digest):
		t0 := now()
		rec := StepRecord{Name: "price", Started: t0, Ended: t0, Counts: map[string]int64{"reused": 1, "cdrs": in.Rows("cdrs")}}
		if err := d.Ledger.RecordStep(ctx, no, rec); err != nil {
			return wrap("ledger step", ErrWrite, key.String(), err)
		}
		ev := StepEvent{Name: "price", Reused: true}
		res.Steps = append(res.Steps, ev)
		d.progress(ev)
	default:
		t0 := now()
		d.log().Debug("step start", "step", "price", "run", no)
		sum, err := Execute(sctx, d.Source, d.Sink, Options{Run: priceRun,
			Policies: d.Policies, Workers: d.Workers, Lines: true, Steps: d.InRun, Inputs: in.Digest})
		if err != nil {
			return err
		}
		res.Price = sum
		rec := StepRecord{Name: "price", Started: t0, Ended: now(), Counts: priceCounts(sum)}
		for _, df := range sum.Differences {
			rec.Amounts = append(rec.Amounts, StepAmount{Name: "difference", Currency: df.Currency, Amount: df.Sum})
		}
		if err := d.Ledger.RecordStep(ctx, no, rec); err != nil {
			return wrap("ledger step", ErrWrite, key.String(), err)
		}
		ev := StepEvent{Name: "price", Price: sum, Elapsed: rec.Ended.Sub(t0)}
		res.Steps = append(res.Steps, ev)
		d.progress(ev)
	}
	sel := d.selection(scope)
	owners := []Party{scope.Partner}
	if scope.Partner.IsZero() {
		if owners, err = d.Scope.ScopeOwners(ctx, &sel); err != nil {
			return wrap("scope owners", ErrRead, key.String(), err)
		}
	}
	res.Owners = owners
	runs := make([]*PartnerRun, len(owners))
	for i, p := range owners {
		psel := d.selection(Scope{Period: period, Partner: p})
		runs[i] = &PartnerRun{Key: key, Kind: key.Kind, Period: period, Party: p, Selection: psel, Policy: d.Policies[p],
			Priced: Run{Kind: KindReprice, Scope: scope},
			AsOf:   asOf, Files: prefixFiles{d.Files, period.String() + "/" + p.String() + "/"}, Root: d.Files, Log: d.log()}
	}
	for _, st := range d.Steps {
		pre, ok := st.(PartnerPrepass)
		if !ok {
			continue
		}
		var pending []*PartnerRun
		for _, pr := range runs {
			if !done[st.Name()+" "+pr.Party.String()] {
				pending = append(pending, pr)
			}
		}
		if len(pending) > 1 {
			if err := pre.Before(sctx, pending); err != nil {
				return wrap("step "+st.Name()+" (every partner)", ErrStep, key.String(), err)
			}
		}
	}
	for _, pr := range runs {
		p := pr.Party
		for _, st := range d.Steps {
			name := st.Name() + " " + p.String()
			if err := ctx.Err(); err != nil {
				return err
			}
			if done[name] {
				d.progress(StepEvent{Name: st.Name(), Party: p, Skipped: true})
				continue
			}
			t0 := now()
			d.log().Debug("step start", "step", name, "run", no)
			rep, err := st.Run(sctx, pr)
			if err != nil {
				return wrap("step "+name, ErrStep, key.String(), err)
			}
			rec := StepRecord{Name: name, Started: t0, Ended: now(), Counts: rep.Counts, Amounts: rep.Amounts, Outputs: rep.Files}
			if err := d.Ledger.RecordStep(ctx, no, rec); err != nil {
				return wrap("ledger step", ErrWrite, key.String(), err)
			}
			res.Files = append(res.Files, rep.Files...)
			ev := StepEvent{Name: st.Name(), Party: p, Report: rep, Elapsed: rec.Ended.Sub(t0)}
			res.Steps = append(res.Steps, ev)
			d.progress(ev)
		}
	}
	return ctx.Err()
}

// pricedAlready reports whether the stored priced rows of run were priced
// by the job from the inputs digest: the period need not be priced again
// (steps inside pricing's transaction, when there are any, must run, so it
// is priced then). A failed lookup prices again.
func (d *JobDeps) pricedAlready(ctx context.Context, run Run, digest string) bool {
	if len(d.InRun) > 0 || digest == "" {
		return false
	}
	got, err := d.Scope.PricedInputs(ctx, run)
	if err != nil {
		d.log().Warn("priced inputs unknown; pricing again", "run", run.ID(), "err", err)
		return false
	}
	return got == digest
}

func (d *JobDeps) progress(ev StepEvent) {
	if d.Progress != nil {
		d.Progress(ev)
	}
}

func cutParty(s string) (cc, pid string, ok bool) {
	if len(s) != 6 || s[2] != '-' {
		return "", "", false
	}
	return s[:2], s[3:], true
}

// priceCounts are the price step's counts for the ledger.
func priceCounts(s *Summary) map[string]int64 {
	var np int64
	for _, n := range s.NotPriceable {
		np += n
	}
	return map[string]int64{"cdrs": s.CDRs, "periods": s.Periods, "kernel": s.Kernel, "reference": s.Reference,
		"not_priceable": np, "equal": s.Count(reconcile.Equal), "different": s.Count(reconcile.Different),
		"no_billed": s.Count(reconcile.NoBilled), "not_priced": s.Count(reconcile.NotPriced), "lines": s.Lines}
}

// prefixFiles roots a Files at a folder.
type prefixFiles struct {
	f      Files
	prefix string
}

func (p prefixFiles) Write(rel string, render func(io.Writer) error) (FileOutput, error) {
	return p.f.Write(p.prefix+rel, render)
}

func (p prefixFiles) Intact(o FileOutput) bool { return p.f.Intact(o) }

func (p prefixFiles) Existing(rel string) (FileOutput, bool) { return p.f.Existing(p.prefix + rel) }

// sortParties orders parties by country code and party id.
func sortParties(ps []Party) {
	sort.Slice(ps, func(a, b int) bool {
		return ps[a].CountryCode < ps[b].CountryCode || ps[a].CountryCode == ps[b].CountryCode && ps[a].PartyID < ps[b].PartyID
	})
}
