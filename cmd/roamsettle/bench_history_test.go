package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ingest/receiver"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/store"
)

// TestBenchHistory is `make bench-history`: what a small import, serve's
// first CDR and a small reprice cost, as whole processes of the real binary,
// in databases that hold a long history. It runs only when
// HISTORY_BENCH_DIR names the folder the databases are kept in
// (/tmp/roamsettle-bench in the Makefile), with HISTORY_BENCH_BIN the binary
// to measure.
//
// A database of M months holds M generated months of HISTORY_BENCH_SESSIONS
// sessions each (default 1 M: about 1.01 M stored CDRs a month, 2025-01
// onwards), each one gen'd and imported through `roamsettle ingest` like a
// user's data, raw archive included. It is built once and kept, named by
// HISTORY_BENCH_TAG (the schema it was built at) and M. Every measured
// import then brings a month never seen before (2030-01 onwards, counted in
// a file beside the database), so that it stores new CDRs, tariff versions
// and locations, as a nightly import does.
//
// Per database (HISTORY_BENCH_MONTHS, default "0,1,10"; 0 is an empty
// database made afresh for each run), HISTORY_BENCH_RUNS runs of each step
// (default 3; HISTORY_BENCH_STEPS, e.g. "serve,reprice", runs only those),
// reported as medians of wall, CPU (user+sys) and peak RSS:
//
//   - ingest of a generated month of 100 and of 1,000 sessions (the files
//     of gen: CDRs, plus the 8 parties' tariffs and locations);
//   - serve: start the process, POST one new CDR on loopback, and time from
//     start to the acknowledgement; then SIGTERM (memory and CPU are the
//     whole process's);
//   - reprice of the month the last 1,000-session import brought (its CDRs
//     only; the history is in other months), and of one day of the history
//     (2025-01-15, ~33 k CDRs) when the binary takes day periods.
//
// A binary with the identity index (issue 16) builds it on its first write
// to a database that has none: that import is shown on its own row.
func TestBenchHistory(t *testing.T) {
	dir := os.Getenv("HISTORY_BENCH_DIR")
	if dir == "" {
		t.Skip("HISTORY_BENCH_DIR not set")
	}
	bin := os.Getenv("HISTORY_BENCH_BIN")
	if bin == "" || !filepath.IsAbs(bin) {
		t.Fatal("HISTORY_BENCH_BIN must be the absolute path of the binary to measure")
	}
	tag := os.Getenv("HISTORY_BENCH_TAG")
	if tag == "" {
		tag = "v" + strconv.Itoa(store.SchemaVersion())
	}
	sessions := envInt(t, "HISTORY_BENCH_SESSIONS", 1_000_000)
	runs := envInt(t, "HISTORY_BENCH_RUNS", 3)
	months := []int{0, 1, 10}
	if v := os.Getenv("HISTORY_BENCH_MONTHS"); v != "" {
		months = nil
		for _, f := range strings.Split(v, ",") {
			m, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				t.Fatalf("HISTORY_BENCH_MONTHS=%q: %v", v, err)
			}
			months = append(months, m)
		}
	}
	steps := os.Getenv("HISTORY_BENCH_STEPS") // e.g. "serve,reprice"; default all
	do := func(step string) bool { return steps == "" || strings.Contains(","+steps+",", ","+step+",") }
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var table []string
	for _, m := range months {
		db := ""
		stored := int64(0)
		if m > 0 {
			db = filepath.Join(dir, fmt.Sprintf("history-%s-%dm.duckdb", tag, m))
			buildHistory(t, bin, db, m, sessions)
			stored = storedCDRs(t, db)
		}
		h := &historyBench{t: t, bin: bin, db: db, scratch: t.TempDir()}
		label := fmt.Sprintf("%d months (%d CDRs)", m, stored)
		if m == 0 {
			label = "empty"
		}
		if db != "" {
			if _, err := os.Stat(db + ".idx"); err != nil {
				// The first write of a build with the identity index builds it
				// from the database, once: shown on its own.
				p, _ := h.importMonth(100)
				if _, err := os.Stat(db + ".idx"); err == nil {
					table = append(table, row(label, "first write: index built", []proc{p}, false))
				}
			}
		}
		var lastMonth string
		for _, n := range []int{100, 1000} {
			if !do("ingest") {
				break
			}
			var ps []proc
			for range runs {
				p, month := h.importMonth(n)
				ps = append(ps, p)
				lastMonth = month
			}
			table = append(table, row(label, fmt.Sprintf("ingest %d sessions", n), ps, false))
		}
		if m == 0 {
			continue
		}
		var ps []proc
		if do("serve") {
			for r := range runs {
				ps = append(ps, h.serveFirstCDR(r))
			}
			table = append(table, row(label, "serve: start to first CDR ack", ps, true))
		}
		if !do("reprice") {
			continue
		}
		if lastMonth == "" {
			// the month of the last 1,000-session import of an earlier run
			n := h.next("months") // counts one more: harmless, months are only handed out
			lastMonth = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, n-1, 0).Format("2006-01")
		}
		ps = nil
		for range runs {
			ps = append(ps, h.run("reprice", "--db", db, "--period", lastMonth, "--verbose"))
		}
		table = append(table, row(label, "reprice "+lastMonth+" (~1,000 CDRs)", ps, false))
		if help := h.help("reprice"); strings.Contains(help, "YYYY-MM-DD..YYYY-MM-DD") {
			const day = "2025-01-15..2025-01-15" // a day of the history: ~33 k CDRs
			ps = nil
			for range runs {
				ps = append(ps, h.run("reprice", "--db", db, "--period", day, "--verbose"))
			}
			table = append(table, row(label, "reprice one day of history", ps, false))
		}
	}
	fmt.Printf("\nbench-history (%s, medians of %d runs; the machine is shared):\n", filepath.Base(bin), runs)
	fmt.Printf("%-28s %-38s %9s %9s %9s %9s\n", "database", "step", "wall s", "cpu s", "peak MB", "ack s")
	for _, r := range table {
		fmt.Println(r)
	}
}

