package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/settle"
	"github.com/roamsettle/roamsettle/store"
	"github.com/roamsettle/roamsettle/synth"
)

// synthMonth generates a small month, ingests it into a file database and
// returns the open store and the data folder.
func synthMonth(t *testing.T, cdrs int) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := synth.DefaultConfig()
	cfg.CDRs = cdrs
	if _, err := synth.Generate(ctx, cfg, data); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "rs.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	jobs, err := expandInputs([]string{data}, ocpi.Hint{})
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Log: newLogger(io.Discard, "")}
	if _, errs := importJobs(ctx, env, st, jobs, true); len(errs) > 0 {
		t.Fatal(errs)
	}
	return st, data
}

// groundTruth returns the CDR ids (CC*PID*ID) with an injected error.
func groundTruth(t *testing.T, data string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(data, "ground_truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range recs[1:] {
		out[r[0]+"*"+r[1]+"*"+strings.ToUpper(r[2])] = r[3]
	}
	return out
}

// amountKinds are the injected errors that change the billed total_cost
// (the others: duplicates, conflicts, unknown tokens, missing fields).
var amountKinds = map[string]bool{"wrong_tariff_version": true, "wrong_price": true, "rounding": true, "vat": true, "time_zone": true}

// TestRepriceSynthGroundTruth re-prices a generated month and checks it
// against the generator's ground truth: every clean CDR recomputes to its
// billed total_cost, excl and incl VAT, and every injected error that
// changes an amount is found.
func TestRepriceSynthGroundTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and ingests a month")
	}
	ctx := context.Background()
	st, data := synthMonth(t, 1500)
	truth := groundTruth(t, data)
	sum, err := settleRun(ctx, st, monthRun(t, "2026-10", true), defaultMemoryLimit)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.DB().QueryContext(ctx, `SELECT c.country_code, c.party_id, c.id, p.status, coalesce(p.reason, ''),
			coalesce(p.total_cost_excl_vat::VARCHAR, ''), coalesce(p.total_cost_incl_vat::VARCHAR, ''),
			coalesce(p.billed_total_cost_excl_vat::VARCHAR, ''), coalesce(p.billed_total_cost_incl_vat::VARCHAR, ''),
			p.difference_excl_vat IS DISTINCT FROM 0 OR coalesce(p.difference_incl_vat, 0) <> 0
		FROM priced_cdrs_compared p JOIN cdrs c USING (cdr_key) WHERE p.run_id = ? ORDER BY c.id`, sum.Run.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var clean, cleanEqual, dirty, dirtyFound int
	for rows.Next() {
		var cc, pid, id, status, reason, tx, ti, bx, bi string
		var differs bool
		if err := rows.Scan(&cc, &pid, &id, &status, &reason, &tx, &ti, &bx, &bi, &differs); err != nil {
			t.Fatal(err)
		}
		kind, injected := truth[cc+"*"+pid+"*"+id]
		if !injected {
			clean++
			if status == "priced" && !differs {
				cleanEqual++
			} else {
				t.Errorf("clean CDR %s*%s*%s: %s %s computed %s/%s billed %s/%s", cc, pid, id, status, reason, tx, ti, bx, bi)
			}
			continue
		}
		dirty++
		if differs || status != "priced" {
			dirtyFound++
		} else if amountKinds[kind] {
			t.Errorf("injected %s in %s*%s*%s not found: computed %s/%s billed %s/%s", kind, cc, pid, id, tx, ti, bx, bi)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if clean == 0 {
		t.Fatal("no clean CDRs")
	}
	t.Logf("clean CDRs recomputed to the billed amount: %d of %d (%.2f %%); CDRs with an injected error that differ or are not priceable: %d of %d",
		cleanEqual, clean, 100*float64(cleanEqual)/float64(clean), dirtyFound, dirty)
}

// monthRun is the options of a run over every partner's CDRs of a month.
func monthRun(t testing.TB, month string, lines bool) settle.Options {
	t.Helper()
	p, err := settle.ParsePeriod(month)
	if err != nil {
		t.Fatal(err)
	}
	return settle.Options{Run: settle.Run{Kind: settle.KindReprice, Scope: settle.Scope{Period: p}}, Lines: lines}
}

// TestRepriceIdempotent re-prices the same scope twice: the second run
// replaces the first's rows with identical ones, and another scope's run
// leaves them alone.
func TestRepriceIdempotent(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and ingests a month")
	}
	ctx := context.Background()
	st, _ := synthMonth(t, 300)
	opts := monthRun(t, "2026-10", true)
	checksum := func() (int64, int64, string) {
		t.Helper()
		cdrs, lines, sum, err := st.PricedChecksum(ctx, opts.Run.ID())
		if err != nil {
			t.Fatal(err)
		}
		return cdrs, lines, sum
	}
	first := opts
	first.BatchCDRs = 50
	sum, err := settleRun(ctx, st, first, defaultMemoryLimit)
	if err != nil {
		t.Fatal(err)
	}
	c1, l1, s1 := checksum()
	if c1 != sum.CDRs || c1 == 0 || l1 == 0 {
		t.Fatalf("first run: %d priced_cdrs and %d lines for %d CDRs", c1, l1, sum.CDRs)
	}
	// Another batch size and worker count must not change a row.
	second := opts
	second.Workers = 1
	if _, err := settleRun(ctx, st, second, defaultMemoryLimit); err != nil {
		t.Fatal(err)
	}
	if c2, l2, s2 := checksum(); c2 != c1 || l2 != l1 || s2 != s1 {
		t.Fatalf("second run: %d/%d/%s, first %d/%d/%s", c2, l2, s2, c1, l1, s1)
	}
	other := opts
	other.Run.Scope.Partner = settle.NewParty("NL", "EVB")
	if _, err := settleRun(ctx, st, other, defaultMemoryLimit); err != nil {
		t.Fatal(err)
	}
	if c3, l3, s3 := checksum(); c3 != c1 || l3 != l1 || s3 != s1 {
		t.Fatalf("after another scope's run: %d/%d/%s, before %d/%d/%s", c3, l3, s3, c1, l1, s1)
	}
	var runs int
	if err := st.DB().QueryRowContext(ctx, `SELECT count(*) FROM reprice_runs`).Scan(&runs); err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Fatalf("reprice_runs has %d rows, want one per scope (2)", runs)
	}
}

