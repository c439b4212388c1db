package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/roamsettle/roamsettle/invoicing"
	"github.com/roamsettle/roamsettle/settle"
)

func runInvoice(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "invoice", "",
		"The invoice step of `roamsettle run` on its own: for each partner with CDRs in the period (or the one\n"+
			"given), from what `reprice` and `reconcile` stored (the newest re-pricing and the reconciliation with its\n"+
			"disputes, as `report` reads them), the settlement statements, or with --final the numbered invoices,\n"+
			"as PDF, XLSX, JSON and UBL into OUT/PERIOD/CC-PID/. Disputed CDRs are not charged. Invoice numbers are\n"+
			"assigned only with --final, once per period: after that --final issues credit notes and new invoices\n"+
			"for what changed (late CDRs, disputes settled), never an edit. It refuses a period whose CDRs are not\n"+
			"all reconciled. Every file is written atomically; a re-run on the same rows writes the same bytes\n"+
			"(statements are dated by when the period's newest CDR was received unless --as-of says otherwise).\n"+
			"The documents need the config's [invoicing] section and each partner's [partners.invoicing].")
	db := addDBFlags(fs)
	periodFlag := fs.String("period", "", "the period: YYYY-MM (required)")
	partner := fs.String("partner", "", "one partner, as CC-PID (default: every partner with CDRs in the period)")
	final := fs.Bool("final", false, "issue the numbered invoices (once the period has ended), else statements")
	out := fs.String("out", "", "output folder (default from the config: out)")
	asOf := fs.String("as-of", "", "the instant the documents are dated by, RFC 3339 or YYYY-MM-DD (default: statements, when the\n"+
		"period's newest CDR was received; --final, now)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file (for performance work)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *periodFlag == "" {
		return usageError(fs, env, "--period YYYY-MM is required")
	}
	opts := settle.InvoiceOptions{Final: *final}
	var err error
	if opts.Scope.Period, err = settle.ParsePeriod(*periodFlag); err != nil {
		return fmt.Errorf("--period: %w", err)
	}
	if *partner != "" {
		cc, pid, err := parseParty(*partner)
		if err != nil {
			return fmt.Errorf("--partner: %w", err)
		}
		opts.Scope.Partner = settle.NewParty(cc, pid)
	}
	if *asOf != "" {
		if opts.AsOf, err = parseAsOf(*asOf); err != nil {
			return fmt.Errorf("--as-of: %w", err)
		}
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	st, cfg, err := db.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if *out != "" {
		cfg.Output = *out
	}
	if cfg.Invoicing == nil {
		return fmt.Errorf("the config has no [invoicing] section (our party and the document policy): nothing to invoice")
	}
	if opts.Policies, err = partnerPolicies(cfg); err != nil {
		return err
	}
	// The run's own invoice step, writing as the run does: atomically,
	// leaving a file that already holds the same bytes alone.
	step := settle.InvoiceStep{Source: st, Ledger: st.Invoices(), Config: cfg.invoicingConfig,
		PDF: invoicing.PDFOptions{Warn: func(msg string) { env.Log.Warn(msg) }}}
	files := func(p settle.Party) settle.Files {
		return outFiles{root: filepath.Join(cfg.Output, opts.Scope.Period.String(), p.String())}
	}
	start := time.Now()
	res, err := settle.Invoices(ctx, st, step, files, opts)
	if errors.Is(err, settle.ErrNotReconciled) {
		return fmt.Errorf("%w\n(roamsettle reconcile --period %s reconciles the period's partners)", err, opts.Scope.Period)
	}
	if err != nil {
		return err
	}
	printInvoiceSummary(env.Stdout, opts, cfg.Output, res, time.Since(start))
	return nil
}

func printInvoiceSummary(w io.Writer, opts settle.InvoiceOptions, out string, res []settle.OwnerInvoices, took time.Duration) {
	what := "statements"
	if opts.Final {
		what = "final invoices"
	}
	fmt.Fprintf(w, "invoice %s: %s for %d partner(s) in %.1f s\n", opts.Scope, what, len(res), took.Seconds())
	if len(res) == 0 {
		fmt.Fprintln(w, "  no CDRs in the period")
	}
	for _, o := range res {
		c := o.Report.Counts
		fmt.Fprintf(w, "  %-8s %7d CDRs  as of %s  read from %s", o.Owner, c["cdrs"], o.AsOf.Format(time.RFC3339), o.Priced.ID())
		if opts.Final {
			fmt.Fprintf(w, "; %s of the period, new: %s, %s", plural(c["documents"], "document"), plural(c["invoices"], "invoice"),
				plural(c["credit_notes"], "credit note"))
		} else {
			fmt.Fprintf(w, "; %s", plural(c["statements"], "statement"))
		}
		for _, a := range o.Report.Amounts {
			fmt.Fprintf(w, "; %s %s %s", a.Name, a.Currency, a.Amount.String())
		}
		fmt.Fprintln(w)
		if o.Report.Note != "" {
			fmt.Fprintf(w, "           %s\n", o.Report.Note)
		}
		written, same := 0, 0
		for _, f := range o.Report.Files {
			if f.Unchanged {
				same++
			} else {
				written++
			}
		}
		if len(o.Report.Files) > 0 {
			fmt.Fprintf(w, "           %s%c: %d files written, %d already in place\n",
				filepath.Join(out, opts.Scope.Period.String(), o.Owner.String()), filepath.Separator, written, same)
		}
	}
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
