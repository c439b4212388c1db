package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ingest/receiver"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/store"
)

// loadPartners registers n CPO partners directly in the store (as a
// completed handshake would) and returns their tokens.
func loadPartners(tb testing.TB, db string, n int) []string {
	tb.Helper()
	s, err := store.Open(context.Background(), db)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = receiver.NewToken()
		_, err := s.AddPartner(context.Background(), ocpi.Connection{CountryCode: "NL", PartyID: loadParty(i), Role: "CPO",
			Version: ocpi.V221, TokenC: receiver.Hash(tokens[i]), AuthMode: ocpi.AuthBase64, RegisteredAt: &now})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return tokens
}

func loadParty(i int) string { return fmt.Sprintf("P%02d", i) }

// loadCDRs builds partner i's CDR bodies: unique ones, then dup copies of
// some of them (the same bytes again, as a partner retrying does).
func loadCDRs(tb testing.TB, i, unique, dup int) [][]byte {
	tb.Helper()
	tmpl, err := os.ReadFile(filepath.Join("..", "..", "testdata", "ocpi", "bench", "cdr_221_realistic.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var compact bytes.Buffer
	json.Compact(&compact, tmpl)
	s := strings.Replace(compact.String(), `"party_id":"ABC","id":"NLABC20241105-00012877"`, `"party_id":"`+loadParty(i)+`","id":"%s"`, 1)
	if !strings.Contains(s, "%s") {
		tb.Fatal("template did not change")
	}
	out := make([][]byte, 0, unique+dup)
	for j := 0; j < unique; j++ {
		out = append(out, []byte(strings.Replace(s, "%s", "L"+loadParty(i)+"-"+strconv.Itoa(j), 1)))
	}
	for j := 0; j < dup; j++ {
		out = append(out, out[(j*37)%unique])
	}
	return out
}

type loadResult struct {
	posts     int
	elapsed   time.Duration
	latencies []time.Duration
	failures  int64
}

// pushLoad has each partner push its CDRs over conc keep-alive
// connections, one request at a time on each.
func pushLoad(tb testing.TB, base string, tokens []string, bodies [][][]byte, conc int) loadResult {
	var wg sync.WaitGroup
	lat := make([][]time.Duration, len(tokens)*conc)
	var failures atomic.Int64
	start := time.Now()
	for w := range lat {
		i := w / conc
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second}
			auth := ocpi.AuthorizationHeader(tokens[i], ocpi.AuthBase64, ocpi.V221)
			for k, body := range bodies[i] {
				if k%conc != w%conc {
					continue
				}
				req, _ := http.NewRequest("POST", base+"/ocpi/2.2.1/cdrs", bytes.NewReader(body))
				req.Header.Set("Authorization", auth)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				lat[w] = append(lat[w], time.Since(t0))
				if res.StatusCode != 201 && res.StatusCode != 200 {
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	r := loadResult{elapsed: time.Since(start), failures: failures.Load()}
	for _, l := range lat {
		r.latencies = append(r.latencies, l...)
	}
	r.posts = len(r.latencies)
	slices.Sort(r.latencies)
	return r
}

func (r loadResult) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

// BenchmarkLoadPush is the load test: 50 partners push LOAD_CDRS CDRs in
// total (default 100,000) of which 5 % are duplicates, against the real
// server on loopback with a DuckDB file. It checks the exact stored count and
// reports CDR POSTs/s and latency quantiles. Each partner keeps LOAD_CONC
// (default 4) requests in flight. Run with `make load`.
func BenchmarkLoadPush(b *testing.B) {
	total := 100_000
	if s := os.Getenv("LOAD_CDRS"); s != "" {
		total, _ = strconv.Atoi(s)
	}
	const partners = 50
	conc := 4 // concurrent POSTs per partner (LOAD_CONC)
	if s := os.Getenv("LOAD_CONC"); s != "" {
		conc, _ = strconv.Atoi(s)
	}
	perPartner := total / partners
	dup := perPartner / 20
	unique := perPartner - dup
	bodies := make([][][]byte, partners)
	for i := range bodies {
		bodies[i] = loadCDRs(b, i, unique, dup)
	}
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		db := filepath.Join(b.TempDir(), "load.duckdb")
		tokens := loadPartners(b, db, partners)
		base, stop := startServe(b, db, io.Discard, "--quiet-requests")
		b.StartTimer()
		r := pushLoad(b, base, tokens, bodies, conc)
		b.StopTimer()
		batch, commitMS := commitStats(b, base)
		if code := stop(); code != 0 {
			b.Fatalf("serve exited %d", code)
		}
		got := counts(b, db)
		if r.failures != 0 || got.CDRs != int64(partners*unique) || got.Conflicts != 0 {
			b.Fatalf("%d failed requests; stored %d CDRs, want exactly %d; %d conflicts", r.failures, got.CDRs, partners*unique, got.Conflicts)
		}
		b.ReportMetric(float64(r.posts)/r.elapsed.Seconds(), "CDR-POSTs/s")
		b.ReportMetric(float64(r.quantile(0.50).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(r.quantile(0.99).Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(got.CDRs), "stored-CDRs")
		b.ReportMetric(batch, "CDRs/commit")
		b.ReportMetric(commitMS, "ms/commit")
	}
}

// commitStats reads the group commit's mean batch size and Save duration
// from /metrics: they say whether the store or the HTTP side is the limit.
func commitStats(tb testing.TB, base string) (records, ms float64) {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	val := func(name string) float64 {
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(line, name+" ") {
				v, _ := strconv.ParseFloat(strings.TrimPrefix(line, name+" "), 64)
				return v
			}
		}
		return 0
	}
	n := val("roamsettle_commit_batch_records_count")
	if n == 0 {
		return 0, 0
	}
	return val("roamsettle_commit_batch_records_sum") / n, 1000 * val("roamsettle_commit_duration_seconds_sum") / n
}
