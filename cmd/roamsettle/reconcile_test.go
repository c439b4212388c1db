package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/store"
	"github.com/roamsettle/roamsettle/synth"
)

// rs runs the CLI in process and returns its standard output.
func rs(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("roamsettle %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// reconciledMonth generates a month, ingests every party's files into a
// new database and returns the database and the data folder.
func reconciledMonth(t *testing.T, cdrs int) (db, data string, sum synth.Summary) {
	t.Helper()
	dir := t.TempDir()
	data, db = filepath.Join(dir, "data"), filepath.Join(dir, "rs.duckdb")
	cfg := synth.DefaultConfig()
	cfg.CDRs = cdrs
	sum, err := synth.Generate(context.Background(), cfg, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sum.Parties {
		rs(t, "ingest", "--quiet", "--db", db, "--partner", p.CountryCode+"-"+p.PartyID,
			filepath.Join(data, p.TariffsFile), filepath.Join(data, p.LocationFile), filepath.Join(data, p.CDRFile))
	}
	return db, data, sum
}

func reconcileJSON(t *testing.T, db, data, party, period string, extra ...string) reconcile.JSONReport {
	t.Helper()
	args := append([]string{"reconcile", "--db", db, "--period", period, "--partner", party, "--json",
		"--tokens", filepath.Join(data, "tokens.ndjson")}, extra...)
	var rep reconcile.JSONReport
	if err := json.Unmarshal([]byte(rs(t, args...)), &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// What reconcile must find for each injected kind: a verdict MISMATCH whose
// most likely reason is the kind's, or a finding of the kind's code (at
// the field the ground truth names, for missing fields).
var kindReason = map[string]reconcile.Reason{"wrong_tariff_version": reconcile.ReasonTariffVersion,
	"wrong_price": reconcile.ReasonPrice, "rounding": reconcile.ReasonRounding, "vat": reconcile.ReasonTax,
	"time_zone": reconcile.ReasonTimeZone}
var kindCode = map[string]reconcile.Code{"missing_fields": reconcile.CodeMissingField, "duplicate": reconcile.CodeDuplicate,
	"conflict": reconcile.CodeConflict, "unknown_token": reconcile.CodeUnknownToken}

type prCount struct{ truth, found, hit int }

func (c prCount) precision() float64 {
	if c.found == 0 {
		return 1
	}
	return float64(c.hit) / float64(c.found)
}

func (c prCount) recall() float64 {
	if c.truth == 0 {
		return 1
	}
	return float64(c.hit) / float64(c.truth)
}

// score adds one kind's truth and found sets.
func score(counts map[string]prCount, kind string, truth, found map[string]bool) {
	c := counts[kind]
	c.truth += len(truth)
	c.found += len(found)
	for k := range found {
		if truth[k] {
			c.hit++
		}
	}
	counts[kind] = c
}

// On a generated month with injected errors, the disputes reconcile finds
// are the ground truth: precision and recall 100 % for every injected kind
// at the default tolerance, for CDR verdicts and reasons, findings, and
// invoice line classes (synth's partner invoices, with errors of their own).
// Every period the month's CDRs fall in (by end_date_time in UTC) is
// reconciled with the party's invoice.
func TestReconcileGroundTruth(t *testing.T) {
	db, data, sum := reconciledMonth(t, 4000)
	var screened, whole int
	defer func() {
		t.Logf("bulk path: %d CDRs accepted from columns, %d evaluated whole", screened, whole)
		if screened < 4*whole {
			t.Errorf("the bulk path accepted only %d CDRs from columns, %d evaluated whole", screened, whole)
		}
	}()
	gt := readCSV(t, filepath.Join(data, "ground_truth.csv"))
	it := readCSV(t, filepath.Join(data, "invoice_truth.csv"))
	counts := map[string]prCount{}
	for _, p := range sum.Parties {
		party := p.CountryCode + "-" + p.PartyID
		truth, found := map[string]map[string]bool{}, map[string]map[string]bool{}
		add := func(m map[string]map[string]bool, kind, key string) {
			if m[kind] == nil {
				m[kind] = map[string]bool{}
			}
			m[kind][key] = true
		}
		reported := map[string]bool{}
		lineTruth, lineFound := map[string]map[string]bool{}, map[string]map[string]bool{}
		for _, period := range []string{"2026-09", "2026-10", "2026-11"} {
			invoice := filepath.Join(data, p.CDRFile[:len(p.CDRFile)-len("cdrs.ndjson")]+"invoice.csv")
			rep := reconcileJSON(t, db, data, party, period, "--invoice", invoice)
			if period == "2026-10" {
				bulkAgreesWithPerCDR(t, db, data, party, period, invoice, &screened, &whole)
			}
			for _, c := range rep.CDRs {
				reported[ocpi.Key(c.ID)] = true
				if c.Verdict == reconcile.VerdictMismatch && len(c.Reasons) > 0 {
					for k, r := range kindReason {
						if c.Reasons[0] == r {
							add(found, k, ocpi.Key(c.ID))
						}
					}
				}
			}
			for _, f := range rep.Findings {
				for k, code := range kindCode {
					if f.Code == code {
						key := ocpi.Key(f.CDRID)
						if k == "missing_fields" {
							key += "@" + f.Field
						}
						add(found, k, key)
					}
				}
			}
			if period == "2026-10" {
				for _, l := range rep.Invoice.Lines {
					add(lineFound, string(l.Class), fmt.Sprint(l.Line))
				}
			}
			for _, id := range rep.Invoice.OursOnly {
				add(lineFound, "OURS_ONLY", ocpi.Key(id))
			}
		}
		for _, r := range gt {
			if r["country_code"] != p.CountryCode || r["party_id"] != p.PartyID {
				continue
			}
			key := ocpi.Key(r["cdr_id"])
			if !reported[key] {
				t.Errorf("%s: ground-truth CDR %s is in no period reconciled", party, key)
			}
			if r["error_kind"] == "missing_fields" {
				key += "@" + r["field"]
			}
			add(truth, r["error_kind"], key)
		}
		for _, r := range it {
			if r["country_code"] != p.CountryCode || r["party_id"] != p.PartyID {
				continue
			}
			key := r["line"]
			if r["class"] == "OURS_ONLY" {
				key = ocpi.Key(r["cdr_id"])
			}
			add(lineTruth, r["class"], key)
		}
		for _, k := range synth.ErrorKinds {
			score(counts, string(k), truth[string(k)], found[string(k)])
		}
		for _, c := range []string{"EXACT", "MISMATCH", "DUPLICATE", "PARTNER_ONLY", "OURS_ONLY"} {
			score(counts, "invoice "+c, lineTruth[c], lineFound[c])
		}
	}
	// Every partner at once (one pass over the period) gives each
	// partner's own summary.
	var each []string
	for _, p := range sum.Parties {
		each = append(each, p.CountryCode+"-"+p.PartyID)
	}
	sort.Strings(each)
	var want strings.Builder
	for _, party := range each {
		want.WriteString(rs(t, "reconcile", "--db", db, "--period", "2026-10", "--partner", party, "--tokens", filepath.Join(data, "tokens.ndjson")))
	}
	if all := rs(t, "reconcile", "--db", db, "--period", "2026-10", "--tokens", filepath.Join(data, "tokens.ndjson")); all != want.String() {
		firstDifferences(t, "every partner", all, want.String())
	}
	// price --db shows, for a stored CDR, each hypothesis tried and the
	// one that explains the billed amount.
	for _, r := range gt {
		if r["error_kind"] != "wrong_tariff_version" {
			continue
		}
		out := rs(t, "price", "--db", db, "--cdr", r["country_code"]+"-"+r["party_id"]+"-"+r["cdr_id"], "--explain")
		if !strings.Contains(out, "MISMATCH (TARIFF_VERSION") || !strings.Contains(out, "TARIFF_VERSION: tariff") ||
			!strings.Contains(out, "EXPLAINS the billed amount") || !strings.Contains(out, "total_cost") {
			t.Errorf("price --db %s:\n%s", r["cdr_id"], out)
		}
		break
	}
	var kinds []string
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		c := counts[k]
		t.Logf("%-24s truth %5d found %5d precision %6.2f %% recall %6.2f %%", k, c.truth, c.found, 100*c.precision(), 100*c.recall())
		if c.precision() != 1 || c.recall() != 1 {
			t.Errorf("%s: precision %.4f, recall %.4f", k, c.precision(), c.recall())
		}
		if c.truth == 0 && !strings.HasPrefix(k, "invoice") {
			t.Errorf("%s: nothing injected: the test proves nothing for it", k)
		}
	}
}

// The same inputs reconciled twice give the same report; a late CDR
// changes only what it touches (its own entry, findings and the counts
// and sums it adds to).
func TestReconcileIdempotentAndLateCDR(t *testing.T) {
	db, data, sum := reconciledMonth(t, 800)
	p := sum.Parties[0]
	party := p.CountryCode + "-" + p.PartyID
	first := rs(t, "reconcile", "--db", db, "--period", "2026-10", "--partner", party, "--json")
	if again := rs(t, "reconcile", "--db", db, "--period", "2026-10", "--partner", party, "--json"); again != first {
		t.Fatal("the same inputs reconciled twice differ")
	}
	// The disputes it raised, once, and one moved along its lifecycle.
	var ds []disputeJSON
	if err := json.Unmarshal([]byte(rs(t, "disputes", "--db", db, "--partner", party, "--json")), &ds); err != nil || len(ds) == 0 {
		t.Fatalf("disputes: %v (%d)", err, len(ds))
	}
	ref := ds[0].CountryCode + "-" + ds[0].PartyID + "-" + ds[0].CDRID
	if out := rs(t, "disputes", "move", "--db", db, "--cdr", ref, "--to", "sent", "--note", "mailed"); !strings.Contains(out, "sent (event 2)") {
		t.Errorf("move: %s", out)
	}
	var code int
	if code = Run(context.Background(), []string{"disputes", "move", "--db", db, "--cdr", ref, "--to", "raised"}, io.Discard, io.Discard); code == 0 {
		t.Error("sent -> raised allowed")
	}
	// A late CDR: the party's first CDR under a new id, received now.
	lines, err := os.ReadFile(filepath.Join(data, p.CDRFile))
	if err != nil {
		t.Fatal(err)
	}
	var firstCDR map[string]any
	for _, l := range bytes.Split(lines, []byte("\n")) {
		if bytes.Contains(l, []byte(`"end_date_time":"2026-10-1`)) {
			if err := json.Unmarshal(l, &firstCDR); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	firstCDR["id"] = "LATE-0001"
	late, _ := json.Marshal(firstCDR)
	path := filepath.Join(t.TempDir(), "late.json")
	if err := os.WriteFile(path, late, 0o644); err != nil {
		t.Fatal(err)
	}
	rs(t, "ingest", "--quiet", "--db", db, "--partner", party, path)
	second := rs(t, "reconcile", "--db", db, "--period", "2026-10", "--partner", party, "--json")
	var a, b reconcile.JSONReport
	if err := json.Unmarshal([]byte(first), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(second), &b); err != nil {
		t.Fatal(err)
	}
	if b.Summary.CDRs != a.Summary.CDRs+1 {
		t.Fatalf("CDRs %d -> %d", a.Summary.CDRs, b.Summary.CDRs)
	}
	entries := func(r reconcile.JSONReport) map[string]string {
		m := map[string]string{}
		for _, c := range r.CDRs {
			j, _ := json.Marshal(c)
			m[c.ID] = string(j)
		}
		for _, f := range r.Findings {
			j, _ := json.Marshal(f)
			m[f.CDRID+"/finding"] += string(j)
		}
		return m
	}
	ea, eb := entries(a), entries(b)
	for k, v := range eb {
		if strings.HasPrefix(k, "LATE-0001") {
			continue
		}
		if ea[k] != v {
			t.Errorf("%s changed:\n%s\n%s", k, ea[k], v)
		}
	}
	if len(eb) < len(ea)+1 || eb["LATE-0001"] == "" {
		t.Errorf("the late CDR is not reported (%d -> %d entries)", len(ea), len(eb))
	}
}

// bulkAgreesWithPerCDR: the bulk path (the priced rows and the CDRs'
// columns screened, only the rest evaluated whole) gives the per-CDR
// path's report byte for byte; it counts what the bulk path screened.
func bulkAgreesWithPerCDR(t *testing.T, db, data, party, period, invoice string, screened, whole *int) {
	t.Helper()
	args := []string{"reconcile", "--db", db, "--period", period, "--partner", party, "--json",
		"--tokens", filepath.Join(data, "tokens.ndjson"), "--invoice", invoice}
	var out, errb bytes.Buffer
	if code := Run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("%s: exit %d\n%s", party, code, errb.String())
	}
	for _, l := range strings.Split(errb.String(), "\n") {
		if i := strings.Index(l, "accepted_from_columns="); i >= 0 {
			var a, w int
			fmt.Sscanf(l[i:], "accepted_from_columns=%d evaluated_whole=%d", &a, &w)
			*screened, *whole = *screened+a, *whole+w
		}
	}
	if perCDR := rs(t, append(args, "--per-cdr")...); out.String() != perCDR {
		firstDifferences(t, party, out.String(), perCDR)
	}
}

// firstDifferences reports the first lines where two outputs differ.
func firstDifferences(t *testing.T, what, bulk, perCDR string) {
	t.Helper()
	a, b := strings.Split(bulk, "\n"), strings.Split(perCDR, "\n")
	shown := 0
	for i := 0; i < max(len(a), len(b)) && shown < 5; i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			t.Errorf("%s line %d:\n  bulk    %s\n  per-CDR %s", what, i+1, x, y)
			shown++
		}
	}
}

// The partner's stored 2.3.0 invoice reconciliation records are its
// invoices when no --invoice is given: the newest version of each record
// that names a CDR of the period, a withdrawn record left out, the total
// from --invoice-total or the config's invoice_totals.
func TestReconcileStoredInvoiceRecords(t *testing.T) {
	db, data, sum := reconciledMonth(t, 300)
	p := sum.Parties[0]
	party := p.CountryCode + "-" + p.PartyID
	lines, err := os.ReadFile(filepath.Join(data, p.CDRFile))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range bytes.Split(lines, []byte("\n")) {
		var c struct {
			ID     string `json:"id"`
			End    string `json:"end_date_time"`
			Credit bool   `json:"credit"`
		}
		if json.Unmarshal(l, &c) == nil && strings.HasPrefix(c.End, "2026-10-1") && !c.Credit && len(ids) < 3 {
			ids = append(ids, c.ID)
		}
	}
	dir := t.TempDir()
	irr := func(id, lastUpdated string, cdrs ...string) string {
		b, _ := json.Marshal(map[string]any{"country_code": p.CountryCode, "party_id": p.PartyID, "id": id, "invoice_id": "INV-" + id,
			"cdrs": cdrs, "last_updated": lastUpdated})
		path := filepath.Join(dir, id+lastUpdated[:10]+".json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	rs(t, "ingest", "--quiet", "--db", db, "--partner", party, "--version", "2.3.0", "--kind", "invoice_reconciliation",
		irr("A", "2026-11-02T00:00:00Z", ids[0]),                       // an older version of A
		irr("A", "2026-11-03T00:00:00Z", ids[0], ids[1], "NEVER-SENT"), // A's newest
		irr("B", "2026-11-03T00:00:00Z", ids[2]))                       // withdrawn below
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	err = st.WithdrawInvoice(context.Background(), p.CountryCode, p.PartyID, "B", time.Now())
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	rep := reconcileJSON(t, db, data, party, "2026-10", "--invoice-total", "12.34")
	inv := rep.Invoice
	if inv == nil {
		t.Fatal("no invoice matched")
	}
	var got []string
	for _, l := range inv.Lines {
		got = append(got, fmt.Sprintf("%s:%d %s %s", l.File, l.Line, l.CDRID, l.Class))
	}
	want := []string{"stored record A:1 " + ids[0] + " EXACT", "stored record A:2 " + ids[1] + " EXACT",
		"stored record A:3 NEVER-SENT PARTNER_ONLY"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if inv.Total.Stated == nil || inv.Total.Stated.ExclVAT == nil || *inv.Total.Stated.ExclVAT != "12.34" {
		t.Errorf("stated total %+v", inv.Total.Stated)
	}
	if len(inv.OursOnly) != rep.Summary.CDRs-2 {
		t.Errorf("ours only %d of %d CDRs", len(inv.OursOnly), rep.Summary.CDRs)
	}
}

// A month whose partners' CDRs are stored interleaved, a block of each
// partner's in turn as nightly pulls store them: a partner's keys span the
// month, so the bulk path reads the priced rows and periods of the
// partner's own keys, not of their range (the partner-by-partner month of
// TestReconcileGroundTruth reads them by range). The reports are still
// the per-CDR path's, byte for byte.
func TestReconcileBulkInterleaved(t *testing.T) {
	dir := t.TempDir()
	data, db := filepath.Join(dir, "data"), filepath.Join(dir, "rs.duckdb")
	cfg := synth.DefaultConfig()
	cfg.CDRs, cfg.Parties = 1200, 4
	sum, err := synth.Generate(context.Background(), cfg, data)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string][]string{}
	for _, p := range sum.Parties {
		party := p.CountryCode + "-" + p.PartyID
		rs(t, "ingest", "--quiet", "--db", db, "--partner", party,
			filepath.Join(data, p.TariffsFile), filepath.Join(data, p.LocationFile))
		b, err := os.ReadFile(filepath.Join(data, p.CDRFile))
		if err != nil {
			t.Fatal(err)
		}
		lines[party] = strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	const block = 60
	for round, more := 0, true; more; round++ {
		more = false
		for _, p := range sum.Parties {
			party := p.CountryCode + "-" + p.PartyID
			ls := lines[party]
			if round*block >= len(ls) {
				continue
			}
			more = true
			path := filepath.Join(dir, fmt.Sprintf("night-%03d-%s.ndjson", round, party))
			if err := os.WriteFile(path, []byte(strings.Join(ls[round*block:min((round+1)*block, len(ls))], "")), 0o644); err != nil {
				t.Fatal(err)
			}
			rs(t, "ingest", "--quiet", "--db", db, "--partner", party, path)
		}
	}
	// Each partner holds less than half of its key range: the bulk path
	// reads by the partner's keys.
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.DB().Query(`SELECT country_code || '-' || party_id, count(*), max(cdr_key) - min(cdr_key) + 1 FROM cdrs GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var party string
		var n, span int64
		if err := rows.Scan(&party, &n, &span); err != nil {
			t.Fatal(err)
		}
		if 2*n >= span {
			t.Errorf("%s: %d CDRs over %d keys: not interleaved", party, n, span)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close(), st.Close()); err != nil {
		t.Fatal(err)
	}
	var screened, whole int
	for _, p := range sum.Parties {
		party := p.CountryCode + "-" + p.PartyID
		invoice := filepath.Join(data, p.CDRFile[:len(p.CDRFile)-len("cdrs.ndjson")]+"invoice.csv")
		bulkAgreesWithPerCDR(t, db, data, party, "2026-10", invoice, &screened, &whole)
	}
	if screened < 4*whole {
		t.Errorf("the bulk path accepted only %d CDRs from columns, %d evaluated whole", screened, whole)
	}
}

// The CDRs the screen accepts from columns are stored by key
// (reconcile_accepted), those evaluated whole with their identity
// (reconcile_cdrs); a per-CDR reconciliation stores every CDR the second
// way. Invoices and reports read both: the same month gives the same
// documents, byte for byte, whichever way its results were stored, and a
// re-run replaces the accepted rows of the run before.
func TestDocumentsAgreeAfterBulkAndPerCDR(t *testing.T) {
	db, _, config, _ := generatedMonth(t, 600)
	accepted := func() (n int64) {
		t.Helper()
		st, err := store.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.DB().QueryRow(`SELECT count(*) FROM reconcile_accepted`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	documents := func(how string, extra ...string) map[string][]byte {
		t.Helper()
		rs(t, append([]string{"reconcile", "--config", config, "--period", "2026-10"}, extra...)...)
		out := filepath.Join(t.TempDir(), how)
		rs(t, "invoice", "--config", config, "--period", "2026-10", "--out", filepath.Join(out, "invoices"))
		rs(t, "report", "--config", config, "--period", "2026-10", "--out", filepath.Join(out, "reports"))
		return tree(t, out)
	}
	bulk := documents("bulk")
	if n := accepted(); n == 0 {
		t.Fatal("the bulk reconciliation stored no accepted CDR by key")
	}
	perCDR := documents("per-cdr", "--per-cdr")
	if n := accepted(); n != 0 {
		t.Errorf("after the per-CDR re-run, %d accepted rows of the run before remain", n)
	}
	if len(bulk) != len(perCDR) || len(bulk) < 10 {
		t.Fatalf("%d documents after the bulk reconciliation, %d after the per-CDR one", len(bulk), len(perCDR))
	}
	for name, b := range bulk {
		if !bytes.Equal(b, perCDR[name]) {
			t.Errorf("%s differs", name)
		}
	}
}
