package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ingest"
	"github.com/roamsettle/roamsettle/pricing"
	"github.com/roamsettle/roamsettle/settle"
	"github.com/roamsettle/roamsettle/store"
	"github.com/roamsettle/roamsettle/synth"
)

// demoPrinter prints what demo did: one line per phase, then the month as
// the last run settled it. Times are the only thing that varies between two
// demos; each is at the end of its line, in parentheses.
type demoPrinter struct {
	w         io.Writer
	generated synth.Summary
	docs      map[string]int64 // documents of every run, by kind
}

func seconds(d time.Duration) string { return fmt.Sprintf("(%.1f s)", d.Seconds()) }

func (p *demoPrinter) header(l demoLayout, cdrs int, seed uint64) {
	fmt.Fprintf(p.w, "roamsettle demo: the whole job on a generated month (%s, %d sessions, seed %d) in %s\n\n",
		l.month, cdrs, seed, l.shown)
}

func (p *demoPrinter) gen(s synth.Summary, took time.Duration) {
	p.generated = s
	fmt.Fprintf(p.w, "== 1/4 gen     %d CDRs (%d credit CDRs) for %d CPOs in %d currencies, %d injected billing errors %s\n",
		s.CDRLines, s.CreditCDRs, len(s.Parties), len(p.currencies()), s.InjectedErrors, seconds(took))
}

func (p *demoPrinter) currencies() []string {
	seen := map[string]bool{}
	var out []string
	for _, pt := range p.generated.Parties {
		if !seen[pt.Currency] {
			seen[pt.Currency] = true
			out = append(out, pt.Currency)
		}
	}
	sort.Strings(out)
	return out
}

func (p *demoPrinter) ingest(s ingest.Summary, took time.Duration) {
	var findings int64
	for _, n := range s.Findings {
		findings += n
	}
	fmt.Fprintf(p.w, "== 2/4 ingest  %d records: %d accepted, %d duplicates acknowledged, %d conflicts refused, %d rejected; %d findings kept for reconciliation %s\n",
		s.Records, s.Accepted, s.Duplicates, s.Conflicts, s.Rejected, findings, seconds(took))
}

func (p *demoPrinter) run(step int, r *settle.JobResult, took time.Duration) {
	docs := map[string]int64{}
	if p.docs == nil {
		p.docs = map[string]int64{}
	}
	for _, ev := range r.Steps {
		if ev.Name == "invoice" && ev.Report != nil {
			for _, k := range []string{"statements", "invoices", "credit_notes"} {
				docs[k] += ev.Report.Counts[k]
				p.docs[k] += ev.Report.Counts[k]
			}
		}
	}
	what := fmt.Sprintf("%d statements", docs["statements"])
	if r.Key.Kind != settle.JobProvisional {
		what = fmt.Sprintf("%d numbered invoices, %d credit notes", docs["invoices"], docs["credit_notes"])
	}
	priced := "priced"
	if len(r.Steps) > 0 && r.Steps[0].Reused {
		priced = "prices reused"
	}
	fmt.Fprintf(p.w, "== %d/4 run %d   %s: %s, reconciled, %s, reports and exports for %d partners %s\n",
		step, r.No, r.Key, priced, what, len(r.Owners), seconds(took))
}

func (p *demoPrinter) noFinal(asOf time.Time) {
	fmt.Fprintf(p.w, "== 4/4 no final run: the month's grace period ends at %s, after now (statements only)\n", asOf.Format(time.RFC3339))
}

// demoFigures are the month's figures summed over the partners' steps of
// a run; amounts per currency, never across.
type demoFigures struct {
	counts  map[string]int64
	reasons map[string]int64
	amounts map[string]map[string]decimal.Decimal // currency, amount name
}

func figuresOf(r *settle.JobResult) demoFigures {
	f := demoFigures{counts: map[string]int64{}, reasons: map[string]int64{}, amounts: map[string]map[string]decimal.Decimal{}}
	for _, ev := range r.Steps {
		if ev.Report == nil {
			continue
		}
		for k, n := range ev.Report.Counts {
			if reason, ok := strings.CutPrefix(k, "reason "); ok {
				f.reasons[reason] += n
			} else {
				f.counts[ev.Name+" "+k] += n
			}
		}
		for _, a := range ev.Report.Amounts {
			if f.amounts[a.Currency] == nil {
				f.amounts[a.Currency] = map[string]decimal.Decimal{}
			}
			f.amounts[a.Currency][a.Name] = f.amounts[a.Currency][a.Name].Add(a.Amount)
		}
	}
	return f
}