// TestRepriceGoldenSummary guards the run end to end: a generated month of
// a fixed seed, ingested and re-priced, gives exactly these counts and
// amounts (testdata/reprice_summary.golden; -update rewrites it, and the
// commit says why it changed).
func TestRepriceGoldenSummary(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and ingests a month")
	}
	ctx := context.Background()
	st, _ := synthMonth(t, 2000)
	sum, err := settleRun(ctx, st, monthRun(t, "2026-10", true), defaultMemoryLimit)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printRepriceSummary(&b, sum)
	var out []string
	for _, line := range strings.Split(b.String(), "\n") {
		if !strings.Contains(line, "elapsed") {
			out = append(out, line)
		}
	}
	// The amounts the run wrote, per currency and outcome.
	rows, err := st.DB().QueryContext(ctx, `SELECT coalesce(currency, ''), billed_outcome, count(*),
			coalesce(sum(total_cost_excl_vat), 0)::VARCHAR, coalesce(sum(total_cost_incl_vat), 0)::VARCHAR,
			coalesce(sum(billed_total_cost_excl_vat), 0)::VARCHAR
		FROM priced_cdrs_compared WHERE run_id = ? GROUP BY ALL ORDER BY ALL`, sum.Run.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out = append(out, "priced_cdrs by currency and outcome: CDRs, Σ computed excl, Σ computed incl, Σ billed excl")
	for rows.Next() {
		var cur, outcome, ex, in, billed string
		var n int64
		if err := rows.Scan(&cur, &outcome, &n, &ex, &in, &billed); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("  %-3s %-16s %6d %14s %14s %14s", cur, outcome, n, ex, in, billed))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(out, "\n") + "\n"
	golden := filepath.Join("testdata", "reprice_summary.golden")
	if updating() {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("summary differs from %s (-update rewrites it):\n%s", golden, diffLines(string(want), got))
	}
}

