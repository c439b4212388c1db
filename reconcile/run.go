package reconcile

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

// Input is one partner's period as the store holds it: what Reconcile
// needs, loaded by the caller (cmd wires the store in).
type Input struct {
	Period              Window
	PeriodName, Partner string
	// CDRs are the period's CDRs by the one period rule, credits included,
	// that are evaluated whole; Accepted are the others, which the bulk
	// path's Screen accepted from columns (nil on the per-CDR path).
	CDRs     []*ocpi.CDR
	Accepted []Accepted
	// Chunks, when set, yields more CDRs to evaluate whole, a chunk at a
	// time with their decoder findings (by IdentityKey): each chunk is
	// evaluated and then let go, so memory holds one chunk of CDRs (and the
	// evaluations), whatever the period's size. An error it returns, or
	// one yield returns, ends the reconciliation.
	Chunks func(yield func(cdrs []*ocpi.CDR, problems map[string]ocpi.Problems) error) error
	// LoadNamed, when set and Invoices are given, is called once every
	// CDR is evaluated, to set Named.
	LoadNamed func() error
	// Workers evaluates the CDRs on this many goroutines (0 or 1: one);
	// the report does not depend on it.
	Workers int
	// Compact drops what the report no longer needs of each evaluation once
	// its dispute is raised (the recomputation's periods and lines), so a
	// large period fits in memory; price --db keeps it.
	Compact bool
	// Problems are the decoder's findings by IdentityKey.
	Problems map[string]ocpi.Problems
	// Versions are the owner's published tariff versions by upper-cased
	// id, oldest first.
	Versions map[string][]ocpi.Tariff
	// Blocked says why a version of Versions must not price ("" when it
	// may): it has a finding that blocks pricing (a value missing or
	// unreadable where pricing reads one). A CDR it is in effect for is not
	// priced, and so not verifiable, never priced with what is left of it.
	// nil: every version may price.
	Blocked func(t *ocpi.Tariff) string
	// ConnectorTariffs returns the tariff ids of the CDR's connector in the
	// stored location version at the session start (nil: unknown).
	ConnectorTariffs func(c *ocpi.CDR) []string
	// Zones resolves each CDR's local zone; Policy is the partner's.
	Zones     pricing.ZoneResolver
	Policy    pricing.Policy
	Tolerance Tolerance
	Limits    Limits
	Tokens    *Tokens
	Locations *Locations
	Stored    Stored
	// Invoices, when given, are matched; Named are CDRs outside the period
	// their lines name (by IdentityKey), evaluated for the matching only.
	Invoices     []*Invoice
	InvoiceTotal *decimal.Decimal
	Named        []*ocpi.CDR
	// At and By stamp the disputes raised.
	At time.Time
	By string
	// kernels are the tariffs compiled for the hypotheses (kernel.go).
	kernels kernelCache
}

// Reconcile evaluates every CDR of the period (validation rules, the
// recomputation with the tariff versions in effect, the verdict, and the
// hypotheses for those that differ), matches the invoices and raises the
// disputes. It is deterministic: the same input gives the same report.
// It cannot be stopped: ReconcileContext can.
func Reconcile(in *Input) *Report {
	r, err := ReconcileContext(context.Background(), in)
	if err != nil {
		// Only Chunks or LoadNamed can fail, and only a caller that sets
		// them calls ReconcileContext.
		panic(err)
	}
	return r
}

