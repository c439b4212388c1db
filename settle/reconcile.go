package settle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
	"github.com/roamsettle/roamsettle/reconcile"
)

// The reconcile step: after pricing, in the run's transaction, each owner's
// CDRs of the scope are reconciled (reconcile.Reconcile) and the results
// stored. The bulk path reads the priced rows the run just wrote and the
// CDRs' billed columns as Arrow batches, accepts the CDRs whose columns
// show nothing wrong (reconcile.Screen), and evaluates only the others
// whole (the decimal reference, the rules, the hypotheses); the per-CDR
// path (PerCDR) evaluates every CDR whole. Both give the same report.

// ReconcileRunID is the identity of the reconciliation of one owner's
// period: "reconcile:PERIOD/CC-PID". A settle run over the scope and
// `roamsettle reconcile` of the same owner and period write under the
// same id, so the later replaces the earlier.
func ReconcileRunID(period Period, owner Party) string {
	return "reconcile:" + Scope{Period: period, Partner: owner}.String()
}

// ReconcileReader reads back, through the run's transaction, the priced
// rows of the run (or, for a reconciliation on its own, of the newest run
// that priced the scope), and stores the results. The run's writer
// implements it (the store's).
type ReconcileReader interface {
	// PricedDictionaries returns what the priced rows' tariff_ref and
	// zone_ref name.
	PricedDictionaries(ctx context.Context) ([]PricedTariff, []PricedZone, error)
	// ScanReconcile streams, for the selection's CDRs with cdr_key in
	// [minKey, maxKey]: their priced rows (PricedRowColumns, any order),
	// their charging periods (ReconcilePeriodColumns, each CDR's
	// together, in period order; a CDR's that are not is evaluated
	// whole), then the CDRs (ReconcileCDRColumns, in key order). The
	// priced rows and periods of other CDRs in the range may come too:
	// they are never looked up. tokens says whether the token columns
	// are wanted (else null).
	ScanReconcile(ctx context.Context, sel *Selection, minKey, maxKey int64, tokens bool,
		priced, periods, cdrs func(arrow.RecordBatch) error) error
	// WriteReconcile stores one owner's reconciliation under rec.ID,
	// replacing what the previous one of that id wrote, raises and
	// revises its disputes.
	WriteReconcile(ctx context.Context, rec *ReconcileRecord) (raised, revised int, err error)
}

// ReconcileRecord is one owner's reconciliation as stored.
type ReconcileRecord struct {
	ID string // ReconcileRunID
	// Settle is the id of the settle run it was part of ("" on its own).
	Settle string
	Report *reconcile.Report
	// JSON is the report's JSON without its per-CDR arrays (summary, KPIs,
	// invoice): the CDRs and findings are rows of their own.
	JSON []byte
	At   time.Time
}

// ReconcileSource is what reconciling reads beyond Source. The store
// implements it.
type ReconcileSource interface {
	Source
	// ScopeOwnerCDRs lists the owners of the selection's CDRs, in order,
	// with how many CDRs each has in it.
	ScopeOwnerCDRs(ctx context.Context, sel *Selection) ([]OwnerCDRs, error)
	// ReconcileOwner fills the owner's tariff versions, locations, zone
	// chain and connector tariffs into in.
	ReconcileOwner(ctx context.Context, owner Party, in *reconcile.Input) error
	// ReceivedAgain counts, by reconcile.IdentityKey, the owner's CDRs
	// received again and the conflicting bodies refused.
	ReceivedAgain(ctx context.Context, countryCode, partyID string) (duplicates, conflicts map[string]int, err error)
	// WholeCDRs loads CDRs by key (every field), in key order, with their
	// decoder findings by reconcile.IdentityKey.
	WholeCDRs(ctx context.Context, keys []int64) ([]*ocpi.CDR, map[string]ocpi.Problems, error)
	// ReconcileCDRs loads every CDR of the selection whole (the per-CDR
	// path).
	ReconcileCDRs(ctx context.Context, sel *Selection) ([]*ocpi.CDR, map[string]ocpi.Problems, error)
	// CDRsByID loads an owner's CDRs by id (case-insensitive).
	CDRsByID(ctx context.Context, countryCode, partyID string, ids []string) ([]*ocpi.CDR, map[string]ocpi.Problems, error)
	// CreditedCDRs loads, of an owner's CDRs by id (case-insensitive),
	// what the credit rules read of the CDR a credit references: the
	// identity as sent and total_cost (other fields are left empty).
	CreditedCDRs(ctx context.Context, countryCode, partyID string, ids []string) ([]*ocpi.CDR, error)
}

// OwnerCDRs is an owner of a selection's CDRs and how many it has.
type OwnerCDRs struct {
	Owner Party
	CDRs  int64
}

// ReceivedAgainOwners is ReconcileSource.ReceivedAgain for several owners
// in one pass, by owner; a source that implements it is asked once per
// reconciliation instead of once per owner (the store's joins every CDR
// with every receipt).
type ReceivedAgainOwners interface {
	ReceivedAgainOf(ctx context.Context, owners []Party) (duplicates, conflicts map[Party]map[string]int, err error)
}

