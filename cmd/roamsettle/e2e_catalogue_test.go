package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/roamsettle/roamsettle/ingest/receiver"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/store"
)

// The receiver's catalogue of bad input (issue 12): each case is one
// request pushed to the real `serve` (loopback, a real DuckDB file) by a
// registered CPO, NL-P00, and asserts the exact HTTP status, the OCPI
// status_code (and what the message must say), then, once serve has
// stopped, a SQL query over what was stored with its exact result. Cases
// run in order against one serve (startup dominates a request), so a case
// may build on the ones before it (the case-insensitive ids); each query is
// scoped to its case by an id or by $SHA, the hex SHA-256 of the case's
// body ($KEPT: of the part of it kept for a refusal, the first
// receiver.MaxRefusedRaw bytes).

type pushCase struct {
	name   string
	method string
	path   string // under /ocpi/
	token  int    // index of the partner whose token is sent; -1: an unknown token
	header []string
	body   string
	status int             // HTTP
	code   ocpi.StatusCode // OCPI status_code
	msg    string          // regexp the status_message must match
	allow  string          // the Allow header of a 405
	// kept says the refusal kept a raw copy: a reject whose raw bytes in
	// the archive are the body (cut at receiver.MaxRefusedRaw).
	kept bool
	// readBack GETs the answer's Location: the stored CDR as it was sent.
	readBack bool
	query    string // SQL over the stored database ...
	want     string // ... and its single result, as text
}

const (
	tokP00     = 0
	tokUnknown = -1
)

// catCDR is the realistic 2.2.1 CDR of NL-P00 with its id and edits.
func catCDR(t *testing.T, id string, edits ...string) string {
	t.Helper()
	return cdrLine(t, id, append([]string{`"party_id":"ABC"`, `"party_id":"P00"`}, edits...)...)
}

// catSpec is a spec example owned by NL-P00 (2.2+: its owner fields
// replaced; 2.1.1 objects carry none) with its id and edits.
func catSpec(t *testing.T, name, id string, edits ...string) string {
	t.Helper()
	owner := map[string][2]string{
		"2.1.1/cdr_example.json":                   {`{"id":"12345"`, `{"id":"` + id + `"`},
		"2.1.1/tariff_simple_2_euro_per_hour.json": {`{"id":"12"`, `{"id":"` + id + `"`},
		"2.1.1/location_example.json":              {`{"id":"LOC1"`, `{"id":"` + id + `"`},
		"2.2.1/tariff_1_simple_2hour.json":         {`"country_code":"DE","party_id":"ALL","id":"12"`, `"country_code":"NL","party_id":"P00","id":"` + id + `"`},
		"2.2.1/location_example.json":              {`"country_code":"BE","party_id":"BEC","id":"LOC1"`, `"country_code":"NL","party_id":"P00","id":"` + id + `"`},
		"2.3.0/cdr_example.json":                   {`"country_code":"BE","party_id":"BEC","id":"12345"`, `"country_code":"NL","party_id":"P00","id":"` + id + `"`},
		"2.3.0/tariff_1_simple_2hour.json":         {`"country_code":"DE","party_id":"ALL","id":"12"`, `"country_code":"NL","party_id":"P00","id":"` + id + `"`},
		"2.3.0/location_example.json":              {`"country_code":"BE","party_id":"BEC","id":"LOC1"`, `"country_code":"NL","party_id":"P00","id":"` + id + `"`},
	}[name]
	if owner[0] == "" {
		t.Fatalf("catSpec: no owner edit for %s", name)
	}
	return specLine(t, name, append([]string{owner[0], owner[1]}, edits...)...)
}

// cdrFacts is what was stored of a CDR: the given columns, then its
// findings as "path rule blocking".
func cdrFacts(id, cols string) string {
	return `SELECT ` + cols + ` || ' | ' || coalesce((SELECT string_agg(f.path || ' ' || f.rule || ' ' || f.blocking, ', ' ORDER BY f.path, f.rule)
		FROM findings f WHERE f.kind = 'cdr' AND f.object_key = c.cdr_key), '') FROM cdrs c WHERE c.id = '` + id + `'`
}

// tariffFacts is what was stored of a tariff's versions and their findings.
func tariffFacts(id string) string {
	return `SELECT string_agg(t.last_updated::VARCHAR || ' ' || t.version || ' | ' || coalesce((SELECT string_agg(f.path || ' ' || f.rule || ' ' || f.blocking, ', ' ORDER BY f.path, f.rule)
		FROM findings f WHERE f.kind = 'tariff' AND f.object_key = t.tariff_key), ''), '; ' ORDER BY t.last_updated) FROM tariffs t WHERE t.id = '` + id + `'`
}

// locationFacts is what was stored of a location's versions: the given
// columns and the findings.
func locationFacts(id, cols string) string {
	return `SELECT string_agg(` + cols + ` || ' | ' || coalesce((SELECT string_agg(f.path || ' ' || f.rule || ' ' || f.blocking, ', ' ORDER BY f.path, f.rule)
		FROM findings f WHERE f.kind = 'location' AND f.object_key = l.location_key), ''), '; ' ORDER BY l.last_updated) FROM locations l WHERE l.id = '` + id + `'`
}

// rejectFacts is what was kept of a refused payload: its rejects as
// "kind version path rule blocking", and the size of its raw copy.
const rejectFacts = `SELECT string_agg(kind || ' ' || version || ' ' || coalesce(path, '-') || ' ' || rule || ' ' || coalesce(blocking::VARCHAR, 'NULL'), ', ' ORDER BY path, rule)
	|| ' | raw ' || (SELECT size FROM raw_payloads WHERE sha256 = from_hex('$KEPT')) FROM rejects WHERE raw_sha256 = from_hex('$KEPT')`

// tariffRefused is what was stored of a tariff that should be refused: its
// versions (none), then its rejects with their messages.
func tariffRefused(id string) string {
	return `SELECT (SELECT count(*) FROM tariffs WHERE id = '` + id + `') || ' | ' || (SELECT string_agg(coalesce(path, '-') || ' ' || rule || ' ' || coalesce(blocking::VARCHAR, 'NULL') || ': ' || message, ', ' ORDER BY path, rule)
		FROM rejects WHERE raw_sha256 = from_hex('$SHA'))`
}

// totals are a CDR's billed amounts and whether it blocks pricing.
const totals = "coalesce(total_cost_excl_vat::VARCHAR, 'NULL') || ' ' || coalesce(total_cost_incl_vat::VARCHAR, 'NULL') || ' ' || blocking"

