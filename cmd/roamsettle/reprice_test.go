package main

import (
	"context"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
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
	sum, err := reprice(ctx, st, repriceOptions{Scope: store.RepriceScope{From: mustMonth(t, "2026-10"), To: mustMonth(t, "2026-11")}, Lines: true})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.DB().QueryContext(ctx, `SELECT c.country_code, c.party_id, c.id, p.status, coalesce(p.reason, ''),
			coalesce(p.total_cost_excl_vat::VARCHAR, ''), coalesce(p.total_cost_incl_vat::VARCHAR, ''),
			coalesce(p.billed_total_cost_excl_vat::VARCHAR, ''), coalesce(p.billed_total_cost_incl_vat::VARCHAR, ''),
			p.difference_excl_vat IS DISTINCT FROM 0 OR coalesce(p.difference_incl_vat, 0) <> 0
		FROM priced_cdrs_compared p JOIN cdrs c USING (cdr_key) WHERE p.run_id = ? ORDER BY c.id`, sum.RunID)
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

func mustMonth(t testing.TB, s string) time.Time {
	t.Helper()
	m, err := time.Parse("2006-01", s)
	if err != nil {
		t.Fatal(err)
	}
	return m
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
	scope := store.RepriceScope{From: mustMonth(t, "2026-10"), To: mustMonth(t, "2026-11")}
	checksum := func() (int64, int64, string) {
		t.Helper()
		cdrs, lines, sum, err := st.PricedChecksum(ctx, runID(scope))
		if err != nil {
			t.Fatal(err)
		}
		return cdrs, lines, sum
	}
	first, err := reprice(ctx, st, repriceOptions{Scope: scope, Lines: true, BatchCDRs: 50})
	if err != nil {
		t.Fatal(err)
	}
	c1, l1, s1 := checksum()
	if c1 != first.CDRs || c1 == 0 || l1 == 0 {
		t.Fatalf("first run: %d priced_cdrs and %d lines for %d CDRs", c1, l1, first.CDRs)
	}
	// Another batch size and worker count must not change a row.
	if _, err := reprice(ctx, st, repriceOptions{Scope: scope, Lines: true, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	if c2, l2, s2 := checksum(); c2 != c1 || l2 != l1 || s2 != s1 {
		t.Fatalf("second run: %d/%d/%s, first %d/%d/%s", c2, l2, s2, c1, l1, s1)
	}
	// Contexts read per CDR (as for a hash two contexts share) give the
	// same rows as contexts read once per hash.
	if _, err := reprice(ctx, st, repriceOptions{Scope: scope, Lines: true, perCDRContexts: true}); err != nil {
		t.Fatal(err)
	}
	if c2, l2, s2 := checksum(); c2 != c1 || l2 != l1 || s2 != s1 {
		t.Fatalf("with per-CDR contexts: %d/%d/%s, first %d/%d/%s", c2, l2, s2, c1, l1, s1)
	}
	other := scope
	other.CountryCode, other.PartyID = "NL", "EVB"
	if _, err := reprice(ctx, st, repriceOptions{Scope: other, Lines: true}); err != nil {
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

// TestLocationVersionAtStart: the stored location version a CDR is priced
// with is the latest whose last_updated is not after the session start,
// else the oldest (also when the start is unknown).
func TestLocationVersionAtStart(t *testing.T) {
	v := &locVersions{at: []int64{100, 200, 200, 300}}
	for _, tc := range []struct {
		start int64
		known bool
		want  int
	}{
		{50, true, 0},   // before every version: the oldest
		{100, true, 0},  // at a version's last_updated: that version
		{199, true, 0},  //
		{200, true, 2},  // equal last_updated: the later stored one
		{1000, true, 3}, // after the last
		{1000, false, 0},
	} {
		if got := v.version(tc.start, tc.known); got != tc.want {
			t.Errorf("version(%d, %v) = %d, want %d", tc.start, tc.known, got, tc.want)
		}
	}
}