// proc is one measured process.
type proc struct {
	wall, cpu time.Duration
	peakRSS   int64         // bytes
	ack       time.Duration // serve: start to acknowledgement
	out       string
}

func row(db, step string, ps []proc, ack bool) string {
	med := func(f func(proc) float64) float64 {
		v := make([]float64, len(ps))
		for i, p := range ps {
			v[i] = f(p)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	a := "-"
	if ack {
		a = fmt.Sprintf("%9.3f", med(func(p proc) float64 { return p.ack.Seconds() }))
	}
	return fmt.Sprintf("%-28s %-38s %9.3f %9.3f %9.0f %9s", db, step,
		med(func(p proc) float64 { return p.wall.Seconds() }),
		med(func(p proc) float64 { return p.cpu.Seconds() }),
		med(func(p proc) float64 { return float64(p.peakRSS) / (1 << 20) }), a)
}

func measured(start time.Time, st *os.ProcessState) proc {
	p := proc{wall: time.Since(start)}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		p.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		p.peakRSS = ru.Maxrss * 1024
	}
	return p
}

type historyBench struct {
	t       *testing.T
	bin, db string
	scratch string
}

// run runs the binary to completion and measures it.
func (h *historyBench) run(args ...string) proc {
	h.t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(h.bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	p := measured(start, cmd.ProcessState)
	p.out = out.String()
	if err != nil {
		h.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, p.out)
	}
	h.t.Logf("%s: wall %.3f s, cpu %.3f s, peak %d MB\n%s", strings.Join(args, " "), p.wall.Seconds(), p.cpu.Seconds(),
		p.peakRSS>>20, firstLines(p.out, 3))
	return p
}

// help is a subcommand's usage text.
func (h *historyBench) help(cmd string) string {
	b, _ := exec.Command(h.bin, cmd, "--help").CombinedOutput()
	return string(b)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// next counts, in a file beside the database, so that every run brings
// months and parties never seen in it before.
func (h *historyBench) next(what string) int {
	n := 0
	counter := h.db + ".bench-" + what
	if h.db == "" {
		counter = filepath.Join(h.scratch, "bench-"+what)
	}
	if b, err := os.ReadFile(counter); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if err := os.WriteFile(counter, []byte(strconv.Itoa(n+1)), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// nextMonth hands out months never imported into this database before.
func (h *historyBench) nextMonth() string {
	return time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, h.next("months"), 0).Format("2006-01")
}

// importMonth generates a new month of n sessions (not measured) and
// imports it (measured).
func (h *historyBench) importMonth(n int) (proc, string) {
	month := h.nextMonth()
	data := filepath.Join(h.scratch, "month-"+month)
	h.gen(n, month, data)
	defer os.RemoveAll(data)
	db := h.db
	if db == "" {
		db = filepath.Join(h.scratch, "empty-"+month+".duckdb")
		defer os.RemoveAll(db + ".raw")
		defer os.Remove(db)
	}
	return h.run("ingest", "--db", db, "--quiet", data), month
}

func (h *historyBench) gen(n int, month, out string) {
	h.t.Helper()
	cmd := exec.Command(h.bin, "gen", "--cdrs", strconv.Itoa(n), "--month", month, "--seed", "7", "--out", out, "--quiet")
	if b, err := cmd.CombinedOutput(); err != nil {
		h.t.Fatalf("gen: %v\n%s", err, b)
	}
}

// serveFirstCDR registers a partner (as a completed handshake would), then
// starts serve and POSTs one new CDR as soon as the port answers.
func (h *historyBench) serveFirstCDR(r int) proc {
	t := h.t
	t.Helper()
	ctx := context.Background()
	party := "B" + strings.ToUpper(strconv.FormatInt(int64(36*36+h.next("partners")), 36))[1:]
	token := receiver.NewToken()
	st, err := store.Open(ctx, h.db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := st.AddPartner(ctx, ocpi.Connection{CountryCode: "NL", PartyID: party, Role: "CPO",
		Version: ocpi.V221, TokenC: receiver.Hash(token), AuthMode: ocpi.AuthBase64, RegisteredAt: &now}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	tmpl, err := os.ReadFile(filepath.Join("..", "..", "testdata", "ocpi", "bench", "cdr_221_realistic.json"))
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, tmpl); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("HB%d-%d", time.Now().UnixNano(), r)
	body := strings.Replace(compact.String(), `"party_id":"ABC","id":"NLABC20241105-00012877"`,
		`"party_id":"`+party+`","id":"`+id+`"`, 1)
	if !strings.Contains(body, id) {
		t.Fatal("CDR template did not change")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs bytes.Buffer
	cmd := exec.Command(h.bin, "serve", "--db", h.db, "--listen", addr, "--quiet-requests")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	client := &http.Client{Timeout: 30 * time.Minute} // the first CDR waits for what serve loads
	auth := ocpi.AuthorizationHeader(token, ocpi.AuthBase64, ocpi.V221)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ack time.Duration
	for {
		req, _ := http.NewRequest("POST", "http://"+addr+"/ocpi/2.2.1/cdrs", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			if time.Since(start) > 5*time.Minute || !errors.Is(err, syscall.ECONNREFUSED) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("POST: %v\n%s", err, logs.String())
			}
			time.Sleep(2 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("POST: %d %s\n%s", res.StatusCode, b, logs.String())
		}
		ack = time.Since(start)
		break
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	p := measured(start, cmd.ProcessState)
	p.ack = ack
	if err != nil {
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
	t.Logf("serve: first CDR acknowledged %.3f s after start; process wall %.3f s, cpu %.3f s, peak %d MB",
		ack.Seconds(), p.wall.Seconds(), p.cpu.Seconds(), p.peakRSS>>20)
	return p
}

// buildHistory imports months generated months into db unless it exists.
func buildHistory(t *testing.T, bin, db string, months, sessions int) {
	t.Helper()
	if _, err := os.Stat(db); err == nil {
		t.Logf("%s exists: kept", db)
		return
	}
	tmp := db + ".building"
	os.Remove(tmp)
	os.RemoveAll(tmp + ".raw")
	h := &historyBench{t: t, bin: bin, db: tmp, scratch: t.TempDir()}
	start := time.Now()
	for i := range months {
		month := time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, i, 0).Format("2006-01")
		data := filepath.Join(h.scratch, "history-"+month)
		h.gen(sessions, month, data)
		h.run("ingest", "--db", tmp, "--quiet", data)
		os.RemoveAll(data)
	}
	// The database and its raw archive move into place together; a build
	// that stopped half way is started again.
	if err := os.Rename(tmp+".raw", db+".raw"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, db); err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s (%d months of %d sessions) in %s", db, months, sessions, time.Since(start).Round(time.Second))
}

func storedCDRs(t *testing.T, db string) int64 {
	t.Helper()
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n int64
	if err := st.DB().QueryRow(`SELECT count(*) FROM cdrs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
