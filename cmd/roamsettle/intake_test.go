package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/roamsettle/roamsettle/ingest"
	"github.com/roamsettle/roamsettle/store"
)

// The file-import catalogue of bad input (issue 12): each case is one input
// file imported into a fresh database with the real command, and asserts
// the exit status, the summary, and what was stored.

// cdrLine is the realistic 2.2.1 CDR as one NDJSON line, with its id
// replaced and each (old, new) pair of edits applied exactly once.
func cdrLine(t *testing.T, id string, edits ...string) string {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/ocpi/bench/cdr_221_realistic.json")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(b.String(), `"id":"NLABC20241105-00012877"`, `"id":"`+id+`"`, 1)
	for i := 0; i+1 < len(edits); i += 2 {
		if n := strings.Count(s, edits[i]); n != 1 {
			t.Fatalf("cdrLine: %d occurrences of %q", n, edits[i])
		}
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	return s
}

type intakeCase struct {
	name   string
	input  string   // the file
	args   []string // extra ingest flags
	code   int      // exit status
	stdout []string // regexps the summary must match
	stderr []string
	query  string // SQL over the stored database ...
	want   string // ... and its single result, as text
}

func runIntake(t *testing.T, tc intakeCase) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "input.ndjson")
	if err := os.WriteFile(file, []byte(tc.input), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "intake.duckdb")
	args := append(append([]string{"ingest", "--db", db, "--quiet"}, tc.args...), file)
	out, errs, code := run(t, args...)
	if code != tc.code {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
	}
	for _, re := range tc.stdout {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("stdout lacks %q:\n%s", re, out)
		}
	}
	for _, re := range tc.stderr {
		if !regexp.MustCompile(re).MatchString(errs) {
			t.Errorf("stderr lacks %q:\n%s", re, errs)
		}
	}
	if tc.query == "" {
		return
	}
	s, err := store.OpenExisting(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got string
	if err := s.DB().QueryRow(tc.query).Scan(&got); err != nil {
		t.Fatalf("%s: %v", tc.query, err)
	}
	if got != tc.want {
		t.Errorf("stored: %s\n got %q\nwant %q", tc.query, got, tc.want)
	}
}

func TestIngestCatalogue(t *testing.T) {
	cases := []intakeCase{{
		// Items 6 and 7: one invalid UTF-8 byte used to abort the import
		// (0 of 3 stored) and say "nothing could be read".
		name: "invalid UTF-8 in one CDR of three",
		input: cdrLine(t, "U1") + "\n" + cdrLine(t, "U2", `"address":"Damrak 70"`, "\"address\":\"Damrak\xff 70\"") + "\n" +
			cdrLine(t, "U3") + "\n",
		stdout: []string{`accepted   3  cdr 3`, `rejected   0`, `encoding +1`},
		query:  `SELECT string_agg(id || '=' || location_address, ' ' ORDER BY id) FROM cdrs`,
		want:   `U1=Damrak 70 U2=Damrak\xFF 70 U3=Damrak 70`,
	}, {
		// Item 8: a record over the splitter's 64 MiB limit aborted the
		// import ("SHA256 field does not match the raw bytes").
		name: "a record over 64 MiB between two good ones",
		input: cdrLine(t, "B1") + "\n" + `{"id":"huge","pad":"` + strings.Repeat("x", ingest.MaxLineBytes) + `"}` + "\n" +
			cdrLine(t, "B3") + "\n",
		stdout: []string{`3 records`, `accepted   2  cdr 2`, `rejected   1`, `too_large +1`,
			`input.ndjson: record 2: at byte offset \d+: record of 67108887 bytes is over the 67108864-byte limit`},
		query: `SELECT (SELECT string_agg(id, ' ' ORDER BY id) FROM cdrs) || ' ' || (SELECT max(size) FROM raw_payloads r JOIN rejects j ON j.raw_sha256 = r.sha256)`,
		want:  `B1 B3 65536`,
	}, {
		// Item 10: a 13-decimal number refused the whole identified CDR.
		name:   "a volume with 13 decimals",
		input:  cdrLine(t, "P1", `{"type":"ENERGY","volume":9.412}`, `{"type":"ENERGY","volume":9.4120000000001}`) + "\n",
		stdout: []string{`accepted   1  cdr 1`, `rejected   0`, `precision +1`},
		query: `SELECT coalesce(d.volume::VARCHAR, 'NULL') || ' ' || coalesce(p.energy::VARCHAR, 'NULL') || ' ' || c.blocking || ' ' || f.blocking
			FROM cdrs c JOIN cdr_dimensions d USING (cdr_key) JOIN charging_periods p USING (cdr_key, period_index)
			JOIN findings f ON f.object_key = c.cdr_key AND f.rule = 'precision'
			WHERE d.period_index = 0 AND d.dimension_index = 0`,
		want: `NULL NULL true true`,
	}, {
		// Item 10: 1e400 was "stored with a finding" as 0.
		name:   "a billed amount of 1e400",
		input:  cdrLine(t, "P2", `"total_cost":{"excl_vat":10.23,`, `"total_cost":{"excl_vat":1e400,`) + "\n",
		stdout: []string{`accepted   1  cdr 1`, `too_large +1`},
		query:  `SELECT coalesce(total_cost_excl_vat::VARCHAR, 'NULL') || ' ' || total_cost_incl_vat || ' ' || blocking FROM cdrs`,
		want:   `NULL 12.380000 false`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runIntake(t, tc) })
	}
}