// PricedRowColumns are the columns of ScanReconcile's priced batches:
//
//	cdr_key int64; status, priced_by uint8; tariff_ref int32 (null: none);
//	zone_ref int16; flags int32; the twelve totals int64 in millionths
//	(NumTotals, in reconcile's Field order, excl then incl; null when
//	not priced)
var PricedRowColumns = []string{"cdr_key", "status", "priced_by", "tariff_ref", "zone_ref", "flags",
	"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11"}

// ReconcilePeriodColumns are the columns of ScanReconcile's period batches:
//
//	cdr_key int64; start_us int64 (unix microseconds, null: unknown);
//	energy, time, parking_time, reservation_time int64 in millionths
//	(null: no such dimension); period_index int32
var ReconcilePeriodColumns = []string{"cdr_key", "start_us", "energy", "time", "parking_time", "reservation_time", "period_index"}

// ReconcileCDRColumns are the columns of ScanReconcile's CDR batches:
//
//	cdr_key int64; country_code, party_id, id utf8 as sent; currency utf8
//	upper-cased; v211, credit, suspect bool (suspect: a required field is
//	empty, a time unknown, or the CDR has a decoder finding);
//	start_us, end_us int64; b0..b11 int64 the billed totals in millionths
//	(Field order, excl then incl; null: not stated); total_energy,
//	total_time, total_parking_time int64 in millionths; token_uid,
//	token_contract_id utf8; context uint64 (as ContextColumns' hash);
//	invoice_reference_id utf8; credit_reference_id utf8 (a credit's, else
//	null)
var ReconcileCDRColumns = []string{"cdr_key", "country_code", "party_id", "id", "currency", "v211", "credit", "suspect",
	"start_us", "end_us", "b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11",
	"total_energy", "total_time", "total_parking_time", "token_uid", "token_contract_id", "context", "invoice_reference_id",
	"credit_reference_id"}

// ReconcileStep reconciles each owner of the scope after pricing: it is a
// Step, and Reconcile runs it over the priced rows of an earlier run.
type ReconcileStep struct {
	// Prepare completes an owner's input before it is reconciled: policy,
	// tolerance, limits, tokens, invoices, At and By (cmd reads the config
	// and the files). The period, its window and the owner's stored
	// tariffs and locations are already set.
	Prepare func(ctx context.Context, owner Party, in *reconcile.Input) error
	// PerCDR evaluates every CDR whole (the per-CDR path, which the bulk
	// path is tested against).
	PerCDR bool
	// Workers evaluate the CDRs evaluated whole (0: 2).
	Workers int
	// Reports are the reports by owner, once run.
	Reports map[Party]*reconcile.Report
	// Screened counts the CDRs the bulk path accepted from columns, Whole
	// those it evaluated whole.
	Screened, Whole int64
	// Misses counts, by the screen's check, the CDRs it sent to the whole
	// evaluation (reconcile.Screen.Misses).
	Misses map[string]int64
	// Raised and Revised count the disputes the run raised and revised.
	Raised, Revised int
	// Reported, when set, is called with each owner's report once it is
	// complete and before its rows are stored, so that a caller writing
	// it out can do so on its own goroutine while the store writes them.
	// The report is only read from then on.
	Reported func(owner Party, rep *reconcile.Report)
	// Prescreen, when it holds the screen of the selection's one owner
	// (ScreenOwners) and that owner's CDRs are still those screened,
	// spares Reconcile preparing and screening them again; Rescreened
	// says the owner was in it but its CDRs changed since.
	Prescreen  *Prescreen
	Rescreened bool
	// Forget leaves the reports out of Reports once stored, for a caller
	// that takes what it needs in Reported: a period's reports hold every
	// CDR's result (gigabytes for 10 M CDRs), and each owner's can be
	// freed before the next is reconciled.
	Forget bool
}

// Name implements Step.
func (s *ReconcileStep) Name() string { return "reconcile" }

// Run implements Step: it reconciles the scope's owners in the run's
// transaction.
func (s *ReconcileStep) Run(ctx context.Context, r *Running) error {
	return s.Reconcile(ctx, r.Source, r.Writer, r.Run, r.Selection)
}

