package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestIdentityLookupOptions measures the ways of telling a new CDR from a
// stored one that issue 16 lists, on the identities of a real history
// database (IDENTITY_OPTIONS_DB, read only; skipped without it), so that
// the choice in index.go rests on figures. Each option runs in a process of
// its own (this test binary again), cold, as a writer that just started:
// the figures are that child's wall and CPU time and peak RSS for one
// batch of 1,000 identities, half of them stored.
//
// The identities are copied once into scratch databases under
// IDENTITY_OPTIONS_DIR (default: beside the history database): ids
// (hash, cdr_key, body) in insertion order, the same with a DuckDB ART
// index on the hash, the same sorted by hash (zonemaps then prune a point
// lookup to one row group), and a run of the identity index (idxrun.go).
// The options:
//
//   - semi-join: the batch in a temporary table, SEMI JOIN on the hash (a
//     hash join over the whole column; DuckDB plans no index join);
//   - ART, IN list: the batch as constants, which DuckDB answers from the
//     index below index_scan_max_count matches;
//   - sorted table: 1,000 prepared point lookups;
//   - index run: a Bloom filter in front of an exact search, mmapped;
//   - and the write side: 1,000 and 1 M new rows into the table with and
//     without the ART index, committed and checkpointed.
func TestIdentityLookupOptions(t *testing.T) {
	if opt := os.Getenv("IDENTITY_OPTION"); opt != "" {
		runOption(t, opt)
		return
	}
	src := os.Getenv("IDENTITY_OPTIONS_DB")
	if src == "" {
		t.Skip("IDENTITY_OPTIONS_DB not set")
	}
	dir := os.Getenv("IDENTITY_OPTIONS_DIR")
	if dir == "" {
		dir = strings.TrimSuffix(src, ".duckdb") + ".options"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := prepareOptions(t, src, dir)
	fmt.Printf("\nidentity lookup options, %d stored identities (%s), 1,000 probes (500 stored), one cold process each:\n",
		n, filepath.Base(src))
	fmt.Printf("%-44s %9s %9s %9s  %s\n", "option", "wall s", "cpu s", "peak MB", "result")
	for _, opt := range []string{"open-only", "semi-join", "semi-join-art", "art-in", "sorted-points", "sorted-in",
		"run", "insert-1000", "insert-1000-art", "insert-1m", "insert-1m-art"} {
		if strings.HasPrefix(opt, "insert") {
			// Inserts go into a fresh copy: the lookups' tables stay as built.
			plain, art, _, _, _ := optionPaths(dir)
			from := plain
			if strings.HasSuffix(opt, "-art") {
				from = art
			}
			copyFile(t, from, filepath.Join(dir, "insert.duckdb"))
		}
		cmd := exec.Command(os.Args[0], "-test.run", "^TestIdentityLookupOptions$", "-test.v")
		cmd.Env = append(os.Environ(), "IDENTITY_OPTION="+opt, "IDENTITY_OPTIONS_DIR="+dir)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		wall := time.Since(start)
		if err != nil {
			t.Fatalf("%s: %v\n%s", opt, err, out)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		result := ""
		for _, l := range strings.Split(string(out), "\n") {
			if r, ok := strings.CutPrefix(strings.TrimSpace(l), "result: "); ok {
				result = r
			}
		}
		fmt.Printf("%-44s %9.3f %9.3f %9d  %s\n", opt, wall.Seconds(), cpu.Seconds(), ru.Maxrss/1024, result)
	}
}

func optionPaths(dir string) (plain, art, sorted, run, probes string) {
	return filepath.Join(dir, "ids.duckdb"), filepath.Join(dir, "ids-art.duckdb"), filepath.Join(dir, "ids-sorted.duckdb"),
		dir, filepath.Join(dir, "probes")
}

// prepareOptions builds the scratch databases once and returns how many
// identities they hold.
func prepareOptions(t *testing.T, src, dir string) int64 {
	plain, art, sorted, runDir, probes := optionPaths(dir)
	ctx := context.Background()
	build := func(path, query string) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		db, err := sql.Open("duckdb", path+".tmp")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for _, q := range []string{`ATTACH '` + src + `' AS h (READ_ONLY)`, query, `DETACH h`, `CHECKPOINT`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		db.Close()
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
		t.Logf("built %s in %s", path, time.Since(start).Round(time.Millisecond))
	}
	ids := `CREATE TABLE ids AS SELECT hash(country_code, party_id, id) AS h, cdr_key, body_sha256 FROM h.cdrs`
	build(plain, ids)
	build(sorted, ids+` ORDER BY h`)
	if _, err := os.Stat(art); err != nil {
		build(art+".noindex", ids)
		db, err := sql.Open("duckdb", art+".noindex")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := db.Exec(`CREATE INDEX ids_h ON ids (h)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`CHECKPOINT`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		t.Logf("ART index on %s: %s", art, time.Since(start).Round(time.Millisecond))
		if err := os.Rename(art+".noindex", art); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("duckdb", plain)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(`SELECT count(*) FROM ids`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(runDir, idxRunFile(1))); err != nil {
		// The identities as one run of the identity index: the hash in the
		// first 8 bytes of the 16-byte key, as the probes will ask.
		rs := &records{l: layouts[spaceCDR]}
		err := eachRow(ctx, db, `SELECT h, cdr_key, body_sha256 FROM ids`, nil, func(r *sql.Rows) error {
			var h uint64
			var key int64
			var body []byte
			if err := r.Scan(&h, &key, &body); err != nil {
				return err
			}
			var k [16]byte
			binary.BigEndian.PutUint64(k[:], h)
			rs.add(k[:], seen{key: key, body: [32]byte(body)}.bytes())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rs.sort()
		start := time.Now()
		r, err := writeIdxRun(runDir, 1, func(rw *idxRunWriter) {
			for sp := range numSpaces {
				rw.begin(sp, rs.len()*int(btoi(sp == spaceCDR)))
				if sp == spaceCDR {
					rl := rs.l.rec()
					for i := range rs.len() {
						rw.add(rs.buf[i*rl : (i+1)*rl])
					}
				}
				rw.end()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		r.close()
		t.Logf("run of %d identities written in %s", rs.len(), time.Since(start).Round(time.Millisecond))
	}
	if _, err := os.Stat(probes); err != nil {
		var lines []string
		rows, err := db.Query(`SELECT h FROM ids USING SAMPLE 500 ROWS`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var h uint64
			rows.Scan(&h)
			lines = append(lines, strconv.FormatUint(h, 10))
		}
		rows.Close()
		rng := rand.New(rand.NewPCG(1, 2))
		for len(lines) < 1000 {
			lines = append(lines, strconv.FormatUint(rng.Uint64(), 10)) // absent but for a 2^-64 chance
		}
		if err := os.WriteFile(probes, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func btoi(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// runOption is one option, in its own process: it prints "result: ...".
func runOption(t *testing.T, opt string) {
	dir := os.Getenv("IDENTITY_OPTIONS_DIR")
	plain, art, sorted, runDir, probesPath := optionPaths(dir)
	b, err := os.ReadFile(probesPath)
	if err != nil {
		t.Fatal(err)
	}
	probes := strings.Split(string(b), "\n")
	open := func(path string) *sql.DB {
		db, err := sql.Open("duckdb", path)
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		if _, err := db.Exec(`SET threads = 1`); err != nil {
			t.Fatal(err)
		}
		return db
	}
	count := func(db *sql.DB, q string, args ...any) int64 {
		var n int64
		if err := db.QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q[:min(len(q), 80)], err)
		}
		return n
	}
	inList := strings.Join(probes, ",")
	withProbes := func(db *sql.DB) {
		if _, err := db.Exec(`CREATE TEMP TABLE probes AS SELECT unnest([` + inList + `]::UBIGINT[]) AS h`); err != nil {
			t.Fatal(err)
		}
	}
	insert := func(path string, n int) string {
		db := open(path)
		defer db.Close()
		start := time.Now()
		if _, err := db.Exec(fmt.Sprintf(`INSERT INTO ids SELECT hash(h, random()) AS h, cdr_key, body_sha256
			FROM ids LIMIT %d`, n)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`CHECKPOINT`); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d rows inserted and checkpointed in %s", n, time.Since(start).Round(time.Millisecond))
	}
	var result string
	switch opt {
	case "open-only":
		db := open(plain)
		result = fmt.Sprintf("%d rows", count(db, `SELECT count(*) FROM ids`))
		db.Close()
	case "semi-join", "semi-join-art":
		path := plain
		if opt == "semi-join-art" {
			path = art
		}
		db := open(path)
		withProbes(db)
		result = fmt.Sprintf("%d found", count(db, `SELECT count(*) FROM ids SEMI JOIN probes USING (h)`))
		db.Close()
	case "art-in":
		db := open(art)
		if _, err := db.Exec(`SET index_scan_max_count = 100000`); err != nil {
			t.Fatal(err)
		}
		result = fmt.Sprintf("%d found", count(db, `SELECT count(*) FROM ids WHERE h IN (`+inList+`)`))
		db.Close()
	case "sorted-points":
		db := open(sorted)
		found := int64(0)
		stmt, err := db.Prepare(`SELECT count(*) FROM ids WHERE h = ?::UBIGINT`)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range probes {
			var n int64
			if err := stmt.QueryRow(p).Scan(&n); err != nil {
				t.Fatal(err)
			}
			found += n
		}
		stmt.Close()
		result = fmt.Sprintf("%d found", found)
		db.Close()
	case "sorted-in":
		db := open(sorted)
		result = fmt.Sprintf("%d found", count(db, `SELECT count(*) FROM ids WHERE h IN (`+inList+`)`))
		db.Close()
	case "run":
		r, err := openIdxRun(runDir, 1)
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, p := range probes {
			h, _ := strconv.ParseUint(p, 10, 64)
			var k [16]byte
			binary.BigEndian.PutUint64(k[:], h)
			if _, ok := r.get(spaceCDR, k[:]); ok {
				found++
			}
		}
		r.close()
		result = fmt.Sprintf("%d found", found)
	case "insert-1000", "insert-1000-art":
		result = insert(filepath.Join(dir, "insert.duckdb"), 1000)
	case "insert-1m", "insert-1m-art":
		result = insert(filepath.Join(dir, "insert.duckdb"), 1_000_000)
	default:
		t.Fatalf("unknown option %q", opt)
	}
	fmt.Println("result: " + result)
}
