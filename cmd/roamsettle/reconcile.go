package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/settle"
	"github.com/roamsettle/roamsettle/store"
)

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func runReconcile(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "reconcile", "",
		"Reconciles one partner's period: validates every CDR (a coded finding per broken rule), compares what\n"+
			"it billed with the recomputation under the tariff version in effect (re-pricing the period first\n"+
			"when its priced rows are missing or older than its newest CDR, tariff or location), explains each\n"+
			"difference by re-pricing under hypotheses (tariff version, UTC, step size, VAT, rounding), gives\n"+
			"one verdict per CDR (OK, MISMATCH, NOT_VERIFIABLE), matches the partner's invoices (CSV or XLSX\n"+
			"lines, or 2.3.0 invoice reconciliation records), raises disputes and stores it all. A CDR belongs\n"+
			"to the period its end_date_time falls in (UTC, or the partner's period_time_zone).")
	db := addDBFlags(fs)
	periodFlag := fs.String("period", "", "the period: YYYY-MM (required unless --from/--to)")
	from := fs.String("from", "", "first day of the period, YYYY-MM-DD (with --to)")
	to := fs.String("to", "", "last day of the period, YYYY-MM-DD, included")
	partner := fs.String("partner", "", "the partner, as CC-PID (required with --json and --invoice; without it every\n"+
		"partner of the period is reconciled, in one pass, and each one's summary printed)")
	var invoices multiFlag
	fs.Var(&invoices, "invoice", "a partner invoice: .csv or .xlsx lines (the partner's invoice_columns), or a 2.3.0\n"+
		"invoice reconciliation record .json (repeatable); without it, the partner's stored records (received over\n"+
		"OCPI, not withdrawn) that name a CDR of the period are matched")
	invoiceTotal := fs.String("invoice-total", "", "the invoice total before VAT, for invoices that state none line by line\n"+
		"(records; default: the partner's invoice_totals for the period in the config)")
	tokens := fs.String("tokens", "", "the eMSP's tokens (OCPI Token NDJSON or JSON array; default: the config's tokens)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the summary table")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file (for performance work)")
	perCDR := fs.Bool("per-cdr", false, "evaluate every CDR whole (the slow path the bulk path is checked against)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	period, err := reconcilePeriod(*periodFlag, *from, *to)
	if err != nil || fs.NArg() > 0 || (*partner == "" && (*asJSON || len(invoices) > 0)) {
		fs.Usage()
		if err != nil {
			return fmt.Errorf("--period: %w", err)
		}
		return errUsage
	}
	var owner settle.Party // zero: every partner of the period
	if *partner != "" {
		cc, pid, err := parseParty(*partner)
		if err != nil {
			return fmt.Errorf("--partner: %w", err)
		}
		owner = settle.NewParty(cc, pid)
	}
	st, cfg, err := db.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	policies, err := partnerPolicies(cfg)
	if err != nil {
		return err
	}
	scope := settle.Scope{Period: period, Partner: owner}
	tok, err := loadTokens(firstNonEmpty(*tokens, cfg.Tokens))
	if err != nil {
		return err
	}
	step := &settle.ReconcileStep{PerCDR: *perCDR, Prepare: func(ctx context.Context, owner settle.Party, in *reconcile.Input) error {
		pc := cfg.partner(owner.CountryCode, owner.PartyID)
		total := firstNonEmpty(*invoiceTotal, pc.InvoiceTotals[period.String()])
		in.Policy, in.Tolerance, in.Limits, in.Tokens = policies[owner].Pricing, pc.tolerance(), pc.limits(), tok
		in.At, in.By = time.Now().UTC(), "reconcile "+period.String()
		if len(invoices) == 0 {
			// The partner's stored invoice reconciliation records.
			sel := scope.Selection(map[settle.Party]*time.Location{owner: policies[owner].Zone})
			irrs, err := st.StoredInvoices(ctx, &sel)
			if err != nil {
				return err
			}
			for _, r := range irrs {
				in.Invoices = append(in.Invoices, reconcile.InvoiceFromIRR(r, "stored record "+r.ID))
			}
			if len(irrs) == 0 {
				return nil
			}
		}
		return loadInvoices(in, invoices, pc.columns(), total)
	}}
	// Every partner's: each one's summary is written as it is reported,
	// and its report freed once stored.
	summaries := map[settle.Party]*bytes.Buffer{}
	var summaryErr error
	if owner.IsZero() {
		step.Forget = true
		step.Reported = func(p settle.Party, rep *reconcile.Report) {
			b := &bytes.Buffer{}
			summaries[p] = b
			summaryErr = cmp.Or(summaryErr, rep.WriteSummary(b))
		}
	}
	if err := reconcileScope(ctx, env, st, scope, policies, step); err != nil {
		return err
	}
	env.Log.Info("reconciled", "scope", scope.String(), "accepted_from_columns", step.Screened, "evaluated_whole", step.Whole, "whole_by_check", step.Misses)
	if owner.IsZero() {
		if summaryErr != nil {
			return summaryErr
		}
		parties := slices.SortedFunc(maps.Keys(summaries), func(a, b settle.Party) int { return cmp.Compare(a.String(), b.String()) })
		for _, p := range parties {
			if _, err := summaries[p].WriteTo(env.Stdout); err != nil {
				return err
			}
		}
		return nil
	}
	rep := step.Reports[owner]
	if rep == nil {
		return fmt.Errorf("reconcile %s: no report", scope)
	}
	if *asJSON {
		return rep.WriteJSON(env.Stdout)
	}
	return rep.WriteSummary(env.Stdout)
}

// reconcileScope reconciles the scope: in one settle run that prices it
// first when its priced rows are missing or older than its newest CDR,
// tariff or location version, else over those rows, in one transaction.
func reconcileScope(ctx context.Context, env *Env, st *store.Store, scope settle.Scope, policies map[settle.Party]settle.Policy,
	step *settle.ReconcileStep) error {
	priced, inputs, ok, err := st.PricedAsOf(ctx, scope.Period.String(), scope.Partner.CountryCode, scope.Partner.PartyID)
	if err != nil {
		return err
	}
	if !ok || priced.Before(inputs) {
		run := settle.Run{Kind: settle.KindReprice, Scope: scope}
		env.Log.Info("re-pricing first: priced rows missing or stale", "run", run.ID())
		_, err = settleRun(ctx, st, settle.Options{Run: run, Policies: policies, Lines: true, Steps: []settle.Step{step}}, defaultMemoryLimit)
		return err
	}
	zones := map[settle.Party]*time.Location{}
	for p, pol := range policies {
		zones[p] = pol.Zone
	}
	sel := scope.Selection(zones)
	w, err := st.BeginReconcile(ctx, scope)
	if err != nil {
		return err
	}
	if err := step.Reconcile(ctx, st, w, settle.Run{Kind: settle.KindReconcile, Scope: scope}, &sel); err != nil {
		w.Rollback()
		return err
	}
	return w.Commit(ctx, settle.RunRecord{})
}

func reconcilePeriod(period, from, to string) (settle.Period, error) {
	switch {
	case period != "" && from == "" && to == "":
		return settle.ParsePeriod(period)
	case period == "" && from != "" && to != "":
		return settle.ParsePeriod(from + ".." + to)
	}
	return settle.Period{}, fmt.Errorf("give --period YYYY-MM, or --from and --to")
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