// Reconcile reconciles each owner of the selection. w must implement
// ReconcileReader and src ReconcileSource.
func (s *ReconcileStep) Reconcile(ctx context.Context, src Source, w any, run Run, sel *Selection) error {
	rs, rw, err := reconcileIO(src, w)
	if err != nil {
		return err
	}
	if s.Reports == nil {
		s.Reports = map[Party]*reconcile.Report{}
	}
	settleID := ""
	if run.Kind != KindReconcile {
		settleID = run.ID()
	}
	ins, stale, err := s.Prescreen.take(ctx, rs, sel)
	if err != nil {
		return err
	}
	s.Rescreened = stale
	if ins == nil {
		if ins, err = s.prepareAll(ctx, rs, rw, run, sel); err != nil {
			return err
		}
	}
	for _, oi := range ins {
		rep, err := s.finish(ctx, rs, oi)
		if err != nil {
			return fmt.Errorf("reconcile %s: %w", oi.sel.Owner, err)
		}
		oi.in = nil // the report holds what is kept
		if s.Reported != nil {
			s.Reported(oi.sel.Owner, rep)
		}
		js, err := rep.SummaryJSON()
		if err != nil {
			return err
		}
		raised, revised, err := rw.WriteReconcile(ctx, &ReconcileRecord{ID: ReconcileRunID(run.Scope.Period, oi.sel.Owner), Settle: settleID,
			Report: rep, JSON: js, At: time.Now().UTC()})
		if err != nil {
			return err
		}
		s.Raised, s.Revised = s.Raised+raised, s.Revised+revised
		if !s.Forget {
			s.Reports[oi.sel.Owner] = rep
		}
	}
	return nil
}

func reconcileIO(src Source, w any) (ReconcileSource, ReconcileReader, error) {
	rs, ok := src.(ReconcileSource)
	if !ok {
		return nil, nil, fmt.Errorf("reconcile: the source (%T) cannot be reconciled from", src)
	}
	rw, ok := w.(ReconcileReader)
	if !ok {
		return nil, nil, fmt.Errorf("reconcile: the run's writer (%T) cannot store reconciliations", w)
	}
	return rs, rw, nil
}

// prepareAll prepares the selection's owners and, on the bulk path,
// screens them in one pass.
func (s *ReconcileStep) prepareAll(ctx context.Context, rs ReconcileSource, rw ReconcileReader, run Run, sel *Selection) ([]*ownerInput, error) {
	counts, err := rs.ScopeOwnerCDRs(ctx, sel)
	if err != nil {
		return nil, err
	}
	cdrs := map[Party]int64{}
	owners := []Party{sel.Owner}
	if sel.Owner.IsZero() {
		owners = owners[:0]
	}
	for _, c := range counts {
		cdrs[c.Owner] = c.CDRs
		if sel.Owner.IsZero() {
			owners = append(owners, c.Owner)
		}
	}
	var dups, confs map[Party]map[string]int
	if ra, ok := rs.(ReceivedAgainOwners); ok && len(owners) > 1 {
		var err error
		if dups, confs, err = ra.ReceivedAgainOf(ctx, owners); err != nil {
			return nil, err
		}
	}
	ins := make([]*ownerInput, len(owners))
	for i, owner := range owners {
		osel := *sel
		osel.Owner = owner
		in, err := s.prepare(ctx, rs, run, &osel, dups[owner], confs[owner])
		if err != nil {
			return nil, fmt.Errorf("reconcile %s: %w", owner, err)
		}
		ins[i] = in
	}
	if !s.PerCDR {
		// Most of an owner's CDRs are accepted: their list is allocated
		// once at that size (grown if CDRs arrived since), not gathered
		// and copied.
		for _, oi := range ins {
			oi.accepted = make([]reconcile.Accepted, 0, cdrs[oi.sel.Owner])
		}
		// One scan of the scope's priced rows and columns for every owner.
		if err := s.screen(ctx, rs, rw, sel, ins); err != nil {
			return nil, err
		}
	}
	return ins, nil
}

// Prescreen holds owners' CDRs screened in one pass over a period
// (ScreenOwners), for their reconciliations to be finished one by one
// later (ReconcileStep.Prescreen). When partners' CDRs arrive interleaved
// (nightly pulls, a hub's pushes), a partner's keys span the whole period,
// and screening each partner on its own reads every partner's rows once
// per partner. Its methods are safe for one goroutine at a time.
type Prescreen struct {
	owners map[Party]*ownerInput
}

// ScreenOwners prepares and screens, in one pass over the selection, the
// CDRs of its owners that keep lists (the others' are screened and
// dropped), over the priced rows w reads (a ReconcileReader); nil on the
// per-CDR path, which screens nothing.
func (s *ReconcileStep) ScreenOwners(ctx context.Context, src Source, w any, run Run, sel *Selection, keep []Party) (*Prescreen, error) {
	rs, rw, err := reconcileIO(src, w)
	if err != nil || s.PerCDR {
		return nil, err
	}
	ins, err := s.prepareAll(ctx, rs, rw, run, sel)
	if err != nil {
		return nil, err
	}
	sc := &Prescreen{owners: map[Party]*ownerInput{}}
	for _, oi := range ins {
		if slices.Contains(keep, oi.sel.Owner) {
			sc.owners[oi.sel.Owner] = oi
		}
	}
	return sc, nil
}

// take returns, and forgets, the screened input of the selection's one
// owner when its CDRs are still those screened (as many, the same newest
// key); stale when they changed since (a CDR stored since is screened
// again with the others).
func (sc *Prescreen) take(ctx context.Context, src Source, sel *Selection) (ins []*ownerInput, stale bool, err error) {
	if sc == nil || sel.Owner.IsZero() {
		return nil, false, nil
	}
	oi := sc.owners[sel.Owner]
	if oi == nil {
		return nil, false, nil
	}
	delete(sc.owners, sel.Owner)
	_, maxKey, n, err := src.ScopeKeys(ctx, sel)
	if err != nil {
		return nil, false, err
	}
	if n != oi.seen || maxKey != oi.lastKey || oi.sel.WindowOf(sel.Owner) != sel.WindowOf(sel.Owner) {
		return nil, true, nil
	}
	return []*ownerInput{oi}, false, nil
}

