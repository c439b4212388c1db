package store

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

var decimalEqual = cmp.Options{
	cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
	cmp.Comparer(func(a, b json.RawMessage) bool { return string(a) == string(b) }),
}

func openMem(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func save(t *testing.T, s *Store, batch ...ocpi.Received) []ocpi.Outcome {
	t.Helper()
	out, err := s.Save(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(batch) {
		t.Fatalf("got %d outcomes for %d payloads", len(out), len(batch))
	}
	return out
}

func counts(t *testing.T, s *Store) Counts {
	t.Helper()
	c, err := s.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMigrationsWellFormed(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || SchemaVersion() != len(ms) {
		t.Fatalf("SchemaVersion %d, %d migrations", SchemaVersion(), len(ms))
	}
}

func TestOpenMigratesOnceAndRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roam.db")
	for range 3 {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		var n, v int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*), max(version) FROM schema_version`).Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		if n != SchemaVersion() || v != SchemaVersion() {
			t.Fatalf("schema_version has %d rows up to %d, want %d", n, v, SchemaVersion())
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO schema_version (version, name) VALUES (?, 'from the future')`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer database: %v, want ErrSchemaTooNew", err)
	}
}

func TestScaled(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"0.0012", 1200, true},
		{"12.345678", 12345678, true},
		{"-4.40", -4400000, true},
		{"999999999999.999999", 999999999999999999, true},
		{"-999999999999.999999", -999999999999999999, true},
		{"1000000000000", 0, false},
		{"0.0000001", 0, false},
		{"1.2345670", 1234567, true}, // trailing zero beyond the scale is exact
		{"1.23456789", 0, false},
		{"12e3", 12000000000, true},
		{"123456789012345678901234567890", 0, false},
	} {
		got, ok := scaled(d(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("scaled(%s) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// The Appender would store int64(12) in a DECIMAL(18,6) as 0.000012; values
// go in already scaled through Arrow, and must come back exactly.
func TestDecimalRoundTrip(t *testing.T) {
	s := openMem(t)
	values := []string{"0.0012", "12.345678", "-4.40", "999999999999.999999", "-999999999999.999999", "0"}
	var batch []ocpi.Received
	for i, v := range values {
		c := sampleCDR("DEC" + v)
		c.TotalCost = &ocpi.Price{ExclVAT: d(v), InclVAT: nd(v)}
		c.ChargingPeriods[0].Dimensions[0].Volume = d(v)
		batch = append(batch, recvCDR(c, "x", int64(i)))
	}
	for i, o := range save(t, s, batch...) {
		if o != ocpi.OutcomeAccepted {
			t.Fatalf("payload %d: %s", i, o)
		}
	}
	for _, v := range values {
		c, _, err := s.CDR(context.Background(), "NL", "ABC", "DEC"+v)
		if err != nil {
			t.Fatal(err)
		}
		if !c.TotalCost.ExclVAT.Equal(d(v)) || !c.TotalCost.InclVAT.Decimal.Equal(d(v)) ||
			!c.ChargingPeriods[0].Dimensions[0].Volume.Equal(d(v)) {
			t.Errorf("%s came back as %s / %s / %s", v, c.TotalCost.ExclVAT, c.TotalCost.InclVAT.Decimal,
				c.ChargingPeriods[0].Dimensions[0].Volume)
		}
		// And DuckDB itself sees the value, not a rescaled one.
		var text string
		if err := s.db.QueryRow(`SELECT CAST(total_cost_excl_vat AS VARCHAR) FROM cdrs WHERE id = ?`, "DEC"+v).Scan(&text); err != nil {
			t.Fatal(err)
		}
		if !d(text).Equal(d(v)) {
			t.Errorf("DuckDB holds %s for %s", text, v)
		}
	}
}

// A CDR is never refused for a number's scale or size (issue 12 item 10):
// the column holds NULL, never a rounded value, and a finding at the path
// says so; it blocks pricing only where pricing reads the value. A
// published tariff is not a billing claim and is still refused.
func TestValuesBeyondTheSchemaAreNullNotRounded(t *testing.T) {
	s := openMem(t)
	vol := sampleCDR("VOL")
	vol.ChargingPeriods[1].Dimensions[0].Volume = d("10.0012345678901") // 13 decimals
	billed := sampleCDR("BILLED")
	billed.TotalCost.ExclVAT = d("12.2800000000001")
	billed.TotalEnergy = d("1234567890123.5") // 13 integer digits
	emb := sampleCDR("EMB")
	emb.Tariffs[0].Elements[0].PriceComponents[1].Price = d("0.2916666666667")
	pub := sampleTariff("PUB", t0)
	pub.Elements[0].PriceComponents[1].Price = d("0.2916666666667")
	out := save(t, s, recvCDR(vol, "v", 0), recvCDR(billed, "b", 1), recvCDR(emb, "e", 2), recvTariff(pub, "p", 3))
	want := []ocpi.Outcome{ocpi.OutcomeAccepted, ocpi.OutcomeAccepted, ocpi.OutcomeAccepted, ocpi.OutcomeRejected}
	if !cmp.Equal(out, want) {
		t.Fatalf("outcomes %v, want %v", out, want)
	}
	q := func(query string) string {
		t.Helper()
		var v string
		if err := s.DB().QueryRow(query).Scan(&v); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return v
	}
	if got := q(`SELECT coalesce(volume::VARCHAR, 'NULL') || ' ' || coalesce(p.energy::VARCHAR, 'NULL') || ' ' || c.blocking
		FROM cdr_dimensions d JOIN cdrs c USING (cdr_key) JOIN charging_periods p USING (cdr_key, period_index)
		WHERE c.id = 'VOL' AND period_index = 1 AND dimension_index = 0`); got != "NULL NULL true" {
		t.Errorf("volume, pivoted energy, blocking = %s, want NULL NULL true", got)
	}
	if got := q(`SELECT coalesce(total_cost_excl_vat::VARCHAR, 'NULL') || ' ' || total_cost_incl_vat || ' ' ||
		coalesce(total_energy::VARCHAR, 'NULL') || ' ' || blocking FROM cdrs WHERE id = 'BILLED'`); got != "NULL 14.860000 NULL false" {
		t.Errorf("billed CDR stored as %s", got)
	}
	if got := q(`SELECT (SELECT count(*) FROM cdr_tariffs JOIN cdrs USING (cdr_key) WHERE id = 'EMB') || ' ' ||
		(SELECT blocking FROM cdrs WHERE id = 'EMB')`); got != "0 true" {
		t.Errorf("embedded tariff rows: %s, want none", got)
	}
	if got := q(`SELECT string_agg(id || ' ' || path || ' ' || rule || ' ' || blocking, '; ' ORDER BY id, path) FROM findings
		WHERE message LIKE '%holds NULL%'`); got != "BILLED total_cost.excl_vat precision false; BILLED total_energy too_large false; "+
		"EMB tariffs[0].elements[0].price_components[1].price precision true; "+
		"VOL charging_periods[1].dimensions[0].volume precision true" {
		t.Errorf("findings: %s", got)
	}
	rej, err := s.Rejects(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rej) != 1 || rej[0].Problem.Rule != ocpi.RulePrecision ||
		rej[0].Problem.Path != "elements[0].price_components[1].price" {
		t.Fatalf("rejects: %+v", rej)
	}
}

func TestCDRDuplicatesAndConflicts(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	original := sampleCDR("CDR1")
	if got := save(t, s, recvCDR(original, "first", 0)); got[0] != ocpi.OutcomeAccepted {
		t.Fatalf("first: %s", got[0])
	}
	before := counts(t, s)

	// Same content, other bytes (another channel, other whitespace), other
	// spelling of trailing zeros: a duplicate.
	same := sampleCDR("CDR1")
	same.TotalCost.ExclVAT = d("12.2800")
	changed := sampleCDR("CDR1")
	changed.TotalCost.ExclVAT = d("12.29")
	got := save(t, s, recvCDR(same, "second", 1), recvCDR(changed, "third", 2))
	if want := []ocpi.Outcome{ocpi.OutcomeDuplicate, ocpi.OutcomeConflict}; !cmp.Equal(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	after := counts(t, s)
	if after.CDRs != before.CDRs || after.Periods != before.Periods || after.Dimensions != before.Dimensions {
		t.Errorf("a duplicate or conflict changed the CDR tables: %+v -> %+v", before, after)
	}
	if after.Receipts != before.Receipts+2 || after.RawPayloads != before.RawPayloads+2 || after.Conflicts != 1 {
		t.Errorf("receipts %d raw %d conflicts %d", after.Receipts, after.RawPayloads, after.Conflicts)
	}
	stored, _, err := s.CDR(ctx, "nl", "abc", "cdr1")
	if err != nil {
		t.Fatal(err)
	}
	if !stored.TotalCost.ExclVAT.Equal(d("12.28")) {
		t.Errorf("conflict overwrote the CDR: total %s", stored.TotalCost.ExclVAT)
	}
	var kind, id string
	var storedSHA, refusedSHA []byte
	if err := s.db.QueryRow(`SELECT kind, id, stored_sha256, refused_sha256 FROM conflicts`).Scan(&kind, &id, &storedSHA, &refusedSHA); err != nil {
		t.Fatal(err)
	}
	c := canon{}
	if kind != "cdr" || id != "CDR1" || [32]byte(storedSHA) != canonicalHash(&c, &ocpi.Received{CDR: original}) ||
		[32]byte(refusedSHA) != canonicalHash(&c, &ocpi.Received{CDR: changed}) {
		t.Errorf("conflict row %s %s %x %x", kind, id, storedSHA, refusedSHA)
	}
}

func TestDuplicatesAndConflictsWithinOneBatch(t *testing.T) {
	s := openMem(t)
	a := sampleCDR("A")
	a2 := sampleCDR("a") // same identity, other case, another session_id: a different body
	b := sampleCDR("B")
	bModified := sampleCDR("B")
	bModified.Remark = "other"
	sameBytes := recvCDR(b, "b", 3)
	got := save(t, s,
		recvCDR(a, "a", 0), recvCDR(b, "b", 1), recvCDR(sampleCDR("A"), "a-again", 2), sameBytes,
		recvCDR(bModified, "b-mod", 4), recvCDR(a2, "a-lower", 5))
	want := []ocpi.Outcome{ocpi.OutcomeAccepted, ocpi.OutcomeAccepted, ocpi.OutcomeDuplicate,
		ocpi.OutcomeDuplicate, ocpi.OutcomeConflict, ocpi.OutcomeConflict}
	if !cmp.Equal(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	c := counts(t, s)
	if c.CDRs != 2 || c.Periods != 6 || c.Dimensions != 18 || c.Conflicts != 2 || c.Receipts != 6 || c.RawPayloads != 5 {
		t.Errorf("counts %+v", c)
	}
}

func TestRejectsKeepRawPayloadAndProblems(t *testing.T) {
	s := openMem(t)
	raw := `{"id": "X", "total_cost": "twelve"`
	got := save(t, s,
		recvRejected(raw, 7,
			ocpi.Problem{Rule: ocpi.RuleSyntax, Message: "unexpected end of JSON input", Blocking: true},
			ocpi.Problem{Path: "country_code", Rule: ocpi.RuleOwner, Message: "missing", Blocking: true}),
		recvRejected(`[]`, 8))
	if got[0] != ocpi.OutcomeRejected || got[1] != ocpi.OutcomeRejected {
		t.Fatalf("outcomes %v", got)
	}
	rej, err := s.Rejects(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rej) != 3 {
		t.Fatalf("%d rejects, want 3: %+v", len(rej), rej)
	}
	byPath := map[string]Reject{}
	for _, r := range rej {
		byPath[r.Source.Name+"#"+string(rune('0'+r.Source.Position))+r.Problem.Path] = r
	}
	owner := byPath["cdrs.ndjson#7country_code"]
	if owner.Problem.Rule != ocpi.RuleOwner || string(owner.Raw) != raw || owner.Source.Partner != "NL*ABC" {
		t.Errorf("owner reject: %+v", owner)
	}
	if none := byPath["cdrs.ndjson#8"]; none.Problem.Rule != ocpi.RuleKind || string(none.Raw) != "[]" {
		t.Errorf("reject without problems: %+v", none)
	}
	c := counts(t, s)
	if c.RejectsByRule[ocpi.RuleSyntax] != 1 || c.RejectsByRule[ocpi.RuleOwner] != 1 || c.CDRs != 0 || c.RawPayloads != 2 {
		t.Errorf("counts %+v", c)
	}
}

func TestFindingsOfStoredObjects(t *testing.T) {
	s := openMem(t)
	r := recvCDR(sampleCDR("F1"), "f", 0)
	r.Problems = ocpi.Problems{
		{Path: "cdr_location.address", Rule: ocpi.RuleRequired, Message: "missing"},
		{Path: "charging_periods[0].dimensions[0].volume", Rule: ocpi.RuleNegative, Message: "negative", Blocking: true},
	}
	if got := save(t, s, r); got[0] != ocpi.OutcomeAccepted {
		t.Fatalf("outcome %s", got[0])
	}
	c := counts(t, s)
	if c.FindingsByRule[ocpi.RuleRequired] != 1 || c.FindingsByRule[ocpi.RuleNegative] != 1 {
		t.Errorf("findings %v", c.FindingsByRule)
	}
	var blocking bool
	if err := s.db.QueryRow(`SELECT blocking FROM cdrs WHERE id = 'F1'`).Scan(&blocking); err != nil || !blocking {
		t.Errorf("cdr blocking = %v, %v", blocking, err)
	}
}

func TestCDRRoundTrip(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	want := sampleCDR("Rt-1")
	want.Location.TimeZone = "Europe/Brussels"
	want.Location.TariffIDs = []string{"12", "13"}
	want.TotalCost = &ocpi.Price{ExclVAT: d("4.00"), InclVAT: nd("4.40"),
		Taxes: []ocpi.TaxAmount{{Name: "VAT", Percentage: nd("10"), Amount: d("0.40")}}}
	want.Credit, want.CreditReferenceID = true, "RT-0"
	r := recvCDR(want, "rt", 0)
	save(t, s, r)
	got, raw, err := s.CDR(ctx, "NL", "abc", "RT-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, decimalEqual); diff != "" {
		t.Errorf("CDR round trip (-want +got):\n%s", diff)
	}
	if string(raw) != string(r.Raw) {
		t.Errorf("raw %q, want %q", raw, r.Raw)
	}
	_, _, err = s.CDR(ctx, "NL", "ABC", "nope")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing CDR: %v", err)
	}
	if e := (*Error)(nil); !errors.As(err, &e) || e.Op != "cdr" || e.Object != "NL-ABC*NOPE" {
		t.Errorf("error %#v", err)
	}
}

func TestTariffVersionsAreAppendOnly(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	v1 := sampleTariff("T1", t0)
	v2 := sampleTariff("T1", t0.Add(time.Hour))
	v2.Elements[0].PriceComponents[1].Price = d("0.30")
	v1Changed := sampleTariff("T1", t0)
	v1Changed.Elements[0].PriceComponents[1].Price = d("0.99")
	got := save(t, s, recvTariff(v1, "v1", 0), recvTariff(v2, "v2", 1))
	got = append(got, save(t, s, recvTariff(sampleTariff("T1", t0), "v1-again", 2), recvTariff(v1Changed, "v1-changed", 3))...)
	want := []ocpi.Outcome{ocpi.OutcomeAccepted, ocpi.OutcomeAccepted, ocpi.OutcomeDuplicate, ocpi.OutcomeConflict}
	if !cmp.Equal(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	if err := s.WithdrawTariff(ctx, "nl", "abc", "t1", t0.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	versions, err := s.TariffVersions(ctx, "nl", "ABC", "t1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ocpi.Tariff{*v1, *v2}, versions, decimalEqual); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	at, withdrawn, err := s.TariffWithdrawnAt(ctx, "NL", "ABC", "T1")
	if err != nil || !withdrawn || !at.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("withdrawn %v at %v: %v", withdrawn, at, err)
	}
	if _, err := s.TariffVersions(ctx, "NL", "ABC", "T2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown tariff: %v", err)
	}
}

func TestEmbeddedTariffsStoredOnce(t *testing.T) {
	s := openMem(t)
	var batch []ocpi.Received
	for i := range 5 {
		batch = append(batch, recvCDR(sampleCDR(string(rune('A'+i))), "x", int64(i)))
	}
	save(t, s, batch...)
	// The published version of the same tariff shares the body too.
	save(t, s, recvTariff(&sampleCDR("Z").Tariffs[0], "pub", 9))
	var bodies, links int
	if err := s.db.QueryRow(`SELECT (SELECT count(*) FROM tariff_bodies), (SELECT count(*) FROM cdr_tariffs)`).Scan(&bodies, &links); err != nil {
		t.Fatal(err)
	}
	if bodies != 1 || links != 5 {
		t.Errorf("%d tariff bodies, %d links; want 1, 5", bodies, links)
	}
}

func TestLocationAt(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	v1 := sampleLocation("L1", "Europe/Brussels", t0, "12")
	v2 := sampleLocation("L1", "Europe/Amsterdam", t0.Add(24*time.Hour), "13", "14")
	got := save(t, s, recvLocation(v2, "v2", 0), recvLocation(v1, "v1", 1), recvLocation(sampleLocation("L1", "Europe/Brussels", t0, "12"), "v1b", 2))
	if want := []ocpi.Outcome{ocpi.OutcomeAccepted, ocpi.OutcomeAccepted, ocpi.OutcomeDuplicate}; !cmp.Equal(got, want) {
		t.Fatalf("outcomes %v", got)
	}
	for _, tc := range []struct {
		at   time.Time
		want *ocpi.Location
	}{
		{t0.Add(time.Hour), v1},
		{t0, v1},
		{t0.Add(25 * time.Hour), v2},
		{t0.Add(-time.Hour), v1}, // older than every version: the oldest
	} {
		l, err := s.LocationAt(ctx, "nl", "abc", "l1", tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, l, decimalEqual); diff != "" {
			t.Errorf("at %v (-want +got):\n%s", tc.at, diff)
		}
	}
	if _, err := s.LocationAt(ctx, "NL", "ABC", "L2", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown location: %v", err)
	}
}

func TestFailedBatchLeavesNothing(t *testing.T) {
	s := openMem(t)
	save(t, s, recvCDR(sampleCDR("KEEP"), "k", 0))
	before := counts(t, s)
	batch := []ocpi.Received{
		recvCDR(sampleCDR("LOST"), "l", 1),
		recvTariff(sampleTariff("T9", t0), "t", 2),
		recvRejected("garbage", 3, ocpi.Problem{Rule: ocpi.RuleSyntax}),
	}
	testHookBeforeCommit = func() error { return errors.New("disk on fire") }
	_, err := s.Save(context.Background(), batch)
	testHookBeforeCommit = nil
	if err == nil {
		t.Fatal("Save succeeded through a failing commit")
	}
	if after := counts(t, s); !cmp.Equal(before, after) {
		t.Fatalf("failed batch left rows: %+v -> %+v", before, after)
	}
	// The in-memory indexes forgot the batch as well: it is new again.
	got := save(t, s, batch...)
	if want := []ocpi.Outcome{ocpi.OutcomeAccepted, ocpi.OutcomeAccepted, ocpi.OutcomeRejected}; !cmp.Equal(got, want) {
		t.Fatalf("retry outcomes %v, want %v", got, want)
	}
	var key int64
	if err := s.db.QueryRow(`SELECT cdr_key FROM cdrs WHERE id = 'LOST'`).Scan(&key); err != nil || key != 2 {
		t.Errorf("retried CDR key %d (%v), want 2: keys are not burnt by a failed batch", key, err)
	}
}

func TestMismatchedSHA256IsAnError(t *testing.T) {
	s := openMem(t)
	r := recvCDR(sampleCDR("S"), "s", 0)
	r.SHA256[0] ^= 1
	if _, err := s.Save(context.Background(), []ocpi.Received{r}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err %v, want ErrInvalid", err)
	}
}

func TestReopenFileFindsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roam.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	batch := []ocpi.Received{
		recvCDR(sampleCDR("R1"), "r1", 0),
		recvCDR(sampleCDR("R2"), "r2", 1),
		recvTariff(sampleTariff("T1", t0), "t", 2),
		recvLocation(sampleLocation("L1", "Europe/Brussels", t0, "12"), "l", 3),
		{Source: ocpi.Source{Channel: ocpi.ChannelPush}, Raw: []byte(`{"id":"IRR1"}`), Kind: ocpi.KindInvoice,
			Invoice: &ocpi.InvoiceReconciliationRecord{Version: ocpi.V230, CountryCode: "NL", PartyID: "ABC", ID: "IRR1",
				InvoiceID: "INV-1", CDRs: []string{"R1", "R2"}, LastUpdated: t0}},
		recvRejected("nope", 5, ocpi.Problem{Rule: ocpi.RuleSyntax}),
	}
	save(t, s, batch...)
	before := counts(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if after := counts(t, s); !cmp.Equal(before, after) {
		t.Fatalf("counts changed over reopen: %+v -> %+v", before, after)
	}
	if c, _, err := s.CDR(ctx, "NL", "ABC", "R2"); err != nil || c.ID != "R2" {
		t.Fatalf("CDR after reopen: %v", err)
	}
	// The indexes are rebuilt from the file: everything is a duplicate now,
	// and a new CDR gets the next key.
	got := save(t, s, append(batch, recvCDR(sampleCDR("R3"), "r3", 6))...)
	want := []ocpi.Outcome{ocpi.OutcomeDuplicate, ocpi.OutcomeDuplicate, ocpi.OutcomeDuplicate,
		ocpi.OutcomeDuplicate, ocpi.OutcomeDuplicate, ocpi.OutcomeRejected, ocpi.OutcomeAccepted}
	if !cmp.Equal(got, want) {
		t.Fatalf("outcomes after reopen %v, want %v", got, want)
	}
	var key int64
	if err := s.db.QueryRow(`SELECT cdr_key FROM cdrs WHERE id = 'R3'`).Scan(&key); err != nil || key != 3 {
		t.Errorf("R3 key %d (%v), want 3", key, err)
	}
}

func TestSetThreads(t *testing.T) {
	s := openMem(t)
	if err := s.SetThreads(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.QueryRow(`SELECT current_setting('threads')`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("threads = %d, %v", n, err)
	}
	var threshold string
	if err := s.db.QueryRow(`SELECT current_setting('checkpoint_threshold')`).Scan(&threshold); err != nil || threshold != "953.6 MiB" { // '1GB'

		t.Fatalf("checkpoint_threshold = %q, %v", threshold, err)
	}
}
