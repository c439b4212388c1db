package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/settle"
)

// A database roamsettle wrote, opened by another client, holds only the
// project's own views, and each of them can be selected from (issue 12 item
// 12: the Arrow staging views used to be committed into the file, and a
// client selecting from one crashed).
func TestDatabaseHoldsOnlyRealViews(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "views.duckdb")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	save(t, s, recvCDR(sampleCDR("V1"), "v", 0), recvTariff(sampleTariff("T1", t0), "t", 1))
	w, err := s.BeginRun(ctx, testRun)
	if err != nil {
		t.Fatal(err)
	}
	p := &settle.PricedCDRs{CDRKey: []int64{1}, Status: []uint8{settle.PricedOK}, Reason: []uint8{0}, Message: []int32{-1},
		PricedBy: []uint8{settle.ByKernel}, TariffRef: []int32{0}, Zone: []int16{0}, Flags: []int32{0},
		Outcome: []reconcile.Outcome{reconcile.Equal}, EmbeddedRef: []int32{-1}, EmbeddedExcl: []int64{0}, EmbeddedIncl: []int64{0}}
	for i := range p.Totals {
		p.Totals[i] = []int64{1}
	}
	if err := w.WriteCDRs(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, settle.RunRecord{Run: testRun, Started: time.Now(), Finished: time.Now(), CDRs: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	want := []string{"cdr_dimensions_named", "priced_cdrs_compared"}
	if got := userViews(t, path); !slices.Equal(got, want) {
		t.Fatalf("views in the file: %v, want %v", got, want)
	}
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, v := range want {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+v).Scan(&n); err != nil {
			t.Errorf("SELECT from %s: %d rows, %v", v, n, err)
		}
	}
}

// A database left with staging views by an older build is cleaned on open.
func TestOpenDropsStaleStageViews(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stale.duckdb")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `CREATE VIEW stage_cdrs AS SELECT 1 AS x`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := userViews(t, path); !slices.Contains(got, "stage_cdrs") {
		t.Fatalf("setup: %v", got)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := userViews(t, path); slices.Contains(got, "stage_cdrs") {
		t.Fatalf("stale view kept: %v", got)
	}
}

func userViews(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}
