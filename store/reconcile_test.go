package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/settle"
)

// The reconcile read path returns whole CDRs of the owner's period, their
// decoder findings, duplicates (the same bytes from another place, not the
// same file again), conflicts and the CDRs credits reference.
func TestReconcileInput(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "r.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b := sampleCDR("A1"), sampleCDR("B2")
	b.Token.ContractID = ""
	credit := sampleCDR("A1-C")
	credit.Credit, credit.CreditReferenceID = true, "a1"
	credit.TotalCost = &ocpi.Price{ExclVAT: d("-12.28"), InclVAT: nd("-14.86")}
	other := sampleCDR("Z9")
	other.EndDateTime = t0.Add(40 * 24 * time.Hour) // November
	conflicting := sampleCDR("B2")
	conflicting.TotalCost = &ocpi.Price{ExclVAT: d("99")}
	ra := recvCDR(a, "a", 0)
	again := ra
	again.Source.Name, again.Source.Position = "push", 7 // the partner sent it again
	same := ra
	rb := recvCDR(b, "b", 1)
	rb.Problems = ocpi.ValidateCDR(b)
	save(t, s, ra, rb, recvCDR(credit, "c", 2), recvCDR(other, "z", 3), recvTariff(sampleTariff("12", t0.Add(-24*time.Hour)), "t", 4),
		recvLocation(sampleLocation("LOC1", "Europe/Brussels", t0.Add(-48*time.Hour), "12"), "l", 5))
	save(t, s, again, same, recvCDR(conflicting, "b2", 6))

	scope := settle.Scope{Period: settle.Month(2025, 10), Partner: settle.NewParty("NL", "ABC")}
	sel := scope.Selection(nil)
	in, err := s.ReconcileInput(ctx, &sel)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range in.CDRs {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, ",") != "A1,B2,A1-C" {
		t.Fatalf("period CDRs %v", ids)
	}
	c := in.CDRs[0]
	if c.Location.Address != "F.Rooseveltlaan 3A" || c.Token.UID != "012345678" || len(c.ChargingPeriods) != 3 || len(c.Tariffs) != 1 ||
		c.TotalParkingCost == nil || c.TotalParkingCost.InclVAT.Valid {
		t.Errorf("whole CDR: %+v", c)
	}
	if ps := in.Problems["NL-ABC/B2"]; !ps.Has(ocpi.RuleRequired) {
		t.Errorf("B2's findings %v", ps)
	}
	// Ingest marks the receipts of bytes received before: A1's second and
	// third (the third from the same place as the first).
	var repeated string
	if err := s.db.QueryRowContext(ctx, `SELECT string_agg(position || ':' || repeated, ' ' ORDER BY rowid) FROM receipts`).Scan(&repeated); err != nil {
		t.Fatal(err)
	}
	if want := "0:false 1:false 2:false 3:false 4:false 5:false 7:true 0:true 6:false"; repeated != want {
		t.Errorf("receipts' position:repeated %s, want %s", repeated, want)
	}
	dup, conf := in.Stored.Received("NL", "ABC", "A1")
	if dup != 1 || conf != 0 {
		t.Errorf("A1: %d duplicates, %d conflicts", dup, conf)
	}
	if _, conf := in.Stored.Received("nl", "abc", "b2"); conf != 1 {
		t.Errorf("B2: %d conflicts", conf)
	}
	if o, ok := in.Stored.Credited("NL", "ABC", "A1"); !ok || o.ID != "A1" {
		t.Error("credited CDR not found")
	}
	if len(in.Versions["12"]) != 1 || in.ConnectorTariffs(c)[0] != "12" {
		t.Errorf("versions %v, connector tariffs %v", in.Versions, in.ConnectorTariffs(c))
	}
	if z, ok := in.Zones.ResolveZone(c); !ok || z.Name != "Europe/Brussels" {
		t.Errorf("zone %+v", z)
	}
	// Several owners at once: the same counts, by owner; an owner with
	// nothing received again has empty maps.
	owners := []settle.Party{settle.NewParty("nl", "abc"), settle.NewParty("DE", "XYZ")}
	dups, confs, err := s.ReceivedAgainOf(ctx, owners)
	if err != nil {
		t.Fatal(err)
	}
	if abc := owners[0]; dups[abc]["NL-ABC/A1"] != 1 || len(dups[abc]) != 1 || confs[abc]["NL-ABC/B2"] != 1 || len(confs[abc]) != 1 ||
		dups[owners[1]] == nil || len(dups[owners[1]]) != 0 || confs[owners[1]] == nil || len(confs[owners[1]]) != 0 {
		t.Errorf("by owner: duplicates %v, conflicts %v", dups, confs)
	}
	credited, err := s.CreditedCDRs(ctx, "nl", "abc", []string{"a1", "nope"})
	if err != nil || len(credited) != 1 || reconcile.IdentityKey(credited[0].CountryCode, credited[0].PartyID, credited[0].ID) != "NL-ABC/A1" ||
		credited[0].TotalCost == nil ||
		credited[0].TotalCost.ExclVAT.String() != "12.28" || credited[0].TotalCost.InclVAT.Decimal.String() != "14.86" {
		t.Errorf("credited: %+v %v", credited, err)
	}
	named, _, err := s.CDRsByID(ctx, "NL", "ABC", []string{"z9", "nope"})
	if err != nil || len(named) != 1 || named[0].ID != "Z9" {
		t.Errorf("by id: %v %v", named, err)
	}

	// A run's writer holds one connection of the pool while whole CDRs
	// are loaded: the load queries only on the one it staged its keys on.
	keys, err := s.int64s(ctx, `SELECT cdr_key FROM cdrs ORDER BY cdr_key`)
	if err != nil {
		t.Fatal(err)
	}
	held, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	type loaded struct {
		cdrs  []*ocpi.CDR
		probs map[string]ocpi.Problems
		err   error
	}
	done := make(chan loaded, 1)
	go func() {
		cdrs, probs, err := s.WholeCDRs(ctx, append(keys, keys[0], 1<<40)) // a key twice, one unknown
		done <- loaded{cdrs, probs, err}
	}()
	select {
	case l := <-done:
		if l.err != nil || len(l.cdrs) != len(keys)+1 || l.cdrs[0].ID != "A1" || len(l.cdrs[0].Tariffs) != 1 ||
			len(l.cdrs[0].ChargingPeriods) != 3 || !l.probs["NL-ABC/B2"].Has(ocpi.RuleRequired) {
			t.Errorf("whole CDRs with a connection held: %d CDRs, %v, %v", len(l.cdrs), l.probs, l.err)
		}
	case <-time.After(time.Minute):
		t.Fatal("WholeCDRs waits for a second connection")
	}
}