// receiptOf is the outcome recorded for the body.
const receiptOf = `SELECT string_agg(outcome, ' ') FROM receipts WHERE sha256 = from_hex('$SHA')`

// tariffRefusal ends the message of a tariff refused for a number.
const tariffRefusal = "a published tariff is refused rather than stored without this value (it would be priced as 0 or without the limit)"

// locationAt is what was stored of one version of a location: the given
// columns and its findings.
func locationAt(id, lastUpdated, cols string) string {
	return `SELECT ` + cols + ` || ' | ' || coalesce((SELECT string_agg(f.path || ' ' || f.rule || ' ' || f.blocking, ', ' ORDER BY f.path, f.rule)
		FROM findings f WHERE f.kind = 'location' AND f.object_key = l.location_key), '') FROM locations l
		WHERE l.id = '` + id + `' AND l.last_updated = TIMESTAMPTZ '` + lastUpdated + `'`
}

// nothingStored counts every trace of the body: receipts, rejects, raw bytes.
const nothingStored = `SELECT (SELECT count(*) FROM receipts WHERE sha256 = from_hex('$SHA')) || ' ' ||
	(SELECT count(*) FROM rejects WHERE raw_sha256 = from_hex('$SHA')) || ' ' || (SELECT count(*) FROM raw_payloads WHERE sha256 = from_hex('$SHA'))`

