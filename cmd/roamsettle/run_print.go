package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/settle"
)

// jobPrinter prints a run of the whole job as it goes: one line per step,
// then where the files are.
type jobPrinter struct {
	w io.Writer
}

// inputsLine says what a run settles.
func inputsLine(in settle.JobInputs) string {
	digest := in.Digest
	if len(digest) > 12 {
		digest = digest[:12]
	}
	return fmt.Sprintf("%d CDRs, %d tariff versions, %d location versions (inputs digest %s)",
		in.Rows("cdrs"), in.Rows("tariff_versions"), in.Rows("location_versions"), digest)
}

func (p *jobPrinter) begin(r *settle.JobResult) {
	for _, f := range r.PullsFailed {
		fmt.Fprintf(p.w, "pull failed (the run goes on with what is stored): %s\n", f)
	}
	how := "new"
	if r.Resumed {
		how = "taken up again after an interrupted attempt"
	}
	fmt.Fprintf(p.w, "run %d: %s (%s): %s\n", r.No, r.Key, how, inputsLine(r.Inputs))
}

func (p *jobPrinter) step(ev settle.StepEvent) {
	name := ev.Name
	if !ev.Party.IsZero() {
		name += " " + ev.Party.String()
	}
	if ev.Skipped {
		fmt.Fprintf(p.w, "  %-18s done by an earlier attempt of this run, on the same inputs\n", name)
		return
	}
	var b strings.Builder
	switch {
	case ev.Reused:
		b.WriteString("not priced again: the stored prices were computed by an earlier run from the same inputs")
	case ev.Price != nil:
		s := ev.Price
		var np int64
		for _, n := range s.NotPriceable {
			np += n
		}
		fmt.Fprintf(&b, "%d CDRs: %d priced (%d kernel, %d reference), %d not priceable; billed vs recomputed: %d equal, %d different, %d without a billed amount",
			s.CDRs, s.Kernel+s.Reference, s.Kernel, s.Reference, np, s.Count(reconcile.Equal), s.Count(reconcile.Different), s.Count(reconcile.NoBilled))
	case ev.Report != nil:
		b.WriteString(countsLine(ev.Report.Counts))
		for _, a := range ev.Report.Amounts {
			cur := a.Currency
			if cur == "" {
				// CDRs that state no currency: their amounts are summed
				// apart, never added to any currency's.
				cur = "(CDRs without a currency)"
			}
			fmt.Fprintf(&b, "; %s %s %s", a.Name, cur, a.Amount.String())
		}
		if ev.Report.Note != "" {
			b.WriteString("; " + ev.Report.Note)
		}
	}
	fmt.Fprintf(p.w, "  %-18s %s (%s)\n", name, b.String(), ev.Elapsed.Round(time.Millisecond))
}

// countsLine prints counts in a fixed order: known names first, the rest
// sorted.
func countsLine(c map[string]int64) string {
	order := []string{"cdrs", "ok", "mismatch", "not_verifiable", "disputed", "disputes_raised", "disputes_revised",
		"statements", "invoices", "credit_notes", "documents", "files"}
	var parts []string
	seen := map[string]bool{}
	for _, k := range order {
		if v, ok := c[k]; ok {
			parts = append(parts, fmt.Sprintf("%d %s", v, strings.ReplaceAll(k, "_", " ")))
			seen[k] = true
		}
	}
	var rest []string
	for k := range c {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, fmt.Sprintf("%d %s", c[k], strings.ReplaceAll(k, "_", " ")))
	}
	return strings.Join(parts, ", ")
}

func (p *jobPrinter) result(r *settle.JobResult) {
	if r.Unchanged {
		for _, f := range r.PullsFailed {
			fmt.Fprintf(p.w, "pull failed (the run went on with what is stored): %s\n", f)
		}
		fmt.Fprintf(p.w, "run %s: unchanged: the inputs, %s, are those of run %d, whose %d files are in place; nothing to do\n",
			r.Key, inputsLine(r.Inputs), r.Same, len(r.Files))
		return
	}
	if r.No == 0 {
		return
	}
	written, same := 0, 0
	for _, f := range r.Files {
		if f.Unchanged {
			same++
		} else {
			written++
		}
	}
	fmt.Fprintf(p.w, "run %d done in %s: %d files written, %d already in place; `roamsettle runs show %d` lists them\n",
		r.No, r.Elapsed.Round(time.Millisecond), written, same, r.No)
}
