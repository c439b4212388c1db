package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/roamsettle/roamsettle/reconcile"
)

// kpiJSON is what the test reads of a KPI report's JSON.
type kpiJSON struct {
	CDRs     int            `json:"cdrs"`
	Accepted int            `json:"accepted"`
	Disputed int            `json:"disputed"`
	ByReason map[string]int `json:"by_reason"`
	KPIs     map[string]struct {
		Rate *string `json:"rate"`
	} `json:"kpis"`
	Currencies map[string]struct {
		Billed     *string `json:"billed_excl_vat"`
		Recomputed *string `json:"recomputed_excl_vat"`
		InDispute  string  `json:"in_dispute_excl_vat"`
	} `json:"currencies"`
}

// tree reads every file under dir by its slash path.
func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// `roamsettle report` on a reconciled generated month: each partner's
// documents and Parquet exports, the KPIs equal to reconcile's own, every
// disputed CDR in the workbook and its CSV, and the same bytes again.
func TestReportEndToEnd(t *testing.T) {
	db, data, sum := reconciledMonth(t, 1000)
	out := filepath.Join(t.TempDir(), "out")
	// Nothing reconciled yet: refused, naming the partners.
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"report", "--db", db, "--period", "2026-10", "--out", out}, &stdout, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "reconcile the period first") {
		t.Fatalf("unreconciled period: exit %d, %s", code, stderr.String())
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused report wrote into the output folder")
	}
	reps := map[string]reconcile.JSONReport{}
	for _, p := range sum.Parties {
		party := p.CountryCode + "-" + p.PartyID
		reps[party] = reconcileJSON(t, db, data, party, "2026-10")
	}
	printed := rs(t, "report", "--db", db, "--period", "2026-10", "--out", out)
	first := tree(t, out)
	for party, rep := range reps {
		if rep.Summary.CDRs == 0 {
			continue
		}
		if !strings.Contains(printed, party) {
			t.Errorf("the summary does not name %s:\n%s", party, printed)
		}
		dir := "2026-10/" + party + "/"
		var k kpiJSON
		if err := json.Unmarshal(first[dir+"kpi-"+party+"-2026-10.json"], &k); err != nil {
			t.Fatalf("%s: %v", party, err)
		}
		if k.CDRs != rep.Summary.CDRs || k.Accepted != rep.Summary.Accepted || k.Disputed != rep.Summary.Disputed {
			t.Errorf("%s: KPI report counts %d/%d/%d, reconcile %d/%d/%d", party, k.CDRs, k.Accepted, k.Disputed,
				rep.Summary.CDRs, rep.Summary.Accepted, rep.Summary.Disputed)
		}
		for key, want := range map[string]*string{"acceptance_rate": rep.KPIs.AcceptanceRate, "dispute_rate": rep.KPIs.DisputeRate,
			"priced_in_effect_rate": rep.KPIs.PricedInEffectRate, "zone_resolved_rate": rep.KPIs.ZoneResolvedRate} {
			if got := k.KPIs[key].Rate; (got == nil) != (want == nil) || got != nil && *got != *want {
				t.Errorf("%s: %s = %v, reconcile says %v", party, key, str(got), str(want))
			}
		}
		for r, n := range rep.Summary.ByReason {
			if k.ByReason[r] != n {
				t.Errorf("%s: reason %s %d, reconcile %d", party, r, k.ByReason[r], n)
			}
		}
		for cur, m := range rep.Summary.Currencies {
			c := k.Currencies[cur]
			want := func(a *reconcile.JSONAmount) *string {
				if a == nil {
					return nil
				}
				return a.ExclVAT
			}
			inDispute := "0"
			if m.InDispute != nil && m.InDispute.ExclVAT != nil {
				inDispute = *m.InDispute.ExclVAT
			}
			// The same amounts (a CDR without a currency has no minor
			// units of its own: reconcile and the report may show them
			// with other decimals).
			if !sameAmount(c.Billed, want(m.Billed)) || !sameAmount(c.Recomputed, want(m.Recomputed)) || !sameAmount(&c.InDispute, &inDispute) {
				t.Errorf("%s %s: billed %s recomputed %s in dispute %s; reconcile %s %s %s", party, cur, str(c.Billed), str(c.Recomputed),
					c.InDispute, str(want(m.Billed)), str(want(m.Recomputed)), inDispute)
			}
		}
		// Every disputed CDR is in the CSV and in the workbook.
		recs, err := csv.NewReader(bytes.NewReader(first[dir+"disputes-"+party+"-2026-10.csv"])).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs)-1 != rep.Summary.Disputed {
			t.Errorf("%s: %d CSV rows, %d disputed", party, len(recs)-1, rep.Summary.Disputed)
		}
		f, err := excelize.OpenReader(bytes.NewReader(first[dir+"disputes-"+party+"-2026-10.xlsx"]))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := f.GetRows("Disputes")
		f.Close()
		if err != nil || len(rows)-1 != rep.Summary.Disputed {
			t.Errorf("%s: %d workbook rows (%v), %d disputed", party, len(rows)-1, err, rep.Summary.Disputed)
		}
		for _, table := range []string{"priced_cdrs", "priced_lines", "disputes"} {
			if len(first["parquet/"+table+"/partner="+party+"/period=2026-10/"+table+".parquet"]) == 0 {
				t.Errorf("%s: no %s export", party, table)
			}
		}
	}
	var names []string
	for n := range first {
		names = append(names, n)
		if strings.Contains(n, ".tmp") {
			t.Errorf("left behind: %s", n)
		}
	}
	sort.Strings(names)
	if want := 8 * len(sum.Parties); len(names) != want {
		t.Errorf("%d files, want %d:\n%s", len(names), want, strings.Join(names, "\n"))
	}
	// Again: the same bytes, every file.
	rs(t, "report", "--db", db, "--period", "2026-10", "--out", out)
	for n, b := range tree(t, out) {
		if !bytes.Equal(first[n], b) {
			t.Errorf("%s differs on the second run", n)
		}
	}
	// One partner: only its folder and partitions are written.
	one := filepath.Join(t.TempDir(), "one")
	party := sum.Parties[0].CountryCode + "-" + sum.Parties[0].PartyID
	rs(t, "report", "--db", db, "--period", "2026-10", "--partner", party, "--out", one)
	for n, b := range tree(t, one) {
		if !strings.Contains(n, party) {
			t.Errorf("--partner %s wrote %s", party, n)
		}
		if !bytes.Equal(first[n], b) {
			t.Errorf("%s differs from the report of every partner", n)
		}
	}
}

func sameAmount(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return decimal.RequireFromString(*a).Equal(decimal.RequireFromString(*b))
}

func str(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}
