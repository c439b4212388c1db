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

// specLine is a spec example as one NDJSON line, each (old, new) edit
// applied exactly once (old is matched in the compacted JSON).
func specLine(t *testing.T, name string, edits ...string) string {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/ocpi/spec/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for i := 0; i+1 < len(edits); i += 2 {
		if n := strings.Count(s, edits[i]); n != 1 {
			t.Fatalf("specLine %s: %d occurrences of %q", name, n, edits[i])
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
		query: `SELECT coalesce(total_cost_excl_vat::VARCHAR, 'NULL') || ' ' || coalesce(total_cost_incl_vat::VARCHAR, 'NULL') || ' ' ||
			blocking FROM cdrs`,
		want: `NULL NULL false`, // an unreadable amount makes the whole Price absent (ocpi, s11)
	}, {
		// A published tariff whose price could not be read was stored with
		// price 0 (pricing reads the tables, not the findings): refused,
		// the rest of the file goes on.
		name: "a tariff with a price of 1e400 before a good one",
		input: specLine(t, "2.2.1/tariff_1_simple_2hour.json", `"id":"12"`, `"id":"T1"`, `"price":2.00`, `"price":1e400`) + "\n" +
			specLine(t, "2.2.1/tariff_1_simple_2hour.json", `"id":"12"`, `"id":"T2"`) + "\n",
		stdout: []string{`accepted   1  tariff 1`, `rejected   1`,
			`input.ndjson: record 1: elements\[0\].price_components\[0\].price: number 1e400 has more than 12 integer digits; a published tariff is refused`},
		query: `SELECT (SELECT string_agg(id, ' ') FROM tariffs) || ' | ' || (SELECT string_agg(coalesce(path, '-') || ' ' || rule || ' ' || blocking, ', ') FROM rejects)`,
		want:  `T2 | elements[0].price_components[0].price too_large true`,
	}, {
		// What other implementations send: DateTimes with a space, without
		// seconds, with an offset refused the whole tariff or location.
		name: "last_updated in other implementations' shapes",
		input: specLine(t, "2.2.1/tariff_1_simple_2hour.json", `"last_updated":"2015-06-29T20:39:09Z"`, `"last_updated":"2022-01-02 00:00:00+00:00"`) + "\n" +
			specLine(t, "2.2.1/location_example.json", `"time_zone":"Europe/Brussels","last_updated":"2015-06-29T20:39:09Z"`,
				`"time_zone":"Europe/Brussels","last_updated":"2022-01-02T00:00Z"`) + "\n",
		stdout: []string{`accepted   2  tariff 1  location 1`, `rejected   0`, `format +2`},
		query: `SELECT (SELECT last_updated::VARCHAR FROM tariffs) || ' ' || (SELECT last_updated::VARCHAR FROM locations) || ' ' ||
			(SELECT string_agg(path || ' ' || blocking, ', ' ORDER BY path) FROM findings WHERE rule = 'format')`,
		want: `2022-01-02 00:00:00+00 2022-01-02 00:00:00+00 last_updated false, last_updated false`,
	}, {
		// A 2.1.1 CDR naming its end with the 2.2 name was blocked for a
		// missing stop_date_time.
		name:   "a 2.1.1 CDR with end_date_time",
		input:  specLine(t, "2.1.1/cdr_example.json", `"stop_date_time"`, `"end_date_time"`) + "\n",
		args:   []string{"--partner", "NL-TNM"},
		stdout: []string{`accepted   1  cdr 1`},
		query: `SELECT end_date_time::VARCHAR || ' ' || blocking || ' ' ||
			(SELECT message FROM findings WHERE path = 'end_date_time') FROM cdrs`,
		want: `2015-06-29 23:37:32+00 false end_date_time is not a 2.1.1 field: read as stop_date_time`,
	}, {
		// A 2.2.1-shaped CDR imported with --version 2.3.0 lost its billed amount.
		name:   "a 2.2.1 CDR imported as 2.3.0",
		input:  cdrLine(t, "V1") + "\n",
		args:   []string{"--version", "2.3.0"},
		stdout: []string{`accepted   1  cdr 1`},
		query:  `SELECT total_cost_excl_vat || ' ' || total_cost_incl_vat || ' ' || version FROM cdrs`,
		want:   `10.230000 12.380000 2.3.0`,
	}, {
		// A time zone that is not an IANA name was stored without a finding.
		name:   "a location whose time_zone is UTC+2",
		input:  specLine(t, "2.2.1/location_example.json", `"time_zone":"Europe/Brussels"`, `"time_zone":"UTC+2"`) + "\n",
		stdout: []string{`accepted   1  location 1`, `format +1`},
		query:  `SELECT (SELECT time_zone FROM locations) || ' ' || (SELECT path || ': ' || message FROM findings)`,
		want:   `UTC+2 time_zone: "UTC+2" is not an IANA time zone name (e.g. Europe/Berlin): pricing takes the zone from the coordinates or the country instead`,
	}, {
		// A tariff id clash was reported as "CDR ...".
		name: "two bodies of one tariff version",
		input: specLine(t, "2.2.1/tariff_1_simple_2hour.json") + "\n" +
			specLine(t, "2.2.1/tariff_1_simple_2hour.json", `"price":2.00`, `"price":2.50`) + "\n",
		stdout: []string{`conflicts  1`, `input.ndjson: record 2: tariff DE-ALL 12: a different body`},
		query:  `SELECT kind || ' ' || id FROM conflicts`,
		want:   `tariff 12`,
	}, {
		// A present but empty list was reported as missing.
		name:   "a CDR with an empty list of charging periods",
		input:  cdrLine(t, "E1", `"charging_periods":[{`, `"charging_periods":[],"x":[{`) + "\n",
		stdout: []string{`accepted   1  cdr 1`},
		query:  `SELECT path || ': ' || message || ' ' || blocking FROM findings WHERE path = 'charging_periods'`,
		want:   `charging_periods: the list is empty; at least one element is required true`,
	}, {
		// The first line of a reject hid its cause (the store's refusal)
		// under a note and "(and 1 more)".
		name:   "a tariff without last_updated",
		input:  specLine(t, "2.2.1/tariff_1_simple_2hour.json", `,"last_updated":"2015-06-29T20:39:09Z"`, `,"tariff_alt_url":"`+strings.Repeat("u", 300)+`"`) + "\n",
		stdout: []string{`rejected   1`, `input.ndjson: record 1: last_updated: no readable last_updated: tariff, location and invoice reconciliation versions are keyed by it \[required, blocks pricing\] \(and 1 more\)`},
		query:  `SELECT string_agg(coalesce(path, '') || ' ' || rule || ' ' || blocking, ', ' ORDER BY path) FROM rejects`,
		want:   `last_updated required true, tariff_alt_url length false`, // the store's refusal restates the decoder's problem: said once
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runIntake(t, tc) })
	}
}