// A dispute still raised is refreshed by a run that finds it again, column
// by column: each one the run sets, changed alone, is stored (a run that
// finds it unchanged leaves the row as it is).
func TestRaisedDisputeRefreshedByColumn(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	at := time.Date(2025, 11, 2, 3, 0, 0, 0, time.UTC)
	base := func() *reconcile.Dispute {
		return &reconcile.Dispute{CountryCode: "NL", PartyID: "ABC", CDRID: "A1", Period: "2025-10", Currency: "EUR", MinorUnits: 2,
			Verdict: reconcile.VerdictMismatch, Reasons: []reconcile.Reason{reconcile.ReasonPrice},
			Codes:      []reconcile.Code{reconcile.CodeUnknownToken},
			Billed:     reconcile.Amount{Excl: 12_280_000, Incl: 14_860_000, HasExcl: true, HasIncl: true},
			Recomputed: reconcile.Amount{Excl: 12_000_000, Incl: 14_520_000, HasExcl: true, HasIncl: true},
			InDispute:  reconcile.Amount{Excl: 280_000, Incl: 340_000, HasExcl: true, HasIncl: true}, Evidence: "v1",
			Events: []reconcile.DisputeEvent{{Seq: 1, State: reconcile.DisputeRaised, At: at, By: "reconcile 2025-10"}}}
	}
	changes := []struct {
		column string
		change func(d *reconcile.Dispute)
	}{
		{"none", func(*reconcile.Dispute) {}},
		{"period", func(d *reconcile.Dispute) { d.Period = "2025-11" }},
		{"currency", func(d *reconcile.Dispute) { d.Currency = "CHF" }},
		{"verdict", func(d *reconcile.Dispute) { d.Verdict = reconcile.VerdictNotVerifiable }},
		{"reasons", func(d *reconcile.Dispute) { d.Reasons = []reconcile.Reason{reconcile.ReasonTax} }},
		{"codes", func(d *reconcile.Dispute) { d.Codes = []reconcile.Code{reconcile.CodeDuplicate} }},
		{"billed_excl", func(d *reconcile.Dispute) { d.Billed.Excl++ }},
		{"billed_incl", func(d *reconcile.Dispute) { d.Billed.Incl++ }},
		{"recomputed_excl", func(d *reconcile.Dispute) { d.Recomputed.Excl++ }},
		{"recomputed_incl", func(d *reconcile.Dispute) { d.Recomputed.Incl++ }},
		{"in_dispute_excl", func(d *reconcile.Dispute) { d.InDispute.Excl++ }},
		{"in_dispute_incl", func(d *reconcile.Dispute) { d.InDispute.Incl++ }},
		{"evidence", func(d *reconcile.Dispute) { d.Evidence = "v2" }},
	}
	// A dispute in the columns a refresh sets.
	columns := func(d *reconcile.Dispute) string {
		return fmt.Sprint(d.Period, d.Currency, d.Verdict, d.Reasons, d.Codes, d.Billed, d.Recomputed, d.InDispute, d.Evidence)
	}
	run := func(n int, d *reconcile.Dispute) {
		t.Helper()
		rep := &reconcile.Report{Period: "2025-10", Partner: "NL-ABC", Disputes: []*reconcile.Dispute{d}}
		if _, _, err := s.SaveReconcile(ctx, "reconcile:2025-10/NL-ABC", rep, []byte("{}"), at.Add(time.Duration(n)*time.Minute)); err != nil {
			t.Fatal(err)
		}
		ds, err := s.Disputes(ctx, DisputeFilter{CountryCode: "NL", PartyID: "ABC"})
		if err != nil || len(ds) != 1 || ds[0].State() != reconcile.DisputeRaised {
			t.Fatalf("%d disputes: %v", len(ds), err)
		}
		if got, want := columns(ds[0]), columns(d); got != want {
			t.Errorf("run %d: stored %s, want %s", n, got, want)
		}
	}
	for i, c := range changes {
		d := base()
		c.change(d)
		run(2*i, d)        // the column changed alone
		run(2*i+1, base()) // and back
	}
}