// ReconcileContext is Reconcile, stopped when ctx is done: it looks at ctx
// before each CDR it evaluates, and returns ctx's error.
func ReconcileContext(ctx context.Context, in *Input) (*Report, error) {
	r := &Report{Period: in.PeriodName, Partner: in.Partner, TokensKnown: in.Tokens != nil && in.Tokens.Len() > 0,
		Accepted: in.Accepted}
	var evs []*Evaluation
	var disputes []*Dispute
	evaluate := func(cdrs []*ocpi.CDR) error {
		from := len(evs)
		evs = append(evs, make([]*Evaluation, len(cdrs))...)
		disputes = append(disputes, make([]*Dispute, len(cdrs))...)
		work := func(i int) {
			ev := in.evaluate(cdrs[i], in.Period)
			disputes[from+i] = NewDispute(ev, in.PeriodName, in.At, in.By)
			if in.Compact && ev.Result != nil {
				ev.Result = &pricing.Result{Zone: ev.Result.Zone, MinorUnits: ev.Result.MinorUnits}
			}
			evs[from+i] = ev
		}
		w := max(min(in.Workers, len(cdrs)), 1)
		var wg sync.WaitGroup
		var next atomic.Int64
		for range w {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1) - 1); i < len(cdrs) && ctx.Err() == nil; i = int(next.Add(1) - 1) {
					work(i)
				}
			}()
		}
		wg.Wait()
		return ctx.Err()
	}
	if err := evaluate(in.CDRs); err != nil {
		return nil, err
	}
	if in.Chunks != nil {
		err := in.Chunks(func(cdrs []*ocpi.CDR, problems map[string]ocpi.Problems) error {
			if in.Problems == nil {
				in.Problems = map[string]ocpi.Problems{}
			}
			for k, p := range problems {
				in.Problems[k] = p
			}
			return evaluate(cdrs)
		})
		if err != nil {
			return nil, err
		}
	}
	for i, ev := range evs {
		r.Evaluations = append(r.Evaluations, ev)
		r.Findings = append(r.Findings, ev.Findings...)
		if disputes[i] != nil {
			r.Disputes = append(r.Disputes, disputes[i])
		}
	}
	if len(in.Invoices) > 0 {
		held := make(map[string]*Held, len(evs)+len(in.Accepted))
		for _, ev := range evs {
			held[ocpi.Key(ev.ID)] = heldOf(ev, true)
		}
		if in.LoadNamed != nil {
			if err := in.LoadNamed(); err != nil {
				return nil, err
			}
		}
		for i := range in.Accepted {
			a := &in.Accepted[i]
			held[ocpi.Key(a.ID)] = &Held{ID: a.ID, Currency: a.Currency, MinorUnits: a.MinorUnits, Billed: a.Billed,
				Recomputed: a.Recomputed, Verdict: VerdictOK, InPeriod: true, InvoiceReferenceID: a.InvoiceReferenceID}
		}
		for _, c := range in.Named {
			if _, ok := held[ocpi.Key(c.ID)]; !ok {
				held[ocpi.Key(c.ID)] = heldOf(in.evaluate(c, Window{}), false)
			}
		}
		r.Invoice = Match(&MatchInput{Invoices: in.Invoices, CDRs: held, StatedTotal: in.InvoiceTotal,
			Tolerance: func(string) Tolerance { return in.Tolerance }})
	}
	r.Sort()
	return r, nil
}

func heldOf(ev *Evaluation, inPeriod bool) *Held {
	return &Held{ID: ev.ID, Currency: ev.Currency, MinorUnits: ev.MinorUnits, Billed: ev.Billed[TotalCost],
		Recomputed: ev.Recomputed[TotalCost], Verdict: ev.Verdict, InPeriod: inPeriod, InvoiceReferenceID: ev.InvoiceReferenceID}
}

// Evaluate reconciles one CDR on its own (price --db): the period is not
// checked.
func (in *Input) Evaluate(c *ocpi.CDR) *Evaluation { return in.evaluate(c, Window{}) }

// evaluate prices one CDR with the versions in effect (else the tariffs it
// embeds) and evaluates it.
func (in *Input) evaluate(c *ocpi.CDR, period Window) *Evaluation {
	cs := &Case{CDR: c, Versions: in.Versions, Tolerance: in.Tolerance,
		Options: pricing.Options{Zones: in.Zones, Policy: in.Policy}}
	var conn []string
	if in.ConnectorTariffs != nil {
		conn = in.ConnectorTariffs(c)
	}
	var blocked error
	for _, id := range pricing.TariffIDs(c, conn) {
		if t, ok := pricing.InEffect(in.Versions[ocpi.Key(id)], c.StartDateTime); ok {
			cs.Tariffs = append(cs.Tariffs, *t)
			if why := blockedBy(in.Blocked, t); why != "" && blocked == nil {
				blocked = fmt.Errorf("tariff %s of %s has a finding that blocks pricing (%s)", t.ID, ocpi.FormatDateTime(t.LastUpdated), why)
			}
		}
	}
	embedded := false
	if len(cs.Tariffs) == 0 && len(c.Tariffs) > 0 {
		cs.Tariffs, embedded = c.Tariffs, true
	}
	if !embedded {
		cs.kernel = &in.kernels
	}
	x := &Context{Period: period, Tokens: in.Tokens, Locations: in.Locations, Stored: in.Stored, Limits: in.Limits,
		Problems: in.Problems[IdentityKey(c.CountryCode, c.PartyID, c.ID)]}
	if len(cs.Tariffs) > 0 {
		x.Tariff = &cs.Tariffs[0]
		if blocked != nil {
			cs.PriceError = blocked
		} else {
			cs.Result, cs.PriceError = pricing.Price(c, cs.Tariffs, cs.Options)
		}
		x.Priced = cs.Result
	}
	cs.Findings = Validate(c, x)
	ev := Evaluate(cs)
	ev.Result = cs.Result
	if embedded {
		ev.Versions = versionsOf(cs.Tariffs, true)
	}
	return ev
}

func blockedBy(blocked func(*ocpi.Tariff) string, t *ocpi.Tariff) string {
	if blocked == nil {
		return ""
	}
	return blocked(t)
}