// diffLines lists the lines of want and got that differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "- %s\n+ %s\n", a, c)
		}
	}
	return b.String()
}

// TestRepriceMissingTotalCost: a CDR without total_cost has no billed
// amount (not a billed 0.00): it is counted as such, adds nothing to the
// differences, and the view shows no billed amount and no difference; a
// CDR that states 0 is a billed amount and is compared.
func TestRepriceMissingTotalCost(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and ingests a month")
	}
	ctx := context.Background()
	st, data := synthMonth(t, 300)
	truth := groundTruth(t, data)
	// Clean CDRs of a 2.2.1 partner, sent again under new ids: three without
	// total_cost, two with a total_cost of 0.
	f, err := os.ReadFile(filepath.Join(data, "NL-EVB", "cdrs.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	missing, zero := 0, 0
	for _, line := range strings.Split(string(f), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["credit"] == true {
			continue
		}
		id, _ := m["id"].(string)
		if _, injected := truth["NL*EVB*"+strings.ToUpper(id)]; injected {
			continue
		}
		switch {
		case missing < 3:
			delete(m, "total_cost")
			m["id"] = id + "-NOCOST"
			missing++
		case zero < 2:
			m["total_cost"] = map[string]any{"excl_vat": 0}
			m["id"] = id + "-ZERO"
			zero++
		}
		b, _ := json.Marshal(m)
		extra = append(extra, string(b))
		if zero == 2 {
			break
		}
	}
	if len(extra) != 5 {
		t.Fatalf("found %d clean CDRs to send again", len(extra))
	}
	file := filepath.Join(t.TempDir(), "NL-EVB", "extra.ndjson")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(strings.Join(extra, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	jobs, err := expandInputs([]string{file}, ocpi.Hint{})
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Log: newLogger(io.Discard, "")}
	if _, errs := importJobs(ctx, env, st, jobs, true); len(errs) > 0 {
		t.Fatal(errs)
	}
	sum, err := settleRun(ctx, st, monthRun(t, "2026-10", false), defaultMemoryLimit)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]string{}
	rows, err := st.DB().QueryContext(ctx, `SELECT c.id, p.billed_outcome, coalesce(p.billed_total_cost_excl_vat::VARCHAR, 'NULL'),
			coalesce(p.difference_excl_vat::VARCHAR, 'NULL')
		FROM priced_cdrs_compared p JOIN cdrs c USING (cdr_key) WHERE p.run_id = ? AND (c.id LIKE '%-NOCOST' OR c.id LIKE '%-ZERO')`, sum.Run.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, outcome, billed, diff string
		if err := rows.Scan(&id, &outcome, &billed, &diff); err != nil {
			t.Fatal(err)
		}
		outcomes[id] = outcome + " " + billed + " " + diff
	}
	if len(outcomes) != 5 {
		t.Fatalf("%d of the 5 CDRs sent again were priced: %v", len(outcomes), outcomes)
	}
	for id, o := range outcomes {
		switch {
		case strings.HasSuffix(id, "-NOCOST") && o != "no_billed_amount NULL NULL":
			t.Errorf("%s without total_cost: %s, want no billed amount and no difference", id, o)
		case strings.HasSuffix(id, "-ZERO") && !strings.HasPrefix(o, "different 0.000000 "):
			t.Errorf("%s with total_cost 0: %s, want a difference from the billed 0", id, o)
		}
	}
	if sum.Count(reconcile.NoBilled) != 3 {
		t.Errorf("the summary counts %d CDRs without a billed amount, want 3", sum.Count(reconcile.NoBilled))
	}
	var inDiffs int64
	for _, d := range sum.Differences {
		inDiffs += d.CDRs
	}
	if inDiffs != sum.Count(reconcile.Different) {
		t.Errorf("differences count %d CDRs, the outcomes %d different", inDiffs, sum.Count(reconcile.Different))
	}
}