// Disputes: raised once per CDR, refreshed while raised, withdrawn when a
// run finds nothing, raised again, moved along the lifecycle with every
// change appended, revised when a credit CDR arrives.
func TestDisputeStore(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "d.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2025, 11, 2, 3, 0, 0, 0, time.UTC)
	dispute := func(id, evidence string) *reconcile.Dispute {
		return &reconcile.Dispute{CountryCode: "NL", PartyID: "ABC", CDRID: id, Period: "2025-10", Currency: "EUR", MinorUnits: 2,
			Verdict: reconcile.VerdictMismatch, Reasons: []reconcile.Reason{reconcile.ReasonPrice},
			Billed:    reconcile.Amount{Excl: 12_280_000, Incl: 14_860_000, HasExcl: true, HasIncl: true},
			InDispute: reconcile.Amount{Excl: 280_000, HasExcl: true}, Evidence: evidence,
			Events: []reconcile.DisputeEvent{{Seq: 1, State: reconcile.DisputeRaised, At: at, By: "reconcile 2025-10"}}}
	}
	rep := &reconcile.Report{Period: "2025-10", Partner: "NL-ABC", Disputes: []*reconcile.Dispute{dispute("A1", "v1"), dispute("B2", "v1")}}
	if n, _, err := s.SaveReconcile(ctx, "reconcile:2025-10/NL-ABC", rep, []byte("{}"), at); err != nil || n != 2 {
		t.Fatalf("raised %d: %v", n, err)
	}
	if _, err := s.MoveDispute(ctx, "NL", "ABC", "a1", reconcile.DisputeSent, "user", "mailed", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MoveDispute(ctx, "NL", "ABC", "A1", reconcile.DisputeRaised, "user", "", at); err == nil {
		t.Fatal("sent -> raised allowed")
	}
	// Again: A1 (sent) keeps its evidence; B2 is no longer found: withdrawn.
	rep.Disputes = []*reconcile.Dispute{dispute("A1", "v2")}
	if n, _, err := s.SaveReconcile(ctx, "reconcile:2025-10/NL-ABC", rep, []byte("{}"), at.Add(2*time.Hour)); err != nil || n != 0 {
		t.Fatalf("second run raised %d: %v", n, err)
	}
	ds, err := s.Disputes(ctx, DisputeFilter{CountryCode: "NL", PartyID: "ABC"})
	if err != nil || len(ds) != 2 {
		t.Fatalf("%d disputes: %v", len(ds), err)
	}
	if ds[0].State() != reconcile.DisputeSent || ds[0].Evidence != "v1" || ds[1].State() != reconcile.DisputeWithdrawn {
		t.Errorf("A1 %s %q, B2 %s", ds[0].State(), ds[0].Evidence, ds[1].State())
	}
	// B2 disputed again: raised again with the new evidence.
	rep.Disputes = []*reconcile.Dispute{dispute("A1", "v3"), dispute("B2", "v3")}
	if n, _, err := s.SaveReconcile(ctx, "reconcile:2025-10/NL-ABC", rep, []byte("{}"), at.Add(3*time.Hour)); err != nil || n != 1 {
		t.Fatalf("third run raised %d: %v", n, err)
	}
	// A credit CDR for A1 arrives: revised.
	credit := sampleCDR("A1-C")
	credit.Credit, credit.CreditReferenceID = true, "A1"
	save(t, s, recvCDR(credit, "c", 1))
	if _, n, err := s.SaveReconcile(ctx, "reconcile:2025-10/NL-ABC", rep, []byte("{}"), at.Add(4*time.Hour)); err != nil || n != 1 {
		t.Fatalf("revised %d: %v", n, err)
	}
	ds, _ = s.Disputes(ctx, DisputeFilter{CountryCode: "NL", PartyID: "ABC"})
	states := func(d *reconcile.Dispute) string {
		var s []string
		for _, e := range d.Events {
			s = append(s, string(e.State))
		}
		return strings.Join(s, ",")
	}
	if got := states(ds[0]); got != "raised,sent,revised" || ds[0].Events[2].CreditCDR != "A1-C" {
		t.Errorf("A1 events %s", got)
	}
	if got := states(ds[1]); got != "raised,withdrawn,raised" || ds[1].Evidence != "v3" || ds[1].InDispute.Excl != 280_000 {
		t.Errorf("B2 events %s, evidence %q", got, ds[1].Evidence)
	}
	if got, _ := s.Disputes(ctx, DisputeFilter{State: reconcile.DisputeRevised}); len(got) != 1 {
		t.Errorf("state filter: %d", len(got))
	}
}