func TestServeCatalogue(t *testing.T) {
	long := strings.Repeat("L", ocpi.MaxCDRIDLength+1)
	pad := strings.Repeat("x", 1<<20)
	deep := strings.Repeat(`{"a":`, ocpi.MaxDepth+8) + "1" + strings.Repeat("}", ocpi.MaxDepth+8)
	caseBody := func(id string) string { return catCDR(t, id) }
	conflicting := func(id string) string {
		return catCDR(t, id, `"meter_id":"MTR-00042-2"`, `"meter_id":"MTR-00042-3"`)
	}
	tariffCase := func(id, price string) string {
		return catSpec(t, "2.2.1/tariff_1_simple_2hour.json", id, `"price":2.00`, `"price":`+price)
	}

	cases := []pushCase{{
		// Item 6: one invalid UTF-8 byte used to fail the whole group commit
		// (TestE2EPoisonedByteFailsNoOne pushes it among other partners' CDRs).
		name: "invalid UTF-8 in a CDR's address", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-UTF8", `"address":"Damrak 70"`, "\"address\":\"Damrak\xff 70\""),
		status: 201, code: 1000, msg: `^stored with findings: cdr_location.address: .*\[encoding\]$`, readBack: true,
		query: cdrFacts("CAT-UTF8", "location_address"),
		want:  `Damrak\xFF 70 | cdr_location.address encoding false`,
	}, {
		name: "invalid UTF-8 in a CDR's id", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-\xffID"),
		status: 201, code: 1000, msg: `^stored with findings: id: `, readBack: true,
		query: cdrFacts(`CAT-\XFFID`, "id_as_sent"),
		want:  `CAT-\xFFID | id encoding false`,
	}, {
		name: "invalid UTF-8 in a tariff", method: "PUT", path: "2.2.1/tariffs/NL/P00/CAT-T-UTF8", token: tokP00,
		body:   catSpec(t, "2.2.1/tariff_1_simple_2hour.json", "CAT-T-UTF8", `"currency":"EUR"`, "\"currency\":\"EUR\",\"tariff_alt_url\":\"https://x.example/\xe9\""),
		status: 201, code: 1000, msg: `^stored with findings: tariff_alt_url: .*\[encoding\]$`,
		query: `SELECT (` + tariffFacts("CAT-T-UTF8") + `) || ' | ' || (SELECT alt_url FROM tariff_bodies b JOIN tariffs t USING (tariff_key) WHERE t.id = 'CAT-T-UTF8')`,
		want:  `2015-06-29 20:39:09+00 2.2.1 | tariff_alt_url encoding false | https://x.example/\xE9`,
	}, {
		// Item 8 for the receiver: over --max-body (1 MiB) the body is
		// refused before it is decoded; its first 64 KiB are kept.
		name: "a CDR over the size limit", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-BIG", `"meter_id":"MTR-00042-2"`, `"meter_id":"MTR-00042-2","pad":"`+pad+`"`),
		status: 413, code: 2000, msg: `^the body is over the 1048576-byte limit \(raw copy: the first 65536 of 1050\d\d\d bytes\) \[too_large\]$`, kept: true,
		query: rejectFacts,
		want:  `cdr 2.2.1 - too_large true | raw 65536`,
	}, {
		// Item 10: a 13-decimal number refused the whole identified CDR.
		name: "a volume with 13 decimals", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-PREC", `{"type":"ENERGY","volume":9.412}`, `{"type":"ENERGY","volume":9.4120000000001}`),
		status: 201, code: 1000, msg: `charging_periods\[0\].dimensions\[0\].volume: number 9.4120000000001 has more than 6 decimals`,
		query: cdrFacts("CAT-PREC", "blocking || ' ' || coalesce((SELECT volume::VARCHAR FROM cdr_dimensions d WHERE d.cdr_key = c.cdr_key AND period_index = 0 AND dimension_index = 0), 'NULL')"),
		want:  `true NULL | charging_periods[0].dimensions[0].volume precision true`,
	}, {
		name: "a billed amount with 13 integer digits", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-HUGE", `"total_cost":{"excl_vat":10.23,`, `"total_cost":{"excl_vat":1234567890123.5,`),
		status: 201, code: 1000,
		query: cdrFacts("CAT-HUGE", totals),
		want:  `NULL NULL false | total_cost.excl_vat too_large false`,
	}, {
		name: "a billed amount of 1e400", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-1E400", `"total_cost":{"excl_vat":10.23,`, `"total_cost":{"excl_vat":1e400,`),
		status: 201, code: 1000, msg: `total_cost.excl_vat: number 1e400 has more than 12 integer digits`,
		query: cdrFacts("CAT-1E400", totals),
		want:  `NULL NULL false | total_cost.excl_vat too_large false`,
	}, {
		// A published tariff is not a billing claim: a number it cannot
		// hold exactly is refused, never rounded, and said once.
		name: "a tariff price with 13 decimals", method: "PUT", path: "2.2.1/tariffs/NL/P00/CAT-T-PREC", token: tokP00,
		body:   tariffCase("CAT-T-PREC", "2.0000000000001"),
		status: 200, code: 2001, msg: `^elements\[0\].price_components\[0\].price: number 2.0000000000001 has more than 6 decimals \[precision\]$`,
		query: tariffRefused("CAT-T-PREC"),
		want: `0 | elements[0].price_components[0].price precision true: number 2.0000000000001 has more than 6 decimals; a published tariff is refused rather than rounded ` +
			`(value does not fit DECIMAL(18,6): at most 12 integer digits and 6 decimals are stored exactly)`,
	}, {
		// A tariff number the decoder could not read was stored as 0 (or
		// no restriction) and acknowledged: pricing reads the tables, not
		// the findings, so the tariff priced as free.
		name: "a tariff price of 1e400", method: "PUT", path: "2.2.1/tariffs/NL/P00/CAT-T-1E400", token: tokP00,
		body:   tariffCase("CAT-T-1E400", "1e400"),
		status: 200, code: 2001, msg: `^elements\[0\].price_components\[0\].price: number 1e400 has more than 12 integer digits \[too_large\]$`,
		query: tariffRefused("CAT-T-1E400"),
		want:  `0 | elements[0].price_components[0].price too_large true: number 1e400 has more than 12 integer digits; ` + tariffRefusal,
	}, {
		name: "a tariff price that is not a number", method: "PUT", path: "2.2.1/tariffs/NL/P00/CAT-T-NAN", token: tokP00,
		body:   tariffCase("CAT-T-NAN", `"two"`),
		status: 200, code: 2001,
		query: tariffRefused("CAT-T-NAN"),
		want:  `0 | elements[0].price_components[0].price type true: expected a number, got string "two"; ` + tariffRefusal,
	}, {
		name: "a tariff price component without a price", method: "PUT", path: "2.2.1/tariffs/NL/P00/CAT-T-NOPRICE", token: tokP00,
		body:   catSpec(t, "2.2.1/tariff_1_simple_2hour.json", "CAT-T-NOPRICE", `"price":2.00,`, ``),
		status: 200, code: 2001,
		query: tariffRefused("CAT-T-NOPRICE"),
		want:  `0 | elements[0].price_components[0].price required true: required field is missing; ` + tariffRefusal,
	}, {
		name: "a tariff restriction of 1e400 kWh", method: "PUT", path: "2.2.1/tariffs/NL/P00/CAT-T-KWH", token: tokP00,
		body:   catSpec(t, "2.2.1/tariff_1_simple_2hour.json", "CAT-T-KWH", `"step_size":60}]`, `"step_size":60}],"restrictions":{"max_kwh":1e400}`),
		status: 200, code: 2001,
		query: tariffRefused("CAT-T-KWH"),
		want:  `0 | elements[0].restrictions.max_kwh too_large true: number 1e400 has more than 12 integer digits; ` + tariffRefusal,
	}, {
		// A location's connector numbers are not money: stored, the value
		// 0 with a finding that says it could not be read.
		name: "a location connector of 1e400 volts", method: "PUT", path: "2.2.1/locations/NL/P00/CAT-L-VOLT", token: tokP00,
		body:   catSpec(t, "2.2.1/location_example.json", "CAT-L-VOLT", `"format":"CABLE","power_type":"AC_3_PHASE","max_voltage":220`, `"format":"CABLE","power_type":"AC_3_PHASE","max_voltage":1e400`),
		status: 201, code: 1000,
		query: locationFacts("CAT-L-VOLT", "(SELECT max_voltage::VARCHAR FROM location_connectors k WHERE k.location_key = l.location_key AND evse_index = 0 AND connector_index = 0)"),
		want:  `0 | evses[0].connectors[0].max_voltage too_large false`,
	}, {
		// What other implementations send: DateTimes in other shapes are
		// read, each with a finding; a date alone blocks pricing where the
		// field matters to it.
		name: "a CDR end with a space and an offset", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-DT-SPACE", `"end_date_time":"2024-11-05T19:27:51Z"`, `"end_date_time":"2024-11-05 19:27:51+00:00"`),
		status: 201, code: 1000,
		query: cdrFacts("CAT-DT-SPACE", "end_date_time::VARCHAR || ' ' || blocking"),
		want:  `2024-11-05 19:27:51+00 false | end_date_time format false`,
	}, {
		name: "a CDR end without seconds", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-DT-NOSEC", `"end_date_time":"2024-11-05T19:27:51Z"`, `"end_date_time":"2024-11-05T19:28Z"`),
		status: 201, code: 1000,
		query: cdrFacts("CAT-DT-NOSEC", "end_date_time::VARCHAR || ' ' || blocking"),
		want:  `2024-11-05 19:28:00+00 false | end_date_time format false`,
	}, {
		name: "a CDR end with +0200", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-DT-OFFSET", `"end_date_time":"2024-11-05T19:27:51Z"`, `"end_date_time":"2024-11-05T21:27:51+0200"`),
		status: 201, code: 1000,
		query: cdrFacts("CAT-DT-OFFSET", "end_date_time::VARCHAR || ' ' || blocking"),
		want:  `2024-11-05 19:27:51+00 false | end_date_time format false`,
	}, {
		name: "a CDR end as a date only", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-DT-DATE", `"end_date_time":"2024-11-05T19:27:51Z"`, `"end_date_time":"2024-11-06"`),
		status: 201, code: 1000,
		query: cdrFacts("CAT-DT-DATE", "end_date_time::VARCHAR || ' ' || blocking"),
		want:  `2024-11-06 00:00:00+00 true | end_date_time format true`,
	}, {
		name: "a tariff last_updated with a space", method: "PUT", path: "2.2.1/tariffs/NL/P00/CAT-T-SPACE", token: tokP00,
		body:   catSpec(t, "2.2.1/tariff_1_simple_2hour.json", "CAT-T-SPACE", `"last_updated":"2015-06-29T20:39:09Z"`, `"last_updated":"2022-01-02 00:00:00+00:00"`),
		status: 201, code: 1000,
		query: tariffFacts("CAT-T-SPACE"),
		want:  `2022-01-02 00:00:00+00 2.2.1 | last_updated format false`,
	}, {
		name: "a 2.1.1 tariff last_updated without seconds", method: "PUT", path: "2.1.1/tariffs/NL/P00/CAT-T-NOSEC", token: tokP00,
		body:   catSpec(t, "2.1.1/tariff_simple_2_euro_per_hour.json", "CAT-T-NOSEC", `"last_updated":"2015-06-29T20:39:09Z"`, `"last_updated":"2022-01-02T00:00Z"`),
		status: 201, code: 1000,
		query: tariffFacts("CAT-T-NOSEC"),
		want:  `2022-01-02 00:00:00+00 2.1.1 | last_updated format false`,
	}, {
		name: "a 2.3.0 tariff last_updated as a date only", method: "PUT", path: "2.3.0/tariffs/NL/P00/CAT-T-DATE", token: tokP00,
		body:   catSpec(t, "2.3.0/tariff_1_simple_2hour.json", "CAT-T-DATE", `"last_updated":"2015-06-29T20:39:09Z"`, `"last_updated":"2022-01-02"`),
		status: 201, code: 1000,
		query: tariffFacts("CAT-T-DATE"),
		want:  `2022-01-02 00:00:00+00 2.3.0 | last_updated format false`,
	}, {
		name: "a location last_updated with +0200", method: "PUT", path: "2.2.1/locations/NL/P00/CAT-L-OFFSET", token: tokP00,
		body:   catSpec(t, "2.2.1/location_example.json", "CAT-L-OFFSET", `"time_zone":"Europe/Brussels","last_updated":"2015-06-29T20:39:09Z"`, `"time_zone":"Europe/Brussels","last_updated":"2022-01-02T02:00:00+0200"`),
		status: 201, code: 1000,
		query: locationFacts("CAT-L-OFFSET", "l.last_updated::VARCHAR"),
		want:  `2022-01-02 00:00:00+00 | last_updated format false`,
	}, {
		// A time_zone that is not an IANA name was stored without a finding.
		name: "a 2.2.1 location whose time_zone is UTC+2", method: "PUT", path: "2.2.1/locations/NL/P00/CAT-L-TZ", token: tokP00,
		body:   catSpec(t, "2.2.1/location_example.json", "CAT-L-TZ", `"time_zone":"Europe/Brussels"`, `"time_zone":"UTC+2"`),
		status: 201, code: 1000, msg: `^stored with findings: time_zone: "UTC\+2" is not an IANA time zone name`,
		query: locationFacts("CAT-L-TZ", "l.time_zone"),
		want:  `UTC+2 | time_zone format false`,
	}, {
		name: "a 2.3.0 location whose time_zone is UTC+2", method: "PUT", path: "2.3.0/locations/NL/P00/CAT-L-TZ3", token: tokP00,
		body:   catSpec(t, "2.3.0/location_example.json", "CAT-L-TZ3", `"time_zone":"Europe/Brussels"`, `"time_zone":"UTC+2"`),
		status: 201, code: 1000,
		query: locationFacts("CAT-L-TZ3", "l.time_zone"),
		want:  `UTC+2 | time_zone format false`,
	}, {
		name: "a 2.1.1 location whose time_zone is GMT+1", method: "PUT", path: "2.1.1/locations/NL/P00/CAT-L-TZ1", token: tokP00,
		body:   catSpec(t, "2.1.1/location_example.json", "CAT-L-TZ1", `"operator":{"name":"BeCharged"}`, `"operator":{"name":"BeCharged"},"time_zone":"GMT+1"`),
		status: 201, code: 1000,
		query: locationFacts("CAT-L-TZ1", "l.time_zone"),
		want:  `GMT+1 | evses[1].connectors[0].last_updated required false, time_zone format false`,
	}, {
		// Item 11: ids are CiStrings. The twin in another case is the same
		// CDR (a duplicate, not a conflict), and a conflict is recorded once
		// however often it is sent.
		name: "a CDR", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   caseBody("CAT-CASE"),
		status: 201, code: 1000,
		query: receiptOf, want: `accepted`,
	}, {
		name: "the same CDR with its id in lower case", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   caseBody("cat-case"),
		status: 200, code: 1000, msg: `^already received: nothing changed$`,
		query: receiptOf, want: `duplicate`,
	}, {
		name: "another body under the id in mixed case", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   conflicting("Cat-Case"),
		status: 200, code: 2001, msg: `^a different cdr is stored under this identity; it is immutable, the conflict was recorded \[conflict\]$`,
		query: receiptOf, want: `conflict`,
	}, {
		name: "that body again, the id in lower case", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   conflicting("cat-case"),
		status: 200, code: 2001, msg: `\[conflict\]$`,
		query: `SELECT (SELECT string_agg(id || ' ' || coalesce(id_as_sent, 'NULL'), ', ') FROM cdrs WHERE id = 'CAT-CASE') || ' | ' ||
			(SELECT count(*) FROM conflicts WHERE kind = 'cdr' AND id = 'CAT-CASE') || ' | ' || (SELECT outcome FROM receipts WHERE sha256 = from_hex('$SHA'))`,
		want: `CAT-CASE NULL | 1 | conflict`,
	}, {
		name: "a tariff", method: "PUT", path: "2.2.1/tariffs/NL/P00/cat-t-case", token: tokP00,
		body:   tariffCase("cat-t-case", "2.00"),
		status: 201, code: 1000,
	}, {
		name: "the same tariff version, its id in upper case", method: "PUT", path: "2.2.1/tariffs/NL/P00/CAT-T-CASE", token: tokP00,
		body:   tariffCase("CAT-T-CASE", "2.00"),
		status: 200, code: 1000, msg: `^already received: nothing changed$`,
	}, {
		name: "another body of that version", method: "PUT", path: "2.2.1/tariffs/NL/P00/Cat-T-Case", token: tokP00,
		body:   tariffCase("Cat-T-Case", "2.50"),
		status: 200, code: 2001, msg: `^a different tariff is stored under this identity`,
	}, {
		name: "that body again", method: "PUT", path: "2.2.1/tariffs/NL/P00/cat-t-case", token: tokP00,
		body:   tariffCase("cat-t-case", "2.50"),
		status: 200, code: 2001, msg: `\[conflict\]$`,
		query: `SELECT (SELECT count(*) FROM tariffs WHERE id = 'CAT-T-CASE') || ' ' || (SELECT count(*) FROM conflicts WHERE kind = 'tariff' AND id = 'CAT-T-CASE')`,
		want:  `1 1`,
	}, {
		// Item 9: ids OCPI does not allow. A CDR is a billing claim: stored
		// with a finding, its Location escaped so that it reads back. A
		// published object's URL must name an id OCPI allows.
		name: "a CDR id over 39 characters", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, long),
		status: 201, code: 1000, msg: `^stored with findings: id: longer than 39 characters \(40\) \[length\]$`, readBack: true,
		query: cdrFacts(long, "length(id)::VARCHAR"),
		want:  `40 | id length false`,
	}, {
		name: "a CDR id with a slash and a space", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, "CAT ODD/ID"),
		status: 201, code: 1000, msg: `^stored with findings: id: "CAT ODD/ID" has characters OCPI does not allow`, readBack: true,
		query: cdrFacts("CAT ODD/ID", "id"),
		want:  `CAT ODD/ID | id format false`,
	}, {
		name: "a tariff id over 39 characters in the URL", method: "PUT", path: "2.2.1/tariffs/NL/P00/" + long, token: tokP00,
		body:   catSpec(t, "2.2.1/tariff_1_simple_2hour.json", long),
		status: 400, code: 2001, msg: `^id: the id in the URL is longer than 39 characters \[length\]$`, kept: true,
		query: rejectFacts,
		want:  `tariff 2.2.1 id length true | raw 232`,
	}, {
		name: "a tariff id with a space in the URL", method: "PUT", path: "2.2.1/tariffs/NL/P00/CAT%20T", token: tokP00,
		body:   catSpec(t, "2.2.1/tariff_1_simple_2hour.json", "CAT T"),
		status: 400, code: 2001, msg: `^id: the id in the URL, "CAT T", has characters OCPI does not allow \(printable ASCII without spaces, "/", "\?", "#", "%" or "\\"\), the first at byte 3 \[format\]$`, kept: true,
		query: rejectFacts,
		want:  `tariff 2.2.1 id format true | raw 197`,
	}, {
		name: "a location id with a non-ASCII letter", method: "PUT", path: "2.2.1/locations/NL/P00/CAT-L-%C3%BC", token: tokP00,
		body:   catSpec(t, "2.2.1/location_example.json", "CAT-L-ü"),
		status: 400, code: 2001, msg: `\[format\]$`, kept: true,
		query: rejectFacts,
		want:  `location 2.2.1 id format true | raw 1278`,
	}, {
		name: "a connector id with a space in the URL", method: "PUT", path: "2.2.1/locations/NL/P00/CAT-L-TZ/3256/A%20B", token: tokP00,
		body:   `{"id":"A B","standard":"IEC_62196_T2","format":"SOCKET","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":16,"last_updated":"2030-07-01T00:00:00Z"}`,
		status: 400, code: 2001, msg: `^connector_id: the id in the URL, "A B", has characters OCPI does not allow .* \[format\]$`, kept: true,
		query: rejectFacts,
		want:  `location 2.2.1 connector_id format true | raw 156`,
	}, {
		// Changes to a stored location (PATCH, and PUT of an EVSE or a
		// connector) go through the receiver's own merge, not the decoder's.
		name: "a location to change", method: "PUT", path: "2.2.1/locations/NL/P00/CAT-L-PATCH", token: tokP00,
		body:   catSpec(t, "2.2.1/location_example.json", "CAT-L-PATCH"),
		status: 201, code: 1000,
	}, {
		// encoding/json read the byte as U+FFFD, without a finding.
		name: "invalid UTF-8 in a location PATCH", method: "PATCH", path: "2.2.1/locations/NL/P00/CAT-L-PATCH", token: tokP00,
		body:   "{\"name\":\"Gent\xffZuid\",\"last_updated\":\"2030-06-25T00:00:00Z\"}",
		status: 201, code: 1000, msg: `^stored with findings: name: not valid UTF-8: kept with each invalid byte written \\xHH; the raw payload has the bytes as sent \[encoding\]$`,
		query: locationAt("CAT-L-PATCH", "2030-06-25T00:00:00Z", "l.name"),
		want:  `Gent\xFFZuid | name encoding false`,
	}, {
		name: "invalid UTF-8 in a connector PATCH's tariff_ids", method: "PATCH", path: "2.2.1/locations/NL/P00/CAT-L-PATCH/3256/1", token: tokP00,
		body:   "{\"tariff_ids\":[\"T\xff1\"],\"last_updated\":\"2030-06-25T01:00:00Z\"}",
		status: 201, code: 1000,
		query: locationAt("CAT-L-PATCH", "2030-06-25T01:00:00Z", "(SELECT k.tariff_ids::VARCHAR FROM location_connectors k WHERE k.location_key = l.location_key AND evse_index = 0 AND connector_index = 0)"),
		want:  `[T\xFF1] | tariff_ids encoding false`,
	}, {
		// The PATCH path reads last_updated without saying its shape.
		name: "a location PATCH with last_updated with a space", method: "PATCH", path: "2.2.1/locations/NL/P00/CAT-L-PATCH", token: tokP00,
		body:   `{"name":"Gent Zuid","last_updated":"2030-06-26 00:00:00"}`,
		status: 201, code: 1000,
		query: locationAt("CAT-L-PATCH", "2030-06-26T00:00:00Z", "l.name"),
		want:  `Gent Zuid | `,
	}, {
		// A connector PUT with a byte that is not UTF-8 was refused as
		// [format] and not kept; its finding named the wrapper's
		// evses[0].connectors[0], not where the connector goes.
		name: "a connector PUT with invalid UTF-8 in a tariff id", method: "PUT", path: "2.2.1/locations/NL/P00/CAT-L-PATCH/3256/9", token: tokP00,
		body:   "{\"id\":\"9\",\"standard\":\"IEC_62196_T2\",\"format\":\"SOCKET\",\"power_type\":\"AC_3_PHASE\",\"max_voltage\":230,\"max_amperage\":16,\"tariff_ids\":[\"T\xff9\"],\"last_updated\":\"2030-07-01T00:00:00Z\"}",
		status: 201, code: 1000, msg: `^stored with findings: evses\[0\].connectors\[2\].tariff_ids\[0\]: not valid UTF-8`,
		query: locationAt("CAT-L-PATCH", "2030-07-01T00:00:00Z", "(SELECT string_agg(k.connector_index || '=' || k.tariff_ids::VARCHAR, ' ' ORDER BY k.connector_index) FROM location_connectors k WHERE k.location_key = l.location_key AND evse_index = 0)"),
		want:  `0=[T\xFF1] 1=[13] 2=[T\xFF9] | evses[0].connectors[2].tariff_ids[0] encoding true`,
	}, {
		name: "a connector PUT without its standard", method: "PUT", path: "2.2.1/locations/NL/P00/CAT-L-PATCH/3257/7", token: tokP00,
		body:   `{"id":"7","format":"SOCKET","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":16,"last_updated":"2030-07-02T00:00:00Z"}`,
		status: 201, code: 1000, msg: `^stored with findings: evses\[1\].connectors\[1\].standard: required field is missing \[required\]$`,
		query: locationAt("CAT-L-PATCH", "2030-07-02T00:00:00Z", "(SELECT count(*) FROM location_connectors k WHERE k.location_key = l.location_key)::VARCHAR"),
		want:  `5 | evses[1].connectors[1].standard required false`, // once: the merged location's validation finds it too
	}, {
		// A blocking problem refuses the part with its own rule (it said
		// [format] whatever the rule).
		name: "a connector PUT whose tariff_ids is not a list", method: "PUT", path: "2.2.1/locations/NL/P00/CAT-L-PATCH/3257/8", token: tokP00,
		body:   `{"id":"8","standard":"IEC_62196_T2","format":"SOCKET","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":16,"tariff_ids":"12","last_updated":"2030-07-03T00:00:00Z"}`,
		status: 200, code: 2001, msg: `^evses\[1\].connectors\[2\].tariff_ids: expected an array, got string "12" \[type\]$`, kept: true,
		query: rejectFacts,
		want:  `location 2.2.1 evses[1].connectors[2].tariff_ids type true | raw 172`,
	}, {
		// Refusals after the body was read did not keep it (DESIGN
		// invariant 2, issue 12 item 18).
		name: "a PATCH of a location that is not stored", method: "PATCH", path: "2.2.1/locations/NL/P00/CAT-L-NONE", token: tokP00,
		body:   `{"name":"CAT-L-NONE","last_updated":"2030-06-25T00:00:00Z"}`,
		status: 404, code: 2003, msg: `^id: unknown location: PUT it first \[protocol\]$`, kept: true,
		query: rejectFacts,
		want:  `location 2.2.1 id protocol true | raw 59`,
	}, {
		name: "a location PATCH that is not an object", method: "PATCH", path: "2.2.1/locations/NL/P00/CAT-L-PATCH", token: tokP00,
		body:   `["CAT-L-ARRAY"]`,
		status: 200, code: 2001, msg: `^the PATCH body is not a JSON object \[format\]$`, kept: true,
		query: rejectFacts,
		want:  `location 2.2.1 - format true | raw 15`,
	}, {
		name: "a connector PUT on an EVSE that is not stored", method: "PUT", path: "2.2.1/locations/NL/P00/CAT-L-PATCH/NOPE/1", token: tokP00,
		body:   `{"id":"1","standard":"IEC_62196_T2","format":"SOCKET","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":16,"last_updated":"2030-07-02T00:00:00Z"}`,
		status: 200, code: 2001, msg: `^evse_uid: unknown EVSE NOPE: PUT it first \[format\]$`, kept: true,
		query: rejectFacts,
		want:  `location 2.2.1 evse_uid format true | raw 154`,
	}, {
		name: "a 2.1.1 tariff to change", method: "PUT", path: "2.1.1/tariffs/NL/P00/CAT-T-PATCH", token: tokP00,
		body:   catSpec(t, "2.1.1/tariff_simple_2_euro_per_hour.json", "CAT-T-PATCH"),
		status: 201, code: 1000,
	}, {
		name: "a 2.1.1 tariff PATCH of a tariff that is not stored", method: "PATCH", path: "2.1.1/tariffs/NL/P00/CAT-T-NONE", token: tokP00,
		body:   `{"currency":"USD","last_updated":"2022-02-01T00:00:00Z"}`,
		status: 404, code: 2003, msg: `^id: no such tariff: PUT it first \[protocol\]$`, kept: true,
		query: rejectFacts,
		want:  `tariff 2.1.1 id protocol true | raw 56`,
	}, {
		name: "a 2.1.1 tariff PATCH that is not an object", method: "PATCH", path: "2.1.1/tariffs/NL/P00/CAT-T-PATCH", token: tokP00,
		body:   `["CAT-T-ARRAY"]`,
		status: 400, code: 2000, msg: `^the PATCH body is not a JSON object \[syntax\]$`, kept: true,
		query: rejectFacts,
		want:  `tariff 2.1.1 - syntax true | raw 15`,
	}, {
		// A 2.1.1 tariff PATCH is stored as the merged document (the next
		// PATCH starts from it), decoded like any tariff.
		name: "a 2.1.1 tariff PATCH with invalid UTF-8", method: "PATCH", path: "2.1.1/tariffs/NL/P00/CAT-T-PATCH", token: tokP00,
		body:   "{\"tariff_alt_url\":\"https://x.example/\xe9\",\"last_updated\":\"2022-02-01T00:00:00Z\"}",
		status: 201, code: 1000, msg: `tariff_alt_url: not valid UTF-8`,
		query: tariffFacts("CAT-T-PATCH"),
		want:  `2015-06-29 20:39:09+00 2.1.1 | ; 2022-02-01 00:00:00+00 2.1.1 | tariff_alt_url encoding false`,
	}, {
		// The other version's names are read, each with a finding.
		name: "a 2.1.1 CDR with end_date_time", method: "POST", path: "2.1.1/cdrs", token: tokP00,
		body:   catSpec(t, "2.1.1/cdr_example.json", "CAT-211-END", `"stop_date_time"`, `"end_date_time"`),
		status: 201, code: 1000, msg: `end_date_time: end_date_time is not a 2.1.1 field: read as stop_date_time`,
		query: cdrFacts("CAT-211-END", "end_date_time::VARCHAR || ' ' || blocking"),
		want:  `2015-06-29 23:37:32+00 false | end_date_time format false, tariffs[0].elements[0].price_components[0].price format false, tariffs[0].last_updated required false`,
	}, {
		name: "a 2.1.1 CDR with a 2.2 total_cost object", method: "POST", path: "2.1.1/cdrs", token: tokP00,
		body:   catSpec(t, "2.1.1/cdr_example.json", "CAT-211-PRICE", `"total_cost":4.00`, `"total_cost":{"excl_vat":4.0,"incl_vat":4.4}`),
		status: 201, code: 1000,
		query: cdrFacts("CAT-211-PRICE", totals),
		want:  `4.000000 4.400000 false | tariffs[0].elements[0].price_components[0].price format false, tariffs[0].last_updated required false, total_cost format false`,
	}, {
		name: "a 2.2.1 CDR pushed to 2.3.0", method: "POST", path: "2.3.0/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-230-AS-221"),
		status: 201, code: 1000,
		query: cdrFacts("CAT-230-AS-221", "version || ' ' || "+totals),
		want: `2.3.0 10.230000 12.380000 false | total_cost.excl_vat format false, total_cost.incl_vat format false, total_energy_cost.excl_vat format false, total_energy_cost.incl_vat format false, ` +
			`total_fixed_cost.excl_vat format false, total_fixed_cost.incl_vat format false, total_parking_cost.excl_vat format false, total_parking_cost.incl_vat format false, total_time_cost.excl_vat format false, total_time_cost.incl_vat format false`,
	}, {
		// Missing is not zero: a CDR without total_cost is stored, its
		// billed amount NULL.
		name: "a 2.2.1 CDR without total_cost", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-NOCOST", `"total_cost":{"excl_vat":10.23,"incl_vat":12.38},`, ``),
		status: 201, code: 1000, msg: `total_cost: required field is missing \[required\]`,
		query: cdrFacts("CAT-NOCOST", totals),
		want:  `NULL NULL false | total_cost required false`,
	}, {
		name: "a 2.1.1 CDR without total_cost", method: "POST", path: "2.1.1/cdrs", token: tokP00,
		body:   catSpec(t, "2.1.1/cdr_example.json", "CAT-211-NOCOST", `"total_cost":4.00,`, ``),
		status: 201, code: 1000,
		query: cdrFacts("CAT-211-NOCOST", totals),
		want:  `NULL NULL false | tariffs[0].elements[0].price_components[0].price format false, tariffs[0].last_updated required false, total_cost required false`,
	}, {
		name: "a 2.3.0 CDR without total_cost", method: "POST", path: "2.3.0/cdrs", token: tokP00,
		body:   catSpec(t, "2.3.0/cdr_example.json", "CAT-230-NOCOST", `"total_cost":{"before_taxes":4.00,"taxes":[{"name":"VAT","amount":0.40}]},`, ``),
		status: 201, code: 1000,
		query: cdrFacts("CAT-230-NOCOST", totals),
		want:  `NULL NULL false | tariffs[0].tax_included required false, total_cost required false`,
	}, {
		// Bodies that are not one object: refused, each kept as a reject.
		name: "an empty CDR body", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   "",
		status: 400, code: 2000, msg: `\[syntax\]$`, kept: true,
		query: rejectFacts + ` AND kind = 'cdr'`,
		want:  `cdr 2.2.1 - syntax true | raw 0`,
	}, {
		name: "an empty tariff body", method: "PUT", path: "2.2.1/tariffs/NL/P00/CAT-T-EMPTY", token: tokP00,
		body:   "",
		status: 400, code: 2000, msg: `\[syntax\]$`, kept: true,
		query: rejectFacts + ` AND kind = 'tariff'`,
		want:  `tariff 2.2.1 - syntax true | raw 0`,
	}, {
		name: "a list of one CDR", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   "[" + catCDR(t, "CAT-LIST") + "]",
		status: 200, code: 2001, msg: `^expected a JSON object, got array \[type\]$`, kept: true,
		query: rejectFacts,
		want:  `cdr 2.2.1 - type true | raw 1925`,
	}, {
		name: "a list of one tariff", method: "PUT", path: "2.3.0/tariffs/NL/P00/CAT-T-LIST", token: tokP00,
		body:   "[" + catSpec(t, "2.3.0/tariff_1_simple_2hour.json", "CAT-T-LIST") + "]",
		status: 200, code: 2001, msg: `^expected a JSON object, got array \[type\]$`, kept: true,
		query: rejectFacts,
		want:  `tariff 2.3.0 - type true | raw 224`,
	}, {
		// Item 18: deep nesting answers 400 (not 413), before any of the
		// body is interpreted, even when the rest is a good CDR.
		name: "nesting deeper than the limit", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   deep,
		status: 400, code: 2000, msg: `^offset 160: JSON nested deeper than 32 levels \[depth\]$`, kept: true,
		query: rejectFacts,
		want:  `cdr 2.2.1 - depth true | raw 241`,
	}, {
		name: "a CDR nesting deeper than the limit in an extra field", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-DEEP", `"meter_id":"MTR-00042-2"`, `"meter_id":"MTR-00042-2","x":`+deep),
		status: 400, code: 2000, msg: `\[depth\]$`, kept: true,
		query: rejectFacts + ` AND (SELECT count(*) FROM cdrs WHERE id = 'CAT-DEEP') = 0`,
		want:  `cdr 2.2.1 - depth true | raw 2169`,
	}, {
		// Owners (DESIGN invariant 5): refused, each kept as a reject.
		name: "a tariff whose body names another party than its URL", method: "PUT", path: "2.2.1/tariffs/NL/P00/CAT-T-OWN", token: tokP00,
		body:   catSpec(t, "2.2.1/tariff_1_simple_2hour.json", "CAT-T-OWN", `"party_id":"P00"`, `"party_id":"P01"`),
		status: 200, code: 2001, msg: `^country_code/party_id: the object belongs to NL-P01 .*\[owner\]$`, kept: true,
		query: rejectFacts,
		want:  `tariff 2.2.1 country_code/party_id owner true | raw 201`,
	}, {
		name: "a CDR of another registered partner", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   cdrLine(t, "CAT-P01", `"party_id":"ABC"`, `"party_id":"P01"`),
		status: 200, code: 2001, msg: `NL-P01 .*\[owner\]$`, kept: true,
		query: rejectFacts,
		want:  `cdr 2.2.1 country_code/party_id owner true | raw 1922`,
	}, {
		name: "a CDR of an unknown party", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		body:   cdrLine(t, "CAT-ZZZ", `"country_code":"NL","party_id":"ABC"`, `"country_code":"DE","party_id":"ZZZ"`),
		status: 200, code: 2001, msg: `DE-ZZZ .*\[owner\]$`, kept: true,
		query: rejectFacts,
		want:  `cdr 2.2.1 country_code/party_id owner true | raw 1922`,
	}, {
		name: "a tariff PUT to an unknown party's URL", method: "PUT", path: "2.2.1/tariffs/DE/ZZZ/CAT-T-ZZZ", token: tokP00,
		body:   specLine(t, "2.2.1/tariff_1_simple_2hour.json", `"party_id":"ALL","id":"12"`, `"party_id":"ZZZ","id":"CAT-T-ZZZ"`),
		status: 404, code: 2001, msg: `^country_code/party_id: DE-ZZZ is not a party of this connection \[owner\]$`, kept: true,
		query: rejectFacts,
		want:  `tariff 2.2.1 country_code/party_id owner true | raw 201`,
	}, {
		name: "routing headers naming another party", method: "POST", path: "2.2.1/cdrs", token: tokP00,
		header: []string{"OCPI-from-country-code", "NL", "OCPI-from-party-id", "P01"},
		body:   catCDR(t, "CAT-ROUTED"),
		status: 404, code: 2001, msg: `^OCPI-from-party-id: NL-P01 is not a party of this connection \[owner\]$`, kept: true,
		query: rejectFacts,
		want:  `cdr 2.2.1 OCPI-from-party-id owner true | raw 1925`,
	}, {
		name: "an unknown token", method: "POST", path: "2.2.1/cdrs", token: tokUnknown,
		body:   catCDR(t, "CAT-TOKEN"),
		status: 401, code: 2000, msg: `^unknown token$`,
		query: nothingStored,
		want:  `0 0 0`,
	}, {
		// Methods and versions: an OCPI envelope, 405 with Allow.
		name: "DELETE of the CDR endpoint", method: "DELETE", path: "2.2.1/cdrs", token: tokP00,
		status: 405, code: 2000, allow: "POST", msg: `^DELETE is not allowed here; allowed: POST \[protocol\]$`,
	}, {
		name: "PUT of a CDR", method: "PUT", path: "2.2.1/cdrs/NL/P00/CAT-PUT", token: tokP00,
		body:   catCDR(t, "CAT-PUT"),
		status: 405, code: 2000, allow: "GET",
		query: nothingStored,
		want:  `0 0 0`,
	}, {
		// The 2.2+ tariff PATCH answered 405 without Allow, and the 405 of
		// a tariff URL listed PATCH in every version.
		name: "a 2.2.1 tariff PATCH", method: "PATCH", path: "2.2.1/tariffs/NL/P00/cat-t-case", token: tokP00,
		body:   `{"currency":"USD","last_updated":"2030-01-01T00:00:00Z"}`,
		status: 405, code: 2000, allow: "GET, PUT, DELETE", msg: `^tariffs are replaced with PUT since OCPI 2.2; allowed: GET, PUT, DELETE \[protocol\]$`,
		query: nothingStored,
		want:  `0 0 0`,
	}, {
		name: "POST of a 2.3.0 tariff", method: "POST", path: "2.3.0/tariffs/NL/P00/CAT-T-POST", token: tokP00,
		body:   catSpec(t, "2.3.0/tariff_1_simple_2hour.json", "CAT-T-POST"),
		status: 405, code: 2000, allow: "GET, PUT, DELETE",
		query: nothingStored,
		want:  `0 0 0`,
	}, {
		name: "POST of a 2.1.1 tariff", method: "POST", path: "2.1.1/tariffs/NL/P00/CAT-T-POST", token: tokP00,
		body:   catSpec(t, "2.1.1/tariff_simple_2_euro_per_hour.json", "CAT-T-POST"),
		status: 405, code: 2000, allow: "GET, PUT, PATCH, DELETE",
	}, {
		name: "an invoice reconciliation record on 2.2.1", method: "POST", path: "2.2.1/invoicereconciliation", token: tokP00,
		body:   `{"country_code":"NL","party_id":"P00","id":"CAT-IRR","invoice_id":"INV1","cdrs":["CAT-CASE"],"last_updated":"2025-04-01T21:59:59Z"}`,
		status: 404, code: 3002, msg: `^unsupported OCPI version "2.2.1" for invoicereconciliation \[protocol\]$`,
		query: nothingStored,
		want:  `0 0 0`,
	}, {
		name: "a CDR to an unsupported version", method: "POST", path: "2.0/cdrs", token: tokP00,
		body:   catCDR(t, "CAT-V20"),
		status: 404, code: 3002,
		query: nothingStored,
		want:  `0 0 0`,
	}}

	db := filepath.Join(t.TempDir(), "catalogue.duckdb")
	tokens := loadPartners(t, db, 2)
	var logs syncBuffer
	base, stop := startServe(t, db, &logs, "--quiet-requests")
	c := client{t, base}
	for _, tc := range cases {
		auth := ocpi.AuthorizationHeader("not-a-token", ocpi.AuthBase64, ocpi.V221)
		if tc.token >= 0 {
			auth = ocpi.AuthorizationHeader(tokens[tc.token], ocpi.AuthBase64, ocpi.V221)
		}
		var body []byte
		if tc.method != "GET" && tc.method != "DELETE" || tc.body != "" {
			body = []byte(tc.body)
		}
		r := c.do(tc.method, "/ocpi/"+tc.path, auth, body, tc.header...)
		if r.status != tc.status || r.env.StatusCode != tc.code {
			t.Errorf("%s: %s %s: HTTP %d OCPI %d, want %d %d\n%s", tc.name, tc.method, tc.path, r.status, r.env.StatusCode, tc.status, tc.code, r.body)
		}
		if tc.msg != "" && !regexp.MustCompile(tc.msg).MatchString(r.env.StatusMessage) {
			t.Errorf("%s: status_message %q does not match %q", tc.name, r.env.StatusMessage, tc.msg)
		}
		if tc.allow != r.header.Get("Allow") {
			t.Errorf("%s: Allow %q, want %q", tc.name, r.header.Get("Allow"), tc.allow)
		}
		if tc.readBack {
			loc := r.header.Get("Location")
			g := c.do("GET", loc, auth, nil)
			var sent bytes.Buffer
			json.Compact(&sent, []byte(tc.body))
			if loc == "" || g.status != 200 || !bytes.Equal(g.env.Data, sent.Bytes()) {
				t.Errorf("%s: GET of its Location %q: %d %.300s", tc.name, loc, g.status, g.body)
			}
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, logs.String())
	}

	s, err := store.OpenExisting(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rejects, err := s.Rejects(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		sum := sha256.Sum256([]byte(tc.body))
		keptBody := []byte(tc.body)[:min(len(tc.body), receiver.MaxRefusedRaw)]
		kept := sha256.Sum256(keptBody)
		if tc.kept {
			found := false
			for _, r := range rejects {
				found = found || r.RawSHA256 == kept && bytes.Equal(r.Raw, keptBody)
			}
			if !found {
				t.Errorf("%s: no reject keeps the body's raw bytes", tc.name)
			}
		}
		// Acknowledged is stored: its receipt and its raw bytes, whole (a
		// 2.1.1 tariff PATCH keeps the merged tariff instead).
		if tc.code == ocpi.StatusSuccess && !(tc.method == "PATCH" && strings.Contains(tc.path, "/tariffs/")) {
			outcome := map[int]string{201: "accepted", 200: "duplicate"}[tc.status]
			var n, size int64
			err := s.DB().QueryRow(`SELECT (SELECT count(*) FROM receipts WHERE sha256 = ? AND outcome = ?),
				(SELECT coalesce(max(size), -1) FROM raw_payloads WHERE sha256 = ?)`, sum[:], outcome, sum[:]).Scan(&n, &size)
			if err != nil || n != 1 || size != int64(len(tc.body)) {
				t.Errorf("%s: acknowledged, but %d receipts %q and raw bytes of size %d (body %d) are stored (%v)", tc.name, n, outcome, size, len(tc.body), err)
			}
		}
		if tc.query == "" {
			continue
		}
		q := strings.NewReplacer("$SHA", hex.EncodeToString(sum[:]), "$KEPT", hex.EncodeToString(kept[:])).Replace(tc.query)
		var got string
		if err := s.DB().QueryRow(q).Scan(&got); err != nil {
			t.Errorf("%s: %s: %v", tc.name, q, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: stored\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