// KindReconcile reconciles a scope over the priced rows of an earlier run
// (`roamsettle reconcile` when they are fresh).
const KindReconcile Kind = "reconcile"

// ownerInput is one owner's reconciliation in the making.
type ownerInput struct {
	sel    Selection
	in     *reconcile.Input
	stored *reconcile.MemoryStored
	screen *reconcile.Screen
	whole  []int64 // keys of the CDRs to evaluate whole
	// seen counts the CDRs screened, lastKey is the newest one's key.
	seen, lastKey int64
	// credited are the ids the credits among them reference.
	credited []string
	// accepted collects the CDRs the screen accepts, for in.Accepted: a
	// list of the owner's CDR count (prepareAll). Gathering millions in
	// chunks and copying them into one list cost 8 of the 10 M month's
	// CPU seconds (the copy's write barriers and fresh pages); appending
	// to a list that grows copied each one about twice over.
	accepted []reconcile.Accepted
}

// prepare reads what the owner's CDRs are checked with (tariff versions,
// locations, receipts) and lets the caller complete the input.
func (s *ReconcileStep) prepare(ctx context.Context, src ReconcileSource, run Run, sel *Selection, dups, conflicts map[string]int) (*ownerInput, error) {
	owner := sel.Owner
	win := sel.WindowOf(owner)
	in := &reconcile.Input{Versions: map[string][]ocpi.Tariff{}, Problems: map[string]ocpi.Problems{},
		Period: reconcile.Window{From: win.From, To: win.To, Name: run.Scope.Period.String()}, PeriodName: run.Scope.Period.String(),
		Partner: owner.String(), Policy: pricing.DefaultPolicy(), Limits: reconcile.DefaultLimits(), Compact: true}
	in.Workers = s.Workers
	if in.Workers <= 0 {
		in.Workers = 2
	}
	if err := src.ReconcileOwner(ctx, owner, in); err != nil {
		return nil, err
	}
	if s.Prepare != nil {
		if err := s.Prepare(ctx, owner, in); err != nil {
			return nil, err
		}
	}
	if in.Policy.Mode == "" {
		in.Policy = pricing.DefaultPolicy()
	}
	if dups == nil || conflicts == nil {
		var err error
		if dups, conflicts, err = src.ReceivedAgain(ctx, owner.CountryCode, owner.PartyID); err != nil {
			return nil, err
		}
	}
	oi := &ownerInput{sel: *sel, in: in, stored: &reconcile.MemoryStored{Duplicates: dups, Conflicts: conflicts, CDRs: map[string]*ocpi.CDR{}}}
	in.Stored = oi.stored
	return oi, nil
}

