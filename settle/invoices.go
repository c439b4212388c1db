package settle

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Invoices is the invoice step on its own (`roamsettle invoice`): for each
// owner of the scope with CDRs in the period, the same InvoiceStep the
// whole job runs, over the stored rows of the owner's newest re-pricing
// and its reconciliation, as the reports read them.

// InvoicePeriodSource is what Invoices reads besides the step's rows. The
// store implements it.
type InvoicePeriodSource interface {
	// ReconciledCounts gives each owner of the selection's CDRs how many
	// CDRs the period holds, how many have a reconciliation result (as
	// ReportSource's figures count them, so that invoices and reports
	// refuse alike), and when the newest of them was received.
	ReconciledCounts(ctx context.Context, sel *Selection, period string) (map[Party]ReconciledCount, error)
	// NewestPriced is the newest re-pricing whose rows cover the owner's
	// period (its own scope or every owner's), as the reports choose it;
	// ok is false when the period was never priced.
	NewestPriced(ctx context.Context, period Period, owner Party) (run Run, ok bool, err error)
}

// ReconciledCount is an owner's CDRs of a period and how many of them are
// reconciled.
type ReconciledCount struct {
	CDRs, Reconciled int64
	// NewestReceipt is when the newest of the CDRs was received.
	NewestReceipt time.Time
}

// InvoiceOptions are what Invoices settles.
type InvoiceOptions struct {
	Scope Scope
	// Policies by owner: the zone an owner's period and issue dates are
	// read in.
	Policies map[Party]Policy
	// Final issues the numbered invoices (and, after the first time,
	// credit notes and new invoices for what changed); else statements.
	Final bool
	// AsOf dates the documents. Zero: for statements, when the newest CDR
	// of the owner's period was received (as the reports), so that the same
	// rows give the same bytes; for a final run, the clock (an issued
	// document is stored and every later rendering reads it back).
	AsOf time.Time
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Workers make owners' statements at once (0: 2). Final documents
	// are issued one owner at a time: their numbers come from one
	// sequence per issuer, taken in the transaction that stores them.
	Workers int
}

// OwnerInvoices is what Invoices did for one owner.
type OwnerInvoices struct {
	Owner  Party
	Priced Run
	AsOf   time.Time
	Report *StepReport
}

// Invoices runs step for every owner of opts.Scope with CDRs in the
// period, each into files(owner) (the owner's folder of the period). It
// refuses, before anything is issued, a period whose CDRs are not all
// reconciled (ErrNotReconciled) or not priced, and a final one that has
// not ended.
func Invoices(ctx context.Context, src InvoicePeriodSource, step InvoiceStep, files func(Party) Files, opts InvoiceOptions) ([]OwnerInvoices, error) {
	id := Run{Kind: "invoice", Scope: opts.Scope}.ID()
	if opts.Scope.Period.IsZero() {
		return nil, &Error{Op: "invoice", Kind: ErrInvalid, Object: id, Err: fmt.Errorf("no period")}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	zones := map[Party]*time.Location{}
	for p, pol := range opts.Policies {
		zones[p] = pol.Zone
	}
	sel := opts.Scope.Selection(zones)
	period := opts.Scope.Period.String()
	if end := sel.Span().To; opts.Final && end.After(now()) {
		return nil, &Error{Op: "invoice", Kind: ErrInvalid, Object: id,
			Err: fmt.Errorf("a period cannot be finalised before it ends (%s)", end.Format(time.RFC3339))}
	}
	counts, err := src.ReconciledCounts(ctx, &sel, period)
	if err != nil {
		return nil, wrap("invoice figures", ErrRead, id, err)
	}
	owners := make([]Party, 0, len(counts))
	for p := range counts {
		owners = append(owners, p)
	}
	sortParties(owners)
	out := make([]OwnerInvoices, len(owners))
	var stale []string
	for i, p := range owners {
		f := counts[p]
		if f.Reconciled != f.CDRs {
			stale = append(stale, fmt.Sprintf("%s (%d of %d CDRs)", p, f.CDRs-f.Reconciled, f.CDRs))
			continue
		}
		run, ok, err := src.NewestPriced(ctx, opts.Scope.Period, p)
		if err != nil {
			return nil, wrap("invoice priced run", ErrRead, id, err)
		}
		if !ok {
			stale = append(stale, fmt.Sprintf("%s (never priced)", p))
			continue
		}
		out[i] = OwnerInvoices{Owner: p, Priced: run, AsOf: opts.AsOf}
		if out[i].AsOf.IsZero() {
			out[i].AsOf = f.NewestReceipt
			if opts.Final {
				out[i].AsOf = now()
			}
		}
		out[i].AsOf = out[i].AsOf.UTC().Truncate(time.Second)
	}
	if len(stale) > 0 {
		return nil, &Error{Op: "invoice", Kind: ErrInvalid, Object: id, Err: fmt.Errorf("%w: %s; reconcile the period first",
			ErrNotReconciled, strings.Join(stale, ", "))}
	}
	kind := JobProvisional
	if opts.Final {
		kind = JobFinal
	}
	workers := opts.Workers
	if opts.Final {
		workers = 1
	}
	errs := atOnce(ctx, len(out), workers, func(i int) (err error) {
		o := &out[i]
		psel := Scope{Period: opts.Scope.Period, Partner: o.Owner}.Selection(zones)
		pr := &PartnerRun{Key: JobKey{Period: period, Partner: o.Owner.String(), Kind: kind}, Kind: kind,
			Period: opts.Scope.Period, Party: o.Owner, Selection: psel, Policy: opts.Policies[o.Owner], AsOf: o.AsOf,
			Priced: o.Priced, Files: files(o.Owner)}
		o.Report, err = step.Run(ctx, pr)
		return err
	})
	for i, err := range errs {
		if err != nil {
			return nil, wrap("invoice", ErrStep, id+" "+out[i].Owner.String(), err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap("invoice", ErrOther, id, err)
	}
	return out, nil
}
