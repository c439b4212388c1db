package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkFloor measures what DuckDB alone spends on the reads and writes
// of a settle run's steps, on a database users built (FLOOR_BENCH_DB, after
// a `run` or `reprice --lines` and `reconcile` of its period; it is
// attached read-only). Each read is the step's own query over the whole
// table, its rows consumed inside DuckDB (hashed and summed), so nothing
// crosses to Go; each write copies the step's stored rows into a new table
// of a scratch database and checkpoints it, as the step's commit does; the
// exports COPY the priced rows to Parquet as `report` does (zstd, in key
// order). A step cannot take fewer CPU seconds than the floors of what it
// must read and write: their sum over the machine's cores bounds its wall
// time from below, whatever the Go side does.
//
//	FLOOR_BENCH_DB=/path/month.duckdb go test -run '^$' -bench '^BenchmarkFloor$' -benchtime 1x ./store
func BenchmarkFloor(b *testing.B) {
	path := os.Getenv("FLOOR_BENCH_DB")
	if path == "" {
		b.Skip("FLOOR_BENCH_DB is not set: a database after a run of its period, with priced lines")
	}
	ctx := context.Background()
	scratch := b.TempDir()
	db, err := sql.Open("duckdb", filepath.Join(scratch, "floor.duckdb"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // USE and the scratch tables belong to one connection
	for _, q := range []string{`ATTACH ` + sqlString(path) + ` AS m (READ_ONLY)`, `USE m`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	var run, lo, hi int64
	if err := db.QueryRowContext(ctx, `SELECT max(run_no), min(cdr_key), max(cdr_key) FROM priced_cdrs
		WHERE run_no = (SELECT max(run_no) FROM priced_cdrs)`).Scan(&run, &lo, &hi); err != nil {
		b.Fatalf("%s has no priced rows: %v", path, err)
	}
	whole := strings.NewReplacer("$lo", fmt.Sprint(lo), "$hi", fmt.Sprint(hi), "$run", fmt.Sprint(run))
	reads := []struct{ name, q string }{
		{"reprice/read-headers", fmt.Sprintf(headersSQL, "cdrs")},
		{"reprice/read-periods", scanPeriodsSQL},
		{"reconcile/read-priced", whole.Replace(fmt.Sprintf(pricedRowSQL, "TRUE"))},
		{"reconcile/read-periods", whole.Replace(fmt.Sprintf(reconcilePeriodSQL, "TRUE"))},
		{"reconcile/read-cdrs", whole.Replace(fmt.Sprintf(reconcileCDRSQL, "token_uid, token_contract_id", "TRUE"))},
	}
	for _, r := range reads {
		b.Run(r.name, func(b *testing.B) {
			floor(b, func() (int64, error) {
				var n int64
				err := db.QueryRowContext(ctx, `SELECT count(*), sum(hash(r)) FROM (`+r.q+`) r`).Scan(&n, new(any))
				return n, err
			})
		})
	}
	writes := []struct{ name, table, where string }{
		{"reprice/write-priced-cdrs", "priced_cdrs", fmt.Sprintf("run_no = %d", run)},
		{"reprice/write-priced-lines", "priced_lines", fmt.Sprintf("run_no = %d", run)},
		{"reconcile/write-reconcile-cdrs", "reconcile_cdrs", "TRUE"},
		{"reconcile/write-reconcile-accepted", "reconcile_accepted", "TRUE"},
	}
	for _, w := range writes {
		b.Run(w.name, func(b *testing.B) {
			var exists bool
			if err := db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = 'm' AND table_name = ?`,
				w.table).Scan(&exists); err != nil || !exists {
				b.Skipf("%s has no table %s (a database of an earlier schema)", path, w.table)
			}
			floor(b, func() (int64, error) {
				defer db.ExecContext(ctx, `DROP TABLE IF EXISTS floor.main.copy`)
				if _, err := db.ExecContext(ctx, `CREATE TABLE floor.main.copy AS SELECT * FROM `+w.table+` WHERE `+w.where); err != nil {
					return 0, err
				}
				if _, err := db.ExecContext(ctx, `CHECKPOINT floor`); err != nil {
					return 0, err
				}
				var n int64
				return n, db.QueryRowContext(ctx, `SELECT count(*) FROM floor.main.copy`).Scan(&n)
			})
		})
	}
	exports := []struct{ name, q string }{
		{"report/parquet-priced-cdrs", fmt.Sprintf(`SELECT * FROM priced_cdrs WHERE run_no = %d ORDER BY cdr_key`, run)},
		{"report/parquet-priced-lines", fmt.Sprintf(`SELECT * FROM priced_lines WHERE run_no = %d
			ORDER BY cdr_key, period_index, dimension, element_index`, run)},
	}
	for _, e := range exports {
		b.Run(e.name, func(b *testing.B) {
			dst := filepath.Join(scratch, "export.parquet")
			floor(b, func() (int64, error) {
				defer os.Remove(dst)
				res, err := db.ExecContext(ctx, `COPY (`+e.q+`) TO `+sqlString(dst)+` (FORMAT parquet, COMPRESSION zstd)`)
				if err != nil {
					return 0, err
				}
				return res.RowsAffected()
			})
		})
	}
}

// floor runs op b.N times and reports its rows per second and the CPU
// seconds of one run (every DuckDB thread's).
func floor(b *testing.B, op func() (rows int64, err error)) {
	var rows int64
	var cpu time.Duration
	for b.Loop() {
		c := cpuTime()
		n, err := op()
		cpu += cpuTime() - c
		if err != nil {
			b.Fatal(err)
		}
		rows += n
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "CPU-s/op")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op")
	b.ReportMetric(0, "ns/op")
}
