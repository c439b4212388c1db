package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
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
	partner := fs.String("partner", "", "the partner, as CC-PID (required)")
	var invoices multiFlag
	fs.Var(&invoices, "invoice", "a partner invoice: .csv or .xlsx lines (the partner's invoice_columns), or a 2.3.0\n"+
		"invoice reconciliation record .json (repeatable)")
	invoiceTotal := fs.String("invoice-total", "", "the invoice total before VAT, for invoices that state none line by line (records)")
	tokens := fs.String("tokens", "", "the eMSP's tokens (OCPI Token NDJSON or JSON array; default: the config's tokens)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the summary table")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file (for performance work)")
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
	if err != nil || *partner == "" || fs.NArg() > 0 {
		fs.Usage()
		if err != nil {
			return fmt.Errorf("--period: %w", err)
		}
		return errUsage
	}
	cc, pid, err := parseParty(*partner)
	if err != nil {
		return fmt.Errorf("--partner: %w", err)
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
	owner := settle.NewParty(cc, pid)
	scope := settle.Scope{Period: period, Partner: owner}
	if err := repriceIfStale(ctx, env, st, scope, policies); err != nil {
		return err
	}
	sel := scope.Selection(map[settle.Party]*time.Location{owner: policies[owner].Zone})
	in, err := st.ReconcileInput(ctx, &sel)
	if err != nil {
		return err
	}
	pc := cfg.partner(cc, pid)
	w := sel.WindowOf(owner)
	in.Period, in.PeriodName, in.Partner = reconcile.Window{From: w.From, To: w.To, Name: period.String()}, period.String(), owner.String()
	in.Policy, in.Tolerance, in.Limits = policies[owner].Pricing, pc.tolerance(), pc.limits()
	in.At, in.By = time.Now().UTC(), "reconcile "+period.String()
	if in.Tokens, err = loadTokens(firstNonEmpty(*tokens, cfg.Tokens)); err != nil {
		return err
	}
	if len(invoices) > 0 {
		if err := loadInvoices(ctx, st, in, invoices, pc.columns(), *invoiceTotal, cc, pid); err != nil {
			return err
		}
	}
	rep := reconcile.Reconcile(in)
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		return err
	}
	if _, _, err := st.SaveReconcile(ctx, "reconcile:"+scope.String(), rep, js.Bytes(), in.At); err != nil {
		return err
	}
	if *asJSON {
		_, err = env.Stdout.Write(js.Bytes())
		return err
	}
	return rep.WriteSummary(env.Stdout)
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

// repriceIfStale re-prices the scope when its priced rows are missing or
// older than its newest CDR, tariff or location version.
func repriceIfStale(ctx context.Context, env *Env, st *store.Store, scope settle.Scope, policies map[settle.Party]settle.Policy) error {
	priced, inputs, ok, err := st.PricedAsOf(ctx, scope.Period.String(), scope.Partner.CountryCode, scope.Partner.PartyID)
	if err != nil {
		return err
	}
	if ok && !priced.Before(inputs) {
		return nil
	}
	run := settle.Run{Kind: settle.KindReprice, Scope: scope}
	env.Log.Info("re-pricing first: priced rows missing or stale", "run", run.ID())
	_, err = settleRun(ctx, st, settle.Options{Run: run, Policies: policies, Lines: true}, defaultMemoryLimit)
	return err
}

func loadTokens(path string) (*reconcile.Tokens, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--tokens: %w", err)
	}
	defer f.Close()
	return reconcile.ReadTokens(f)
}

// loadInvoices reads each invoice file and the CDRs outside the period
// their lines name.
func loadInvoices(ctx context.Context, st *store.Store, in *reconcile.Input, files []string, cols reconcile.Columns, total, cc, pid string) error {
	for _, f := range files {
		inv, err := readInvoice(f, cols)
		if err != nil {
			return err
		}
		in.Invoices = append(in.Invoices, inv)
	}
	if total != "" {
		d, err := decimal.NewFromString(strings.TrimSpace(total))
		if err != nil {
			return fmt.Errorf("--invoice-total %q: not an amount", total)
		}
		in.InvoiceTotal = &d
	}
	inPeriod := map[string]bool{}
	for _, c := range in.CDRs {
		inPeriod[ocpi.Key(c.ID)] = true
	}
	var named []string
	for _, inv := range in.Invoices {
		for _, l := range inv.Lines {
			if !inPeriod[ocpi.Key(l.CDRID)] {
				named = append(named, l.CDRID)
			}
		}
	}
	cdrs, probs, err := st.CDRsByID(ctx, cc, pid, named)
	in.Named = cdrs
	for k, p := range probs {
		in.Problems[k] = p
	}
	return err
}

func readInvoice(path string, cols reconcile.Columns) (*reconcile.Invoice, error) {
	name := filepath.Base(path)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xlsx":
		rows, err := readXLSXRows(path)
		if err != nil {
			return nil, fmt.Errorf("invoice %s: %w", name, err)
		}
		return reconcile.InvoiceFromRows(rows, name, cols)
	case ".json":
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		d := ocpi.Decode(raw, ocpi.Hint{Kind: ocpi.KindInvoice})
		if d.Rejected || d.Invoice == nil {
			return nil, fmt.Errorf("invoice %s: not an invoice reconciliation record: %v", name, d.Problems)
		}
		return reconcile.InvoiceFromIRR(d.Invoice, name), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return reconcile.ReadInvoiceCSV(f, name, cols)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