// loadAhead calls yield with the CDRs of keys loaded whole, size keys at a
// time, in order. The next chunk loads while yield runs: a load is mostly
// one thread (DuckDB's scan, the rows' decoding), the evaluation runs on
// every worker. It returns once the loader has stopped, on an error too:
// the caller may end the store's transaction next.
func loadAhead(ctx context.Context, keys []int64, size int,
	load func(context.Context, []int64) ([]*ocpi.CDR, map[string]ocpi.Problems, error),
	yield func([]*ocpi.CDR, map[string]ocpi.Problems) error) error {
	type loaded struct {
		cdrs     []*ocpi.CDR
		problems map[string]ocpi.Problems
		err      error
	}
	ctx, cancel := context.WithCancel(ctx)
	loads := make(chan loaded, 1)
	go func() {
		defer close(loads)
		for from := 0; from < len(keys); from += size {
			var l loaded
			l.cdrs, l.problems, l.err = load(ctx, keys[from:min(from+size, len(keys))])
			select {
			case loads <- l:
			case <-ctx.Done():
				return
			}
			if l.err != nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		for range loads {
		}
	}()
	for l := range loads {
		if l.err != nil {
			return l.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := yield(l.cdrs, l.problems); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// wholeChunk is how many CDRs the bulk path loads and evaluates whole at
// a time: memory holds two chunks of whole CDRs (one evaluated, the next
// loading), whatever the period's size.
const wholeChunk = 8192

// finish reconciles the owner: the per-CDR path loads every CDR of the
// selection whole; the bulk path loads the CDRs the screen sent to the
// whole evaluation chunk by chunk, with what their credits reference, as
// the evaluation asks for them. The CDRs the invoices name outside the
// period are loaded last.
func (s *ReconcileStep) finish(ctx context.Context, src ReconcileSource, oi *ownerInput) (*reconcile.Report, error) {
	in, stored, owner := oi.in, oi.stored, oi.sel.Owner
	// credits loads what the chunk's credit CDRs reference (in the period
	// or not).
	credits := func(cdrs []*ocpi.CDR) error {
		var refs []string
		for _, c := range cdrs {
			if c.Credit && c.CreditReferenceID != "" {
				refs = append(refs, c.CreditReferenceID)
			}
		}
		if len(refs) == 0 {
			return nil
		}
		credited, err := src.CreditedCDRs(ctx, owner.CountryCode, owner.PartyID, refs)
		for _, c := range credited {
			stored.CDRs[reconcile.IdentityKey(c.CountryCode, c.PartyID, c.ID)] = c
		}
		return err
	}
	inPeriod := map[string]bool{} // the ids evaluated whole, for the invoices' named CDRs
	if s.PerCDR {
		var err error
		if in.CDRs, in.Problems, err = src.ReconcileCDRs(ctx, &oi.sel); err != nil {
			return nil, err
		}
		s.Whole += int64(len(in.CDRs))
		for _, c := range in.CDRs {
			stored.CDRs[reconcile.IdentityKey(c.CountryCode, c.PartyID, c.ID)] = c
			inPeriod[ocpi.Key(c.ID)] = true
		}
		if err := credits(in.CDRs); err != nil {
			return nil, err
		}
	} else {
		// What the credits reference, at once (the screen read the ids).
		credited, err := src.CreditedCDRs(ctx, owner.CountryCode, owner.PartyID, oi.credited)
		if err != nil {
			return nil, err
		}
		for _, c := range credited {
			stored.CDRs[reconcile.IdentityKey(c.CountryCode, c.PartyID, c.ID)] = c
		}
		keys := oi.whole
		in.Chunks = func(yield func([]*ocpi.CDR, map[string]ocpi.Problems) error) error {
			return loadAhead(ctx, keys, wholeChunk, src.WholeCDRs, func(cdrs []*ocpi.CDR, problems map[string]ocpi.Problems) error {
				s.Whole += int64(len(cdrs))
				if len(in.Invoices) > 0 {
					for _, c := range cdrs {
						inPeriod[ocpi.Key(c.ID)] = true
					}
				}
				return yield(cdrs, problems)
			})
		}
	}
	s.Screened += int64(len(in.Accepted))
	if len(in.Invoices) > 0 {
		in.LoadNamed = func() error { return s.named(ctx, src, owner, in, inPeriod) }
	}
	return reconcile.ReconcileContext(ctx, in)
}

// named loads the CDRs outside the period that the invoices' lines name.
func (s *ReconcileStep) named(ctx context.Context, src ReconcileSource, owner Party, in *reconcile.Input, inPeriod map[string]bool) error {
	for i := range in.Accepted {
		inPeriod[ocpi.Key(in.Accepted[i].ID)] = true
	}
	var named []string
	for _, inv := range in.Invoices {
		for _, l := range inv.Lines {
			if !inPeriod[ocpi.Key(l.CDRID)] {
				named = append(named, l.CDRID)
			}
		}
	}
	cdrs, probs, err := src.CDRsByID(ctx, owner.CountryCode, owner.PartyID, named)
	in.Named = cdrs
	for k, p := range probs {
		in.Problems[k] = p
	}
	return err
}

// screenKeys is how many keys one ScanReconcile covers (the driver holds
// a whole result in memory).
const screenKeys = 1 << 18

// screen runs the bulk path over the selection once for every owner: the
// CDRs an owner's screen accepts go to its input's Accepted, the others
// to its list of CDRs to evaluate whole.
func (s *ReconcileStep) screen(ctx context.Context, src ReconcileSource, w ReconcileReader, sel *Selection, ins []*ownerInput) error {
	minKey, maxKey, n, err := src.ScopeKeys(ctx, sel)
	if err != nil || n == 0 {
		return err
	}
	tariffs, zones, err := w.PricedDictionaries(ctx)
	if err != nil {
		return err
	}
	byOwner := map[Party]*ownerInput{}
	tokens := false
	for _, oi := range ins {
		if oi.screen, err = newScreen(ctx, src, tariffs, zones, oi); err != nil {
			return err
		}
		byOwner[oi.sel.Owner] = oi
		tokens = tokens || (oi.in.Tokens != nil && oi.in.Tokens.Len() > 0)
	}
	located, err := locatedContexts(ctx, src, sel, ins)
	if err != nil {
		return err
	}
	st := newScreenState()
	var last *ownerInput
	ownerOf := func(r *reconcile.Row) *ownerInput {
		if last != nil && last.sel.Owner.CountryCode == r.CountryCode && last.sel.Owner.PartyID == r.PartyID {
			return last
		}
		last = byOwner[NewParty(r.CountryCode, r.PartyID)]
		return last
	}
	screenRow := func(row *reconcile.Row, ctxHash uint64) error {
		oi := ownerOf(row)
		if oi == nil {
			return fmt.Errorf("CDR %d: owner %s-%s is not in the scope's owners", row.Key, row.CountryCode, row.PartyID)
		}
		oi.seen++
		oi.lastKey = max(oi.lastKey, row.Key)
		known, ok := located[ctxHash]
		row.LocationKnown = ok && known
		a, ok := oi.screen.Screen(row)
		if !ok {
			oi.whole = append(oi.whole, row.Key)
			if row.Credit && row.CreditReferenceID != "" {
				oi.credited = append(oi.credited, strings.Clone(row.CreditReferenceID))
			}
			return nil
		}
		// The id is the batch's copy (scanCDRs) and the group the screen's;
		// the invoice reference aliases the batch.
		a.InvoiceReferenceID = strings.Clone(a.InvoiceReferenceID)
		oi.accepted = append(oi.accepted, a)
		return nil
	}
	// The batches are screened on a goroutine of their own while the
	// store reads on: DuckDB's scan and the screen each take a core.
	// The work comes in the order it is read, so one state serves.
	p := startScreenPipe(func(b screenBatch) error {
		switch b.kind {
		case batchRange:
			st.reset(b.lo, b.hi)
			return nil
		case batchPriced:
			return st.scanPriced(b.rec)
		case batchPeriods:
			return st.scanPeriods(b.rec)
		}
		return st.scanCDRs(b.rec, screenRow)
	})
	for lo := minKey; lo <= maxKey; lo += screenKeys {
		hi := min(lo+screenKeys-1, maxKey)
		if err := p.send(screenBatch{kind: batchRange, lo: lo, hi: hi}); err != nil {
			return p.close(err)
		}
		err := w.ScanReconcile(ctx, sel, lo, hi, tokens, p.sender(batchPriced), p.sender(batchPeriods), p.sender(batchCDRs))
		if err != nil {
			return p.close(err)
		}
	}
	if err := p.close(nil); err != nil {
		return err
	}
	for _, oi := range ins {
		if len(oi.accepted) > 0 {
			oi.in.Accepted = oi.accepted
		}
		oi.accepted = nil
	}
	if s.Misses == nil {
		s.Misses = map[string]int64{}
	}
	for _, oi := range ins {
		for k, n := range oi.screen.Misses {
			s.Misses[k] += n
		}
	}
	return nil
}

// screenBatch is one piece of the screen's work, in read order: a key
// range begins, or a batch of its priced rows, periods or CDRs.
type screenBatch struct {
	kind   int
	lo, hi int64
	rec    arrow.RecordBatch
}

const (
	batchRange = iota
	batchPriced
	batchPeriods
	batchCDRs
)

// screenPipe hands batches to one goroutine that screens them in order.
type screenPipe struct {
	work chan screenBatch
	stop chan struct{} // closed when the screen fails
	done chan struct{} // closed when the goroutine has returned
	err  error         // the screen's error, read once done or stop is closed
}

// screenPipeDepth is how many batches may wait (about 2,048 rows each):
// a key range's CDR batches, so that the store never waits on the screen
// for long.
const screenPipeDepth = 128

func startScreenPipe(screen func(screenBatch) error) *screenPipe {
	p := &screenPipe{work: make(chan screenBatch, screenPipeDepth), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for b := range p.work {
			if p.err == nil {
				if p.err = screen(b); p.err != nil {
					close(p.stop)
				}
			}
			if b.rec != nil {
				b.rec.Release()
			}
		}
	}()
	return p
}

// send queues b; once the screen failed, it returns its error.
func (p *screenPipe) send(b screenBatch) error {
	select {
	case p.work <- b:
		return nil
	case <-p.stop:
		if b.rec != nil {
			b.rec.Release()
		}
		return p.err
	}
}

// sender is a store callback that queues its batches as kind.
func (p *screenPipe) sender(kind int) func(arrow.RecordBatch) error {
	return func(rec arrow.RecordBatch) error {
		rec.Retain()
		return p.send(screenBatch{kind: kind, rec: rec})
	}
}

// close waits for the queued batches to be screened (or released, after
// an error) and returns err, else the screen's error.
func (p *screenPipe) close(err error) error {
	close(p.work)
	<-p.done
	if err != nil {
		return err
	}
	return p.err
}

// newScreen is an owner's screen over the priced rows' dictionaries: its
// own published tariff versions (a ref of another owner's, or an embedded
// tariff, is evaluated whole), the zones, its token list and the CDRs it
// sent more than once.
func newScreen(ctx context.Context, src Source, tariffs []PricedTariff, zones []PricedZone, oi *ownerInput) (*reconcile.Screen, error) {
	in := oi.in
	var keys []int64
	for _, t := range tariffs {
		if t.Source == "published" && NewParty(t.CountryCode, t.PartyID) == oi.sel.Owner {
			keys = append(keys, t.Key)
		}
	}
	bodies, err := src.TariffBodies(ctx, keys)
	if err != nil {
		return nil, err
	}
	sc := &reconcile.Screen{Tokens: in.Tokens, Limits: in.Limits, Received: map[string]bool{}}
	for _, t := range tariffs {
		for int(t.Ref) >= len(sc.Tariffs) {
			sc.Tariffs = append(sc.Tariffs, nil)
		}
		b, ok := bodies[t.Key]
		if !ok || t.Source != "published" || NewParty(t.CountryCode, t.PartyID) != oi.sel.Owner {
			continue
		}
		minor := in.Policy.MinorUnits
		if minor < 0 {
			minor, _ = pricing.CurrencyMinorUnits(b.Currency)
		}
		sc.Tariffs[t.Ref] = reconcile.NewScreenTariff(&b, minor)
	}
	for _, z := range zones {
		loc, err := time.LoadLocation(z.TimeZone)
		if err != nil {
			loc = nil // evaluated whole
		}
		sc.Zones, sc.ZoneSources = append(sc.Zones, loc), append(sc.ZoneSources, z.Source)
	}
	for k := range oi.stored.Duplicates {
		sc.Received[idOf(k)] = true
	}
	for k := range oi.stored.Conflicts {
		sc.Received[idOf(k)] = true
	}
	return sc, nil
}

// idOf is the id part of a reconcile.IdentityKey.
func idOf(identity string) string {
	for i := 0; i < len(identity); i++ {
		if identity[i] == '/' {
			return identity[i+1:]
		}
	}
	return identity
}

// locatedContexts says, per context hash of the selection, whether its
// location and EVSE were published (no UNKNOWN_LOCATION or UNKNOWN_EVSE
// finding can arise).
func locatedContexts(ctx context.Context, src Source, sel *Selection, ins []*ownerInput) (map[uint64]bool, error) {
	locs := map[Party]*reconcile.Locations{}
	for _, oi := range ins {
		locs[oi.sel.Owner] = oi.in.Locations
	}
	out := map[uint64]bool{}
	err := src.ScanContexts(ctx, sel, func(rec arrow.RecordBatch) error {
		h := rec.Column(0).(*array.Uint64)
		str := func(i int) *array.String { return rec.Column(i).(*array.String) }
		cc, pid, loc, evse := str(1), str(2), str(3), str(4)
		for i := 0; i < int(rec.NumRows()); i++ {
			l, ok := locs[NewParty(cc.Value(i), pid.Value(i))]
			out[h.Value(i)] = ok && (l == nil || l.Published(cc.Value(i), pid.Value(i), loc.Value(i), evse.Value(i)))
		}
		return nil
	})
	return out, err
}

// screenState holds one key range's priced rows and periods, indexed by
// key - lo, while its CDRs are screened.
type screenState struct {
	lo, hi  int64
	has     []bool
	status  []uint8
	by      []uint8
	tariff  []int32
	zone    []int16
	flags   []int32
	totals  [NumTotals][]int64
	pFirst  []int32 // first period index, -1: none
	pCount  []int32
	periods []reconcile.PeriodRow
	row     reconcile.Row
}

func newScreenState() *screenState {
	st := &screenState{has: make([]bool, screenKeys), status: make([]uint8, screenKeys), by: make([]uint8, screenKeys),
		tariff: make([]int32, screenKeys), zone: make([]int16, screenKeys), flags: make([]int32, screenKeys),
		pFirst: make([]int32, screenKeys), pCount: make([]int32, screenKeys)}
	for i := range st.totals {
		st.totals[i] = make([]int64, screenKeys)
	}
	return st
}

func (st *screenState) reset(lo, hi int64) {
	st.lo, st.hi = lo, hi
	clear(st.has)
	clear(st.pCount)
	st.periods = st.periods[:0]
}

func (st *screenState) scanPriced(rec arrow.RecordBatch) error {
	if int(rec.NumCols()) != len(PricedRowColumns) {
		return errors.New("priced batch: wrong columns")
	}
	keys := rec.Column(0).(*array.Int64)
	status, by := rec.Column(1).(*array.Uint8), rec.Column(2).(*array.Uint8)
	tariff, zone, flags := rec.Column(3).(*array.Int32), rec.Column(4).(*array.Int16), rec.Column(5).(*array.Int32)
	for i := 0; i < int(rec.NumRows()); i++ {
		k := keys.Value(i) - st.lo
		if k < 0 || k >= screenKeys {
			continue
		}
		st.has[k] = status.Value(i) == PricedOK && !status.IsNull(i)
		st.status[k], st.by[k], st.zone[k], st.flags[k] = status.Value(i), by.Value(i), zone.Value(i), flags.Value(i)
		st.tariff[k] = -1
		if !tariff.IsNull(i) {
			st.tariff[k] = tariff.Value(i)
		}
		for t := range st.totals {
			c := rec.Column(6 + t).(*array.Int64)
			if c.IsNull(i) {
				st.has[k] = false
				continue
			}
			st.totals[t][k] = c.Value(i)
		}
	}
	return nil
}

func (st *screenState) scanPeriods(rec arrow.RecordBatch) error {
	if int(rec.NumCols()) != len(ReconcilePeriodColumns) {
		return errors.New("period batch: wrong columns")
	}
	keys, start := rec.Column(0).(*array.Int64), rec.Column(1).(*array.Int64)
	vol := [4]*array.Int64{rec.Column(2).(*array.Int64), rec.Column(3).(*array.Int64), rec.Column(4).(*array.Int64), rec.Column(5).(*array.Int64)}
	index := rec.Column(6).(*array.Int32)
	for i := 0; i < int(rec.NumRows()); i++ {
		k := keys.Value(i) - st.lo
		if k < 0 || k >= screenKeys {
			continue
		}
		if st.pCount[k] == 0 {
			st.pFirst[k] = int32(len(st.periods))
		} else if int(st.pFirst[k]+st.pCount[k]) != len(st.periods) {
			st.pCount[k] = -1 << 30 // not together: evaluated whole
			continue
		}
		if index.Value(i) != st.pCount[k] {
			st.pCount[k] = -1 << 30 // not in period order: evaluated whole
			continue
		}
		st.pCount[k]++
		p := reconcile.PeriodRow{Start: start.Value(i), StartKnown: !start.IsNull(i) && start.Value(i) != 0}
		p.Energy, p.HasEnergy = vol[0].Value(i), !vol[0].IsNull(i)
		p.Time, p.HasTime = vol[1].Value(i), !vol[1].IsNull(i)
		p.Parking, p.HasParking = vol[2].Value(i), !vol[2].IsNull(i)
		p.Reservation, p.HasReservationTime = vol[3].Value(i), !vol[3].IsNull(i)
		st.periods = append(st.periods, p)
	}
	return nil
}

// scanCDRs calls fn with each CDR of the batch as a row, with its
// context hash. The row's ID may be kept; its other strings alias the
// batch and are valid during the call only.
func (st *screenState) scanCDRs(rec arrow.RecordBatch, fn func(*reconcile.Row, uint64) error) error {
	if int(rec.NumCols()) != len(ReconcileCDRColumns) {
		return errors.New("cdr batch: wrong columns")
	}
	i64 := func(c int) *array.Int64 { return rec.Column(c).(*array.Int64) }
	str := func(c int) *array.String { return rec.Column(c).(*array.String) }
	boolean := func(c int) *array.Boolean { return rec.Column(c).(*array.Boolean) }
	keys := i64(0)
	cc, pid, id, cur := str(1), str(2), str(3), str(4)
	v211, credit, suspect := boolean(5), boolean(6), boolean(7)
	start, end := i64(8), i64(9)
	var billed [NumTotals]*array.Int64
	for t := range billed {
		billed[t] = i64(10 + t)
	}
	te, tt, tp := i64(22), i64(23), i64(24)
	uid, contract := str(25), str(26)
	hash := rec.Column(27).(*array.Uint64)
	invRef, creditRef := str(28), str(29)
	// The ids in one Go string per batch, which the accepted CDRs keep
	// (one allocation per batch instead of one per CDR); the other
	// strings alias the batch.
	ids, idOff := string(id.ValueBytes()), id.ValueOffsets()
	r := &st.row
	for i := 0; i < int(rec.NumRows()); i++ {
		k := keys.Value(i) - st.lo
		r.Reset()
		r.Key = keys.Value(i)
		r.CountryCode, r.PartyID, r.Currency = cc.Value(i), pid.Value(i), cur.Value(i)
		r.ID = ids[idOff[i]-idOff[0] : idOff[i+1]-idOff[0]]
		r.V211, r.Credit = v211.Value(i), credit.Value(i)
		if !creditRef.IsNull(i) {
			r.CreditReferenceID = creditRef.Value(i)
		}
		r.Suspect = suspect.IsNull(i) || suspect.Value(i) || start.IsNull(i) || end.IsNull(i) || k < 0 || k >= screenKeys
		if r.Suspect {
			if err := fn(r, 0); err != nil {
				return err
			}
			continue
		}
		r.Start, r.End = start.Value(i), end.Value(i)
		for f := range reconcile.NumFields {
			x, n := billed[2*f], billed[2*f+1]
			r.Billed[f] = reconcile.Amount{Excl: x.Value(i), HasExcl: !x.IsNull(i), Incl: n.Value(i), HasIncl: !n.IsNull(i)}
		}
		r.TotalEnergy, r.TotalTime = te.Value(i), tt.Value(i)
		r.TotalParking, r.HasParking = tp.Value(i), !tp.IsNull(i)
		if te.IsNull(i) || tt.IsNull(i) {
			r.Suspect = true
		}
		if !uid.IsNull(i) {
			r.TokenUID = uid.Value(i)
		}
		if !contract.IsNull(i) {
			r.TokenContract = contract.Value(i)
		}
		if !invRef.IsNull(i) {
			r.InvoiceReferenceID = invRef.Value(i)
		}
		r.Priced = st.has[k] && st.by[k] == ByKernel && st.tariff[k] >= 0
		r.Tariff, r.Zone, r.Flags = st.tariff[k], st.zone[k], st.flags[k]
		for t := range r.Computed {
			r.Computed[t] = st.totals[t][k]
		}
		if n := st.pCount[k]; n > 0 {
			r.Periods = st.periods[st.pFirst[k] : st.pFirst[k]+n]
		} else if n < 0 {
			r.Suspect = true
		}
		if err := fn(r, hash.Value(i)); err != nil {
			return err
		}
	}
	return nil
}