// summary prints what run r settled; priced is what the run that priced the
// month found (the provisional one, whose rows the final run used).
func (p *demoPrinter) summary(l demoLayout, c store.Counts, r *settle.JobResult, priced *settle.Summary, took time.Duration) {
	w := p.w
	f := figuresOf(r)
	fmt.Fprintf(w, "\n%s, as run %d (%s) settled it:\n", l.month, r.No, r.Key.Kind)
	if s := priced; s != nil {
		fmt.Fprintf(w, "  CDRs: %d stored, %d in the month: %d priced (%d by the kernel, %d by the decimal reference), %d not priceable\n",
			c.CDRs, s.CDRs, s.Kernel+s.Reference, s.Kernel, s.Reference, s.CDRs-s.Kernel-s.Reference)
	} else {
		fmt.Fprintf(w, "  CDRs: %d stored, %d in the month, with the prices an earlier run computed\n", c.CDRs, r.Inputs.Rows("cdrs"))
	}
	fmt.Fprintf(w, "  reconciled: %d OK, %d mismatch, %d not verifiable; %d disputed\n",
		f.counts["reconcile ok"], f.counts["reconcile mismatch"], f.counts["reconcile not_verifiable"], f.counts["reconcile disputed"])
	fmt.Fprintln(w, "  disputes by reason (a CDR may have several):")
	reasons := make([]string, 0, len(f.reasons))
	for k := range f.reasons {
		reasons = append(reasons, k)
	}
	sort.Slice(reasons, func(i, j int) bool {
		a, b := reasons[i], reasons[j]
		return f.reasons[a] > f.reasons[b] || f.reasons[a] == f.reasons[b] && a < b
	})
	for _, k := range reasons {
		fmt.Fprintf(w, "    %-28s %6d\n", k, f.reasons[k])
	}
	invoiced := "payable"
	if r.Key.Kind == settle.JobProvisional {
		invoiced = "statement payable"
	}
	fmt.Fprintf(w, "  amounts per currency (excl. VAT; invoiced: incl. VAT):\n    %-8s %16s %16s %16s %16s\n", "", "billed", "recomputed", "in dispute", "invoiced")
	curs := make([]string, 0, len(f.amounts))
	for c := range f.amounts {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	for _, cur := range curs {
		if cur == "" {
			// Each partner's CDRs that state no currency: their amounts
			// cannot be added to anything (reconcile disputes them).
			continue
		}
		a := f.amounts[cur]
		minor, _ := pricing.CurrencyMinorUnits(cur)
		cell := func(name string) string {
			v, ok := a[name]
			if !ok {
				return "–"
			}
			return v.StringFixed(int32(minor))
		}
		fmt.Fprintf(w, "    %-8s %16s %16s %16s %16s\n", cur, cell(amountBilled), cell(amountRecomputed), cell(amountInDispute), cell(invoiced))
	}
	fmt.Fprintf(w, "  documents: %d settlement statements, %d numbered invoices, %d credit notes\n",
		p.docs["statements"], p.docs["invoices"], p.docs["credit_notes"])
	fmt.Fprintln(w, "\nwhere everything is:")
	docs := l.show(l.month, "CC-PID")
	for _, row := range [][2]string{
		{"invoices", filepath.Join(docs, "INV-*.pdf") + " (.xlsx, .json, and .ubl.xml: UBL 2.1)"},
		{"settlement statements", filepath.Join(docs, "statement-*.pdf") + " (.xlsx, .json)"},
		{"dispute workbooks", filepath.Join(docs, "disputes-*.xlsx") + " (.csv)"},
		{"KPI reports", filepath.Join(docs, "kpi-*.pdf") + " (.xlsx with charts, .json)"},
		{"reconciliation", filepath.Join(docs, "reconcile.json")},
		{"Parquet exports", l.show("parquet", "TABLE", "partner=CC-PID", "period="+l.month) + string(filepath.Separator)},
		{"generated data", l.show("data") + string(filepath.Separator) + " (ground_truth.csv: the injected errors)"},
		{"database and config", l.show("roamsettle.duckdb") + ", " + l.show("roamsettle.toml")},
	} {
		fmt.Fprintf(w, "  %-22s %s\n", row[0], row[1])
	}
	fmt.Fprintf(w, "  the runs:              roamsettle runs --config %s\n", l.show("roamsettle.toml"))
	fmt.Fprintf(w, "\ndemo done %s\n", seconds(took))
}

// demoLayout is the demo's folder: what it owns there (and removes before
// it starts, so that nothing of an earlier demo stays) and how it prints
// paths (as the user gave --out).
type demoLayout struct {
	shown, root, month string
}

func (l demoLayout) path(elem ...string) string {
	return filepath.Join(append([]string{l.root}, elem...)...)
}

func (l demoLayout) show(elem ...string) string {
	return filepath.Join(append([]string{l.shown}, elem...)...)
}

// clean removes the generated data, the database with everything beside it
// (.wal, the raw archive, the identity index), and the month's documents
// and Parquet exports.
func (l demoLayout) clean() error {
	db := l.path("roamsettle.duckdb")
	exports, _ := filepath.Glob(l.path("parquet", "*", "*", "period="+l.month))
	for _, p := range append([]string{l.path("data"), db, db + ".wal", db + ".raw", db + ".idx", l.path(l.month)}, exports...) {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return os.MkdirAll(l.root, 0o755)
}
