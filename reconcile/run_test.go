package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/roamsettle/roamsettle/ocpi"
)

// periodCDRs are n CDRs, every third billed under the older version (a
// MISMATCH whose hypotheses are tried).
func periodCDRs(t *testing.T, n int) []*ocpi.CDR {
	var out []*ocpi.CDR
	for i := range n {
		c := sessionCDR()
		c.ID = fmt.Sprintf("CDR%03d", i)
		v := v2
		if i%3 == 0 {
			v = v1
		}
		billAs(t, c, []ocpi.Tariff{v}, baseOpts)
		out = append(out, c)
	}
	return out
}

func periodInput(cdrs []*ocpi.CDR, workers int) *Input {
	return &Input{PeriodName: "2026-10", Partner: "NL-EVB", CDRs: cdrs, Zones: baseOpts.Zones, Policy: baseOpts.Policy,
		Versions: map[string][]ocpi.Tariff{"T1": {v1, v2}}, Workers: workers}
}

func reportJSON(t *testing.T, r *Report) string {
	var b strings.Builder
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// CDRs given chunk by chunk (the bulk path streams them) give the report
// of the same CDRs given at once, on any number of workers.
func TestReconcileChunksGiveTheSameReport(t *testing.T) {
	cdrs := periodCDRs(t, 25)
	want := reportJSON(t, Reconcile(periodInput(cdrs, 1)))
	for _, size := range []int{1, 7, 25} {
		for _, workers := range []int{1, 3} {
			in := periodInput(nil, workers)
			pulled := 0
			in.Chunks = func(yield func([]*ocpi.CDR, map[string]ocpi.Problems) error) error {
				for from := 0; from < len(cdrs); from += size {
					pulled++
					if err := yield(cdrs[from:min(from+size, len(cdrs))], nil); err != nil {
						return err
					}
				}
				return nil
			}
			r, err := ReconcileContext(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if got := reportJSON(t, r); got != want {
				t.Errorf("chunks of %d on %d workers: report differs\n%s\nwant\n%s", size, workers, got, want)
			}
			if want := (len(cdrs) + size - 1) / size; pulled != want {
				t.Errorf("chunks of %d: %d pulled, want %d", size, pulled, want)
			}
		}
	}
}

// A cancelled context stops the reconciliation: no CDR is evaluated after
// it is done, no further chunk is pulled, and the error is the context's.
func TestReconcileContextStops(t *testing.T) {
	cdrs := periodCDRs(t, 40)
	var evaluated atomic.Int64
	count := func(in *Input) {
		in.ConnectorTariffs = func(*ocpi.CDR) []string { evaluated.Add(1); return nil }
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := periodInput(cdrs, 2)
	count(in)
	if _, err := ReconcileContext(ctx, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: %v", err)
	}
	if n := evaluated.Load(); n != 0 {
		t.Errorf("cancelled before: %d CDRs evaluated", n)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	in = periodInput(nil, 2)
	count(in)
	pulled := 0
	in.Chunks = func(yield func([]*ocpi.CDR, map[string]ocpi.Problems) error) error {
		for from := 0; from < len(cdrs); from += 10 {
			pulled++
			if pulled == 2 {
				cancel() // e.g. SIGTERM while the second chunk loads
			}
			if err := yield(cdrs[from:from+10], nil); err != nil {
				return err
			}
		}
		return nil
	}
	evaluated.Store(0)
	if _, err := ReconcileContext(ctx, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled in the second chunk: %v", err)
	}
	if pulled != 2 || evaluated.Load() != 10 {
		t.Errorf("cancelled in the second chunk: %d chunks pulled, %d CDRs evaluated; want 2 and 10", pulled, evaluated.Load())
	}
}

// WriteJSON streams the CDRs and findings but writes the bytes of encoding
// the whole report at once: with evaluated and accepted CDRs merged,
// findings (with characters JSON escapes), an invoice, and with none.
func TestWriteJSONStreamsTheWholeEncoding(t *testing.T) {
	whole := func(r *Report) string {
		j := r.Build()
		k := r.KPIs(r.TokensKnown)
		j.KPIs = &k
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		if err := enc.Encode(j); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	full := Reconcile(periodInput(periodCDRs(t, 12), 1))
	nlEVB := &AcceptedGroup{CountryCode: "NL", PartyID: "EVB", Currency: "EUR", MinorUnits: 2}
	full.Accepted = []Accepted{
		{Key: 1, ID: "CDR004a", AcceptedGroup: nlEVB},
		{Key: 2, ID: "AAA", AcceptedGroup: nlEVB},
		{Key: 3, ID: "ZZZ", AcceptedGroup: nlEVB},
	}
	full.Findings = append(full.Findings, Finding{CountryCode: "NL", PartyID: "EVB", CDRID: "CDR001", Code: "X1",
		Severity: "error", Field: "cdr_token.uid", Message: `a <b> & "c" \ é`, Blocking: true})
	full.Invoice = &InvoiceResult{OursOnly: []string{"CDR002"}}
	accepted := &Report{Period: "2026-10", Partner: "NL-EVB", Accepted: full.Accepted}
	for name, r := range map[string]*Report{"full": full, "accepted only": accepted, "empty": {Period: "2026-10", Partner: "NL-EVB"}} {
		want := whole(r)
		if got := reportJSON(t, r); got != want {
			t.Errorf("%s: streamed JSON differs from the whole encoding\n%s\nwant\n%s", name, got, want)
		}
	}
	if len(full.Evaluations) == 0 || len(full.Findings) == 0 {
		t.Fatal("the full report has no evaluations or findings")
	}
}
